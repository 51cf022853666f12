// The two hosts, ParticleModel and InteractingParticleModel, and the paper's models composed from them.
#pragma once

#include "gpm/models/discriminator_flow_model.hpp"
#include "gpm/models/discriminator_samplers.hpp"
#include "gpm/models/edm.hpp"
#include "gpm/models/f_divergence_flow.hpp"
#include "gpm/models/gan.hpp"
#include "gpm/models/image_discriminator_flow.hpp"
#include "gpm/models/image_edm.hpp"
#include "gpm/models/image_gan.hpp"
#include "gpm/models/image_score_gan.hpp"
#include "gpm/models/instance_noise_gan.hpp"
#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/models/particle_model.hpp"
#include "gpm/models/refinement.hpp"
#include "gpm/models/score_gan.hpp"
#include "gpm/models/smart_gan.hpp"
#include "gpm/models/top_k_gan.hpp"
