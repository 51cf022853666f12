// All flow functionals: the vector fields particles follow, their estimators and combinators.
#pragma once

#include "gpm/flows/borrowed_flow.hpp"
#include "gpm/flows/combinators.hpp"
#include "gpm/flows/denoiser_trainer.hpp"
#include "gpm/flows/denoising_score_flow.hpp"
#include "gpm/flows/discriminator_flow.hpp"
#include "gpm/flows/gaussian_targets.hpp"
#include "gpm/flows/instance_noise.hpp"
#include "gpm/flows/kl_flow.hpp"
#include "gpm/flows/mmd_flow.hpp"
#include "gpm/flows/perturbed.hpp"
#include "gpm/flows/potential_flow.hpp"
#include "gpm/flows/score_difference_flow.hpp"
#include "gpm/flows/score_flow.hpp"
#include "gpm/flows/score_matching_regularity.hpp"
#include "gpm/flows/stein_flow.hpp"
#include "gpm/flows/top_k.hpp"
