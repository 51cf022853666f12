// Generator dynamics for interacting particle models, NTK analysis tools, latent interpolations and
// latent optimisation.
#pragma once

#include "gpm/generators/free_particles.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/generators/latent_interpolation.hpp"
#include "gpm/generators/latent_optimisation.hpp"
#include "gpm/generators/ntk.hpp"
