// Neural-network building blocks: MLPs, scalar embeddings, time-conditioned MLPs, the image U-Net,
// EDM preconditioning and weight initialisation (namespace gpm::nn).
#pragma once

#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/embeddings.hpp"
#include "gpm/nn/fourier_features.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/mlp.hpp"
#include "gpm/nn/time_mlp.hpp"
#include "gpm/nn/unet.hpp"
