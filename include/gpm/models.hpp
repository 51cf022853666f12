// The two hosts, ParticleModel and InteractingParticleModel, and the named compositions.
#pragma once

#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/models/particle_model.hpp"
