// EDM on images: the same composition as gpm::Edm around the reference's DDPM++ U-Net. Particles
// are flat images [N, C·H·W].
#pragma once

#include <torch/arg.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/models/edm.hpp"
#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/unet.hpp"

namespace gpm {

/// The image EDM's options: its U-Net and the fields of EdmOptions. The defaults are the reference's
/// MNIST configuration (U-Net channels 16, multipliers [1, 2, 2], one block per level, dropout 0.13,
/// σ ∈ [0.002, 40], Adam 2e-4, Heun on 32 steps of the Karras grid with ρ = 7).
struct ImageEdmOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(nn::UNetOptions, network, Range::any(), "the denoiser's U-Net F(c_in x, c_noise), c_noise = ln σ / 4") = {};
  GPM_OPTION(nn::EdmPreconditioningOptions, preconditioning, Range::any(),
             "σ_data and the noise range [σ_min, σ_max] of the denoiser; the sampler starts at σ_max") =
      nn::EdmPreconditioningOptions().sigma_max(40.0);
  GPM_OPTION(double, p_mean, Range::any(), "training noise levels: ln σ ~ N(p_mean, p_std²)") = -1.2;
  GPM_OPTION(double, p_std, Range::above(0), "training noise levels: ln σ ~ N(p_mean, p_std²)") = 1.2;
  GPM_OPTION(AdamOptions, optimizer, Range::any(), "the denoiser's Adam") = AdamOptions();
  GPM_OPTION(int64_t, sampling_steps, Range::at_least(1), "N, the steps of the Karras grid the sampler takes") = 32;
  GPM_OPTION(double, rho, Range::above(0), "ρ, the exponent of the Karras grid") = 7.0;
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the denoiser's weight average used for sampling (0: the last iterate)") = 0.0;
  GPM_OPTIONS_END

  /// The reference's MNIST EDM.
  static ImageEdmOptions reference() { return ImageEdmOptions(); }

  /// Placement, not part of a config.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Image EDM = PM(DenoisingScoreFlow(preconditioned U-Net), Heun, Karras grid, N(0, σ_max² I)).
template <Integrator I = Heun>
using ImageEdm = EdmWith<nn::EdmUNetDenoiser, I>;

/// The denoiser of an image EDM made with options `o` for images of shape `image`.
inline nn::EdmUNetDenoiser make_edm_unet_denoiser(ImageShape image, const ImageEdmOptions& o) {
  return make_edm_unet_denoiser(image, o.network(), o.preconditioning(), o.seed(), o.device());
}

/// An EDM for images of shape `image`. Example: `auto edm = make_image_edm({1, 32, 32});`
template <Integrator I = Heun>
ImageEdm<I> make_image_edm(ImageShape image, const ImageEdmOptions& o = {}, I integrator = {}) {
  return make_edm_around(make_edm_unet_denoiser(image, o), image.numel(), o, std::move(integrator));
}

/// A separate copy of the denoiser `edm` samples with (its weight average, if it keeps one), for
/// example the frozen data denoiser of an image Score GAN. `image` and `o` are those the EDM was made with.
template <Integrator I>
nn::EdmUNetDenoiser copy_sampling_denoiser(ImageEdm<I>& edm, ImageShape image, const ImageEdmOptions& o) {
  return copy_sampling_denoiser_into(edm, make_edm_unet_denoiser(image, o));
}

}  // namespace gpm
