// LOGAN (Wu et al. 2019, arXiv:1912.00953): the GAN's composition with its generator network wrapped
// by LatentOptimised, so that each training sample comes from a latent moved one step uphill on the
// discriminator's logit.
#pragma once

#include <torch/arg.h>

#include "gpm/core/options.hpp"
#include "gpm/generators/latent_optimisation.hpp"
#include "gpm/models/gan.hpp"

namespace gpm {

struct LoganGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(LatentOptimisationOptions, latent_optimisation, Range::any(),
             "the latent step of every training sample (first order: Δz is not differentiated)") = {};
  GPM_OPTION(GanOptions, gan, Range::any(), "the generator, the discriminator and their training") = {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Int-PM(LatentOptimised(generator MLP, discriminator), DiscriminatorFlow(MLP discriminator, loss)).
template <GanLoss Loss = NonSaturatingLoss>
using LoganGan = InteractingParticleModel<Generator<LatentOptimised<nn::Mlp>, torch::optim::Adam>, DiscriminatorFlow<nn::Mlp, Loss>>;

/// The GAN of `make_gan(dim, o.gan())`, same initial weights, whose generator trains on optimised
/// latents; it samples as the GAN does, from latents of its prior.
/// Example: `auto gan = make_logan_gan(2, LoganGanOptions().latent_optimisation(LatentOptimisationOptions().step_size(0.9)));`
template <GanLoss Loss = NonSaturatingLoss>
LoganGan<Loss> make_logan_gan(int64_t dim, const LoganGanOptions& o = {}, Loss loss = {}) {
  const auto gan_options = GanOptions(o.gan()).seed(o.seed()).device(o.device());
  auto gan = make_gan(dim, gan_options, std::move(loss));
  nn::Mlp discriminator = gan.flow().net();  // shares the flow's module: the latent step sees it train
  LatentOptimised<nn::Mlp> net(
      gan.dynamics().net(), [discriminator](const torch::Tensor& x) mutable { return discriminator->forward(x); },
      o.latent_optimisation());
  Generator<LatentOptimised<nn::Mlp>, torch::optim::Adam> generator(
      net, gan.dynamics().latent(), gan_options.generator_optimizer().to_torch(),
      GeneratorOptions().weight_average(gan_options.weight_average()));
  return LoganGan<Loss>(std::move(generator), std::move(gan.flow()), gan.options());
}

}  // namespace gpm
