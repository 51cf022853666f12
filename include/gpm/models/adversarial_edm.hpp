// Adversarial score matching as a model: EDM's composition with its denoising flow wrapped by
// AdversarialDenoising, on points (an MLP discriminator) and on images (a DCGAN discriminator). It
// samples as EDM does; only the denoiser's training changes.
#pragma once

#include <torch/arg.h>

#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/flows/adversarial_denoising.hpp"
#include "gpm/models/edm.hpp"
#include "gpm/models/image_edm.hpp"
#include "gpm/nn/dcgan.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/mlp.hpp"

namespace gpm {

/// EDM = PM(AdversarialDenoising(DenoisingScoreFlow(denoiser), discriminator), I, Karras grid, prior).
template <Denoiser Net, Module Disc, Integrator I = Heun>
using AdversarialEdmWith = ParticleModel<AdversarialDenoising<DenoisingScoreFlow<Net>, Disc>, I, KarrasGrid, GaussianPrior>;
using AdversarialEdm = AdversarialEdmWith<nn::EdmMlpDenoiser, nn::Mlp>;
using ImageAdversarialEdm = AdversarialEdmWith<nn::EdmUNetDenoiser, nn::DcganDiscriminator>;

/// `edm`, the same denoiser, optimiser, grid, prior and random stream, whose denoiser trains
/// adversarially against `discriminator` too (on the device of `edm`).
/// Example: `auto asm_edm = with_adversarial_denoising(make_edm(2), nn::Mlp(nn::MlpOptions(2, 1)));`
template <Denoiser Net, Integrator I, Module Disc>
AdversarialEdmWith<Net, Disc, I> with_adversarial_denoising(EdmWith<Net, I> edm, Disc discriminator,
                                                            const AdversarialDenoisingOptions& o = {}) {
  discriminator->to(edm.options().device());
  return {AdversarialDenoising<DenoisingScoreFlow<Net>, Disc>(std::move(edm.flow()), std::move(discriminator),
                                                               LeastSquaresLoss{}, o),
          std::move(edm.integrator()), edm.grid(), std::move(edm.prior()), edm.options()};
}

struct AdversarialEdmOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(EdmOptions, edm, Range::any(), "the EDM: its denoiser, noise levels, optimiser, weight average and grid") = {};
  GPM_OPTION(nn::MlpOptions, discriminator, Range::any(), "the discriminator's MLP (data → logit)") =
      nn::MlpOptions().width(128).depth(3);
  GPM_OPTION(AdversarialDenoisingOptions, adversarial, Range::any(), "the adversarial term and the discriminator's training") =
      {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Adversarial score matching for data of `dim` coordinates: make_edm(dim, o.edm()) (the same
/// initial denoiser) and an MLP discriminator initialised N(0, 0.02²).
/// Example: `auto model = make_adversarial_edm(2, AdversarialEdmOptions().adversarial(AdversarialDenoisingOptions().weight(0.1)));`
inline AdversarialEdm make_adversarial_edm(int64_t dim, const AdversarialEdmOptions& o = {}) {
  auto edm = make_edm(dim, EdmOptions(o.edm()).seed(o.seed()).device(o.device()));
  const ScopedGlobalSeed seed(o.seed() + 5);
  nn::Mlp discriminator(nn::MlpOptions(o.discriminator()).in(dim).out(1).input_feature_seed(o.seed() + 6));
  nn::init_normal(*discriminator, 0.02);
  return with_adversarial_denoising(std::move(edm), discriminator, AdversarialDenoisingOptions(o.adversarial()).seed(o.seed() + 7));
}

/// A separate copy of the denoiser `model` samples with (its weight average, if it keeps one).
inline nn::EdmMlpDenoiser copy_sampling_denoiser(AdversarialEdm& model, int64_t dim, const AdversarialEdmOptions& o) {
  return copy_sampling_denoiser_into(model, make_edm_mlp_denoiser(dim, EdmOptions(o.edm()).seed(o.seed()).device(o.device())));
}

struct ImageAdversarialEdmOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(ImageEdmOptions, edm, Range::any(), "the image EDM: its U-Net, noise levels, optimiser, weight average and grid") =
      {};
  GPM_OPTION(nn::DcganDiscriminatorOptions, discriminator, Range::any(), "the discriminator (image → logit)") =
      nn::DcganDiscriminatorOptions().width(32);
  GPM_OPTION(AdversarialDenoisingOptions, adversarial, Range::any(), "the adversarial term and the discriminator's training") =
      {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Adversarial score matching for images of shape `image`: make_image_edm(image, o.edm()) and a
/// DCGAN discriminator initialised N(0, 0.02²).
inline ImageAdversarialEdm make_image_adversarial_edm(ImageShape image, const ImageAdversarialEdmOptions& o = {}) {
  auto edm = make_image_edm(image, ImageEdmOptions(o.edm()).seed(o.seed()).device(o.device()));
  const ScopedGlobalSeed seed(o.seed() + 5);
  nn::DcganDiscriminator discriminator(nn::DcganDiscriminatorOptions(o.discriminator()).image(image).out(1).seed(o.seed() + 6));
  nn::init_normal(*discriminator, 0.02);
  return with_adversarial_denoising(std::move(edm), discriminator, AdversarialDenoisingOptions(o.adversarial()).seed(o.seed() + 7));
}

/// A separate copy of the denoiser `model` samples with (its weight average, if it keeps one).
inline nn::EdmUNetDenoiser copy_sampling_denoiser(ImageAdversarialEdm& model, ImageShape image,
                                                  const ImageAdversarialEdmOptions& o) {
  return copy_sampling_denoiser_into(model, make_edm_unet_denoiser(image, ImageEdmOptions(o.edm()).seed(o.seed()).device(o.device())));
}

}  // namespace gpm
