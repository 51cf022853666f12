// The Score GAN on images: the same composition as gpm::ScoreGan with the reference's DCGAN
// generator and a U-Net for the generated samples' denoiser D_φ, driven by a trained image EDM's
// denoiser. Particles are flat images [N, C·H·W].
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/flows/perturbed.hpp"
#include "gpm/flows/score_difference_flow.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/losses/noise_levels.hpp"
#include "gpm/models/image_edm.hpp"
#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/models/score_gan.hpp"
#include "gpm/nn/dcgan.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/unet.hpp"

namespace gpm {

/// The image Score GAN's options. The defaults are the reference's MNIST configuration (DCGAN
/// generator width 64 with batch norm, latent 128, Adam 2e-4; D_φ a U-Net with 64 channels and two
/// blocks per level at Adam 1e-3, one D_φ step per generator step; σ ∈ [0.32, 40] with ρ = 3).
struct ImageScoreGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, latent_dim, Range::at_least(1), "dimension of the generator's Gaussian latent") = 128;
  GPM_OPTION(nn::DcganGeneratorOptions, generator, Range::any(), "the generator (latent → image)") = {};
  GPM_OPTION(double, init_std, Range::above(0), "the generator's initial weights N(0, init_std²), zero biases") = 0.02;
  GPM_OPTION(AdamOptions, generator_optimizer, Range::any(), "the generator's Adam") = AdamOptions();
  GPM_OPTION(double, sigma_min, Range::above(0), "the smallest noise level of the flow and of D_φ's training") = 0.32;
  GPM_OPTION(double, sigma_max, Range::above(0), "the largest noise level of the flow and of D_φ's training") = 40.0;
  GPM_OPTION(double, rho, Range::above(0), "ρ of the noise levels' schedule law") = 3.0;
  GPM_OPTION(int64_t, score_steps, Range::at_least(1), "D_φ updates per generator update") = 1;
  GPM_OPTION(nn::UNetOptions, denoiser, Range::any(), "the U-Net of the generated-score denoiser D_φ") =
      nn::UNetOptions().model_channels(64).num_blocks(2);
  GPM_OPTION(nn::EdmPreconditioningOptions, denoiser_preconditioning, Range::any(),
             "D_φ's EDM preconditioning: σ_data and its noise range") = nn::EdmPreconditioningOptions().sigma_max(40.0);
  GPM_OPTION(AdamOptions, denoiser_optimizer, Range::any(), "D_φ's Adam") = AdamOptions().lr(1e-3);
  GPM_OPTION(bool, edm_weighting, Range::any(), "train D_φ with EDM's loss weight (σ² + σ_data²)/(σ σ_data)²") = false;
  GPM_OPTION(double, data_weight, Range::any(), "α of the field α ∇ log p_data − β ∇ log ρ") = 1.0;
  GPM_OPTION(double, generated_weight, Range::any(), "β of the field α ∇ log p_data − β ∇ log ρ") = 1.0;
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the generator's weight average used for sampling (0: the last iterate)") = 0.0;
  GPM_OPTIONS_END

  /// The reference's MNIST Score GAN.
  static ImageScoreGanOptions reference() { return ImageScoreGanOptions(); }

  /// Placement, not part of a config.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Image Score GAN = Int-PM(DCGAN generator, Perturbed(ScoreDifferenceFlow(D_data, D_φ U-Net), ScheduleSigma)).
template <Denoiser DataDenoiser = nn::EdmUNetDenoiser>
using ImageScoreGan =
    InteractingParticleModel<Generator<nn::DcganGenerator, torch::optim::Adam>,
                             Perturbed<ScoreDifferenceFlow<DataDenoiser, nn::EdmUNetDenoiser>, ScheduleSigma>>;

/// A Score GAN for images of shape `image`, driven by the (frozen) data denoiser `data`, e.g. a
/// trained image EDM's `copy_sampling_denoiser(edm, image, edm_options)`.
template <Denoiser DataDenoiser>
ImageScoreGan<DataDenoiser> make_image_score_gan(ImageShape image, DataDenoiser data, const ImageScoreGanOptions& o = {}) {
  const ScopedGlobalSeed seed(o.seed());
  nn::DcganGenerator generator(nn::DcganGeneratorOptions(o.generator()).latent(o.latent_dim()).image(image).seed(o.seed()));
  nn::init_normal(*generator, o.init_std());
  return assemble_score_gan(
      generator, std::move(data),
      make_edm_unet_denoiser(image, o.denoiser(), o.denoiser_preconditioning(), o.seed() + 1, o.device()), o);
}

}  // namespace gpm
