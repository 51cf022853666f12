// Neural-network building blocks: MLPs, scalar embeddings, time-conditioned MLPs, EDM
// preconditioning, weight initialisation and the LeNet classifier of the image metrics
// (namespace gpm::nn).
#pragma once

#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/embeddings.hpp"
#include "gpm/nn/fourier_features.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/lenet.hpp"
#include "gpm/nn/mlp.hpp"
#include "gpm/nn/time_mlp.hpp"
