// GAN as a composition: an MLP generator whose outputs follow the discriminator's field
// (an interacting particle model), with the reference's 2-D configuration as defaults.
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/flows/discriminator_flow.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/losses/gan_losses.hpp"
#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/mlp.hpp"

namespace gpm {

struct GanOptions {
  TORCH_ARG(int64_t, latent_dim) = 128;
  TORCH_ARG(int64_t, width) = 512;
  TORCH_ARG(int64_t, depth) = 4;
  /// BatchNorm1d at the start of each of the generator's hidden blocks (the reference has none).
  TORCH_ARG(bool, generator_batch_norm) = false;
  /// Initial weights N(0, init_std²), zero biases (the reference's GAN initialisation).
  TORCH_ARG(double, init_std) = 0.02;
  /// Random Fourier features of x joined to the discriminator's input (0: none, the reference), and
  /// the standard deviation of their angular frequencies (radians per unit of x); see nn::Mlp.
  TORCH_ARG(int64_t, input_features) = 0;
  TORCH_ARG(double, input_feature_scale) = 1.0;
  TORCH_ARG(double, lr) = 2e-4;
  TORCH_ARG(double, beta1) = 0.5;
  TORCH_ARG(double, beta2) = 0.999;
  /// Discriminator updates per generator update (nb_discr_steps).
  TORCH_ARG(int64_t, discriminator_steps) = 1;
  /// Gradient penalty on the discriminator: R1, λ E‖∇ₓ f(x_real)‖² with λ = 0.1 (the reference has
  /// none; with it and the weight average the ring's energy distance drops 0.13 → 0.004, docs/models.md).
  TORCH_ARG(GradientPenaltyOptions, penalty) = GradientPenaltyOptions().weight(0.1).center(0.0).point(PenaltyPoint::real);
  /// Decay of the generator's weight average used for sampling (0: sample with the last iterate).
  TORCH_ARG(double, weight_average) = 0.999;
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// GAN = Int-PM(generator MLP, DiscriminatorFlow(MLP discriminator, loss)) (Franceschi et al. 2023,
/// Finding 5). Each train_step is one discriminator step, plus a generator step every
/// discriminator_steps iterations.
template <GanLoss Loss = NonSaturatingLoss>
using Gan = InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>, DiscriminatorFlow<nn::Mlp, Loss>>;

/// A GAN for data of `dim` coordinates. Example: `auto gan = make_gan(2);` then `gan.train_step(batch)`.
template <GanLoss Loss = NonSaturatingLoss>
Gan<Loss> make_gan(int64_t dim, const GanOptions& o = {}, Loss loss = {}) {
  const ScopedGlobalSeed seed(o.seed());
  nn::Mlp generator(nn::MlpOptions(o.latent_dim(), dim).width(o.width()).depth(o.depth()).batch_norm(o.generator_batch_norm()));
  nn::Mlp discriminator(nn::MlpOptions(dim, 1).width(o.width()).depth(o.depth()).input_features(o.input_features())
                            .input_feature_scale(o.input_feature_scale()).input_feature_seed(o.seed() + 2));
  for (auto* net : {&generator, &discriminator}) {
    nn::init_normal(**net, o.init_std());
    (*net)->to(o.device());
  }
  const auto adam = torch::optim::AdamOptions(o.lr()).betas({o.beta1(), o.beta2()});
  return Gan<Loss>(Generator<nn::Mlp, torch::optim::Adam>(generator, GaussianPrior(GaussianPriorOptions({o.latent_dim()})), adam,
                                                           GeneratorOptions().weight_average(o.weight_average())),
                   DiscriminatorFlow<nn::Mlp, Loss>(discriminator, std::move(loss), adam,
                                                    DiscriminatorFlowOptions().penalty(o.penalty()).seed(o.seed() + 1)),
                   InteractingParticleModelOptions()
                       .flow_steps_per_generator_step(o.discriminator_steps())
                       .seed(o.seed())
                       .device(o.device()));
}

}  // namespace gpm
