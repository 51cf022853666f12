// Generator dynamics for interacting particle models, and NTK analysis tools.
#pragma once

#include "gpm/generators/free_particles.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/generators/ntk.hpp"
