// SMaRt (Xia et al. 2024, arXiv:2311.18208): a GAN whose generator also follows a frozen data
// denoiser's score-matching regularity, weighted and applied every k-th generator step. Any generator
// model gains it by summing its flow with Every(Weighted(ScoreMatchingRegularity)).
#pragma once

#include <torch/arg.h>

#include "gpm/core/options.hpp"
#include "gpm/flows/combinators.hpp"
#include "gpm/flows/score_matching_regularity.hpp"
#include "gpm/models/gan.hpp"
#include "gpm/models/image_gan.hpp"
#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/unet.hpp"

namespace gpm {

/// SMaRt's settings: the regularity's weight, its frequency and its noise levels.
struct SmartOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, weight, Range::at_least(0), "λ, the weight of the score-matching regularity (SMaRt: 0.01–0.1)") =
      0.1;
  GPM_OPTION(int64_t, every, Range::at_least(1), "the regularity acts on every k-th generator step (SMaRt: 8)") = 8;
  GPM_OPTION(ScoreMatchingRegularityOptions, regularity, Range::any(),
             "the noise levels of the data denoiser's denoising error") = {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// The flow f of a generator model with SMaRt: f + Every(k, λ · ScoreMatchingRegularity(D_data)).
template <Flow F, Denoiser DataDenoiser>
using SmartFlow = FlowSum<F, Every<Weighted<ScoreMatchingRegularity<DataDenoiser>>>>;

/// `model` (a GAN, or any generator model) with SMaRt: the same generator, estimator, options and
/// random stream, its flow summed with the frozen data denoiser `data`'s regularity. The generator
/// calls the field once per generator step, so the regularity acts on generator steps 0, k, 2k, ...
/// Example: `auto smart = with_score_matching_regularity(make_gan(2), copy_sampling_denoiser(edm, 2, edm_options));`
template <GeneratorDynamics D, Flow F, Denoiser DataDenoiser>
InteractingParticleModel<D, SmartFlow<F, DataDenoiser>> with_score_matching_regularity(InteractingParticleModel<D, F> model,
                                                                                        DataDenoiser data,
                                                                                        const SmartOptions& o = {}) {
  ScoreMatchingRegularity regularity(std::move(data),
                                     ScoreMatchingRegularityOptions(o.regularity()).seed(o.seed()).device(o.device()));
  return {std::move(model.dynamics()),
          SmartFlow<F, DataDenoiser>(std::move(model.flow()), Every(Weighted(std::move(regularity), o.weight()), o.every())),
          model.options()};
}

struct SmartGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(SmartOptions, smart, Range::any(), "the score-matching regularity: weight, frequency, noise levels") = {};
  GPM_OPTION(GanOptions, gan, Range::any(), "the generator, the discriminator and their training") = {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Int-PM(generator MLP, DiscriminatorFlow + Every(k, λ · ScoreMatchingRegularity(D_data))).
template <Denoiser DataDenoiser = nn::EdmMlpDenoiser, GanLoss Loss = NonSaturatingLoss>
using SmartGan = InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>,
                                          SmartFlow<DiscriminatorFlow<nn::Mlp, Loss>, DataDenoiser>>;

/// The GAN of `make_gan(dim, o.gan())`, same initial weights, regularised by the frozen data
/// denoiser `data` (a trained EDM's `copy_sampling_denoiser`, or an exact GaussianMixtureDenoiser).
/// Example: `auto smart = make_smart_gan(2, copy_sampling_denoiser(edm, 2, edm_options));`
template <Denoiser DataDenoiser, GanLoss Loss = NonSaturatingLoss>
SmartGan<DataDenoiser, Loss> make_smart_gan(int64_t dim, DataDenoiser data, const SmartGanOptions& o = {}, Loss loss = {}) {
  return with_score_matching_regularity(make_gan(dim, GanOptions(o.gan()).seed(o.seed()).device(o.device()), std::move(loss)),
                                        std::move(data), SmartOptions(o.smart()).seed(o.seed() + 5).device(o.device()));
}

struct ImageSmartGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(SmartOptions, smart, Range::any(), "the score-matching regularity: weight, frequency, noise levels") = {};
  GPM_OPTION(ImageGanOptions, gan, Range::any(), "the DCGAN generator, the discriminator and their training") = {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// The image GAN with SMaRt, regularised by an image EDM's U-Net denoiser.
template <GanLoss Loss = NonSaturatingLoss>
using ImageSmartGan = InteractingParticleModel<Generator<nn::DcganGenerator, torch::optim::Adam>,
                                               SmartFlow<DiscriminatorFlow<nn::DcganDiscriminator, Loss>, nn::EdmUNetDenoiser>>;

/// The GAN of `make_image_gan(image, o.gan())`, same initial weights, regularised by `data`.
template <GanLoss Loss = NonSaturatingLoss>
ImageSmartGan<Loss> make_image_smart_gan(ImageShape image, nn::EdmUNetDenoiser data, const ImageSmartGanOptions& o = {},
                                         Loss loss = {}) {
  return with_score_matching_regularity(
      make_image_gan(image, ImageGanOptions(o.gan()).seed(o.seed()).device(o.device()), std::move(loss)), std::move(data),
      SmartOptions(o.smart()).seed(o.seed() + 5).device(o.device()));
}

}  // namespace gpm
