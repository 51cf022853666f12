// A GAN with instance noise: the GAN's composition with its discriminator flow wrapped by
// InstanceNoise, so that data and generated samples reach the discriminator equally noised.
#pragma once

#include <torch/arg.h>

#include "gpm/core/options.hpp"
#include "gpm/flows/instance_noise.hpp"
#include "gpm/models/gan.hpp"

namespace gpm {

struct InstanceNoiseGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(InstanceNoiseOptions, instance_noise, Range::any(),
             "the noise on every discriminator input, annealed over the discriminator's updates") = {};
  GPM_OPTION(GanOptions, gan, Range::any(), "the generator, the discriminator and their training") = {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Int-PM(generator MLP, InstanceNoise(DiscriminatorFlow(MLP discriminator, loss))).
template <GanLoss Loss = NonSaturatingLoss>
using InstanceNoiseGan =
    InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>, InstanceNoise<DiscriminatorFlow<nn::Mlp, Loss>>>;

/// The GAN of `make_gan(dim, o.gan())`, same initial weights, with instance noise.
/// Example: `auto gan = make_instance_noise_gan(2, InstanceNoiseGanOptions().instance_noise(InstanceNoiseOptions().std(0.3)));`
template <GanLoss Loss = NonSaturatingLoss>
InstanceNoiseGan<Loss> make_instance_noise_gan(int64_t dim, const InstanceNoiseGanOptions& o = {}, Loss loss = {}) {
  auto gan = make_gan(dim, GanOptions(o.gan()).seed(o.seed()).device(o.device()), std::move(loss));
  return InstanceNoiseGan<Loss>(
      std::move(gan.dynamics()),
      InstanceNoise(std::move(gan.flow()), InstanceNoiseOptions(o.instance_noise()).seed(o.seed() + 4).device(o.device())),
      gan.options());
}

}  // namespace gpm
