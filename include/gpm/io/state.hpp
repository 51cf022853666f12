// Checkpointable state, under the names gpm::io has always given it: the archive helpers
// (gpm/core/archive.hpp) and the gpm::Checkpointable concept (gpm/core/capabilities.hpp). Both
// live in core, which the library's components use, so that io depends on core and never the reverse.
#pragma once

#include "gpm/core/archive.hpp"
#include "gpm/core/capabilities.hpp"

namespace gpm::io {

using gpm::read_counter;
using gpm::read_generator;
using gpm::read_module;
using gpm::read_nested;
using gpm::write_counter;
using gpm::write_generator;
using gpm::write_module;
using gpm::write_nested;

}  // namespace gpm::io
