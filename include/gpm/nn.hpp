// Neural-network building blocks: MLPs and their Linear layer, scalar embeddings, time-conditioned MLPs, EDM
// preconditioning, weight initialisation, image networks (DCGAN, ResNet, the U-Net, with spectral
// normalisation and FiLM time conditioning) and the LeNet classifier of the image metrics (namespace gpm::nn).
#pragma once

#include "gpm/nn/activation.hpp"
#include "gpm/nn/batch_norm.hpp"
#include "gpm/nn/conv_block.hpp"
#include "gpm/nn/conv_transpose.hpp"
#include "gpm/nn/dcgan.hpp"
#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/embeddings.hpp"
#include "gpm/nn/film.hpp"
#include "gpm/nn/fourier_features.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/lenet.hpp"
#include "gpm/nn/linear.hpp"
#include "gpm/nn/mlp.hpp"
#include "gpm/nn/resnet.hpp"
#include "gpm/nn/self_attention.hpp"
#include "gpm/nn/spectral_norm.hpp"
#include "gpm/nn/time_conditioned.hpp"
#include "gpm/nn/time_mlp.hpp"
#include "gpm/nn/unet.hpp"
