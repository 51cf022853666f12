// Training objectives: GAN losses, gradient penalties, noise-level laws and denoising score
// matching (namespace gpm).
#pragma once

#include "gpm/losses/denoising.hpp"
#include "gpm/losses/f_divergence.hpp"
#include "gpm/losses/gan_losses.hpp"
#include "gpm/losses/gradient_penalty.hpp"
#include "gpm/losses/noise_levels.hpp"
