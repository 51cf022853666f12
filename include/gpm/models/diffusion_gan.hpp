// Diffusion-GAN (Wang et al. 2022, arXiv:2206.02262): the GAN's composition with a time-conditioned
// discriminator whose flow is wrapped by AdaptiveDiffusion, so that data and generated samples reach
// it after a forward diffusion whose length adapts to the discriminator's overfitting.
#pragma once

#include <torch/arg.h>

#include "gpm/core/options.hpp"
#include "gpm/flows/adaptive_diffusion.hpp"
#include "gpm/models/gan.hpp"
#include "gpm/nn/time_mlp.hpp"

namespace gpm {

/// `model` (any generator model whose flow exposes its discriminator) with its flow wrapped by
/// AdaptiveDiffusion: the same generator, estimator, options and random stream. A discriminator
/// that ignores time still works, but cannot tell a diffused input from a clean one.
/// Example: `auto gan = with_adaptive_diffusion(make_gan_around(2, o, time_mlp), AdaptiveDiffusionOptions());`
template <GeneratorDynamics D, TrainableFlow F>
  requires ExposesDiscriminator<F>
InteractingParticleModel<D, AdaptiveDiffusion<F>> with_adaptive_diffusion(InteractingParticleModel<D, F> model,
                                                                         const AdaptiveDiffusionOptions& o = {}) {
  return {std::move(model.dynamics()), AdaptiveDiffusion<F>(std::move(model.flow()), o), model.options()};
}

struct DiffusionGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(AdaptiveDiffusionOptions, diffusion, Range::any(),
             "the forward diffusion of every discriminator input, and the adaptation of its length T") = {};
  GPM_OPTION(GanOptions, gan, Range::any(),
             "the generator, the discriminator (its MLP, given the diffusion time by a Fourier embedding) and their training") =
      {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Int-PM(generator MLP, AdaptiveDiffusion(DiscriminatorFlow(TimeMlp discriminator, loss))).
template <GanLoss Loss = NonSaturatingLoss>
using DiffusionGan =
    InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>, AdaptiveDiffusion<DiscriminatorFlow<nn::TimeMlp, Loss>>>;

/// The GAN of `o.gan()` whose discriminator is a TimeMlp (the GAN's discriminator MLP on the input and
/// a Fourier embedding of t/t_max), with the adaptive forward diffusion of `o.diffusion()`.
/// Example: `auto gan = make_diffusion_gan(2, DiffusionGanOptions().diffusion(AdaptiveDiffusionOptions().target(0.6)));`
template <GanLoss Loss = NonSaturatingLoss>
DiffusionGan<Loss> make_diffusion_gan(int64_t dim, const DiffusionGanOptions& o = {}, Loss loss = {}) {
  const auto gan_options = GanOptions(o.gan()).seed(o.seed()).device(o.device());
  const auto time_mlp = [&](const nn::MlpOptions& mlp) {
    return nn::TimeMlp(nn::TimeMlpOptions(dim, 1).mlp(mlp).seed(o.seed() + 2));
  };
  return with_adaptive_diffusion(make_gan_around(dim, gan_options, time_mlp, std::move(loss)),
                                 AdaptiveDiffusionOptions(o.diffusion()).seed(o.seed() + 4).device(o.device()));
}

}  // namespace gpm
