// All particle-model steppers and the integration driver.
#pragma once

#include "gpm/integrators/annealed_langevin.hpp"
#include "gpm/integrators/consistent_annealed.hpp"
#include "gpm/integrators/edm_stochastic.hpp"
#include "gpm/integrators/euler.hpp"
#include "gpm/integrators/euler_maruyama.hpp"
#include "gpm/integrators/heun.hpp"
#include "gpm/integrators/integrate.hpp"
