// A GAN with top-k generator steps: the GAN's composition with its discriminator flow wrapped by
// TopK, so that each generator step follows only its most realistic samples.
#pragma once

#include <torch/arg.h>

#include "gpm/core/options.hpp"
#include "gpm/flows/top_k.hpp"
#include "gpm/models/gan.hpp"

namespace gpm {

/// `model` (a GAN, or any generator model whose flow exposes its discriminator) with top-k generator
/// steps: the same generator, estimator, options and random stream, its flow wrapped by TopK.
/// Example: `auto gan = with_top_k(make_gan(2), TopKOptions().min_fraction(0.5));`
template <GeneratorDynamics D, Flow F>
  requires ExposesDiscriminator<F>
InteractingParticleModel<D, TopK<F>> with_top_k(InteractingParticleModel<D, F> model, const TopKOptions& o = {}) {
  return {std::move(model.dynamics()), TopK<F>(std::move(model.flow()), o), model.options()};
}

struct TopKGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(TopKOptions, top_k, Range::any(), "the kept fraction of each generator step and its annealing") = {};
  GPM_OPTION(GanOptions, gan, Range::any(), "the generator, the discriminator and their training") = {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Int-PM(generator MLP, TopK(DiscriminatorFlow(MLP discriminator, loss))).
template <GanLoss Loss = NonSaturatingLoss>
using TopKGan = InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>, TopK<DiscriminatorFlow<nn::Mlp, Loss>>>;

/// The GAN of `make_gan(dim, o.gan())`, same initial weights, with top-k generator steps.
/// Example: `auto gan = make_top_k_gan(2, TopKGanOptions().top_k(TopKOptions().epoch_evaluations(10)));`
template <GanLoss Loss = NonSaturatingLoss>
TopKGan<Loss> make_top_k_gan(int64_t dim, const TopKGanOptions& o = {}, Loss loss = {}) {
  return with_top_k(make_gan(dim, GanOptions(o.gan()).seed(o.seed()).device(o.device()), std::move(loss)), o.top_k());
}

}  // namespace gpm
