// All flow functionals: the vector fields particles follow.
#pragma once

#include "gpm/flows/gaussian_targets.hpp"
#include "gpm/flows/kernels.hpp"
#include "gpm/flows/kl_flow.hpp"
#include "gpm/flows/mmd_flow.hpp"
#include "gpm/flows/potential_flow.hpp"
#include "gpm/flows/score_flow.hpp"
#include "gpm/flows/stein_flow.hpp"
