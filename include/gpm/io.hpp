// Run directories: JSON configurations and atomic checkpoint files.
#pragma once

#include "gpm/io/checkpoint.hpp"
#include "gpm/io/config.hpp"
