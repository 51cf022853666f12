// GAN as a composition: an MLP generator whose outputs follow the discriminator's field
// (an interacting particle model), with the reference's 2-D configuration as defaults.
#pragma once

#include <type_traits>

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/flows/discriminator_flow.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/losses/gan_losses.hpp"
#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/mlp.hpp"

namespace gpm {

/// The GAN's options. The defaults are the reference's 2-D configuration with the changes measured
/// in docs/results (R1 penalty, weight average, two discriminator steps); `reference()` is the
/// reference's configuration itself.
struct GanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, latent_dim, Range::at_least(1), "dimension of the generator's Gaussian latent") = 128;
  GPM_OPTION(nn::MlpOptions, generator, Range::any(), "the generator's MLP (latent → data)") = {};
  GPM_OPTION(nn::MlpOptions, discriminator, Range::any(), "the discriminator's MLP (data → logit)") = {};
  GPM_OPTION(double, init_std, Range::above(0), "initial weights N(0, init_std²) of both networks, zero biases") = 0.02;
  GPM_OPTION(AdamOptions, generator_optimizer, Range::any(), "the generator's Adam") = AdamOptions().beta1(0.5);
  GPM_OPTION(AdamOptions, discriminator_optimizer, Range::any(), "the discriminator's Adam") = AdamOptions().beta1(0.5);
  GPM_OPTION(int64_t, discriminator_steps, Range::at_least(1),
             "discriminator updates per generator update (the reference: 1)") = 2;
  GPM_OPTION(GradientPenaltyOptions, penalty, Range::any(),
             "gradient penalty on the discriminator (the reference: none)") = GradientPenaltyOptions::r1(0.1);
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the generator's weight average used for sampling (0: the last iterate)") = 0.999;
  GPM_OPTIONS_END

  /// The reference's 2-D GAN: one discriminator step, no penalty, sampling with the last iterate.
  static GanOptions reference() {
    return GanOptions().discriminator_steps(1).penalty(GradientPenaltyOptions()).weight_average(0.0);
  }

  /// Placement, not part of a config: the runner sets the seed from its training settings.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// GAN = Int-PM(generator MLP, DiscriminatorFlow(MLP discriminator, loss)) (Franceschi et al. 2023,
/// Finding 5). Each train_step is one discriminator step, plus a generator step every
/// discriminator_steps iterations.
template <GanLoss Loss = NonSaturatingLoss>
using Gan = InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>, DiscriminatorFlow<nn::Mlp, Loss>>;

/// The GAN of `o` around the discriminator network `make_discriminator(mlp)` builds from `mlp`, the
/// options of the discriminator's MLP with its sizes set (dim → 1): the generator, the prior, the
/// initialisation, the optimisers and the training schedule are the GAN's.
/// Example: `auto gan = make_gan_around(2, GanOptions(), [](nn::MlpOptions m) { return nn::TimeMlp(nn::TimeMlpOptions(2, 1).mlp(m)); });`
template <GanLoss Loss = NonSaturatingLoss, class MakeDiscriminator>
auto make_gan_around(int64_t dim, const GanOptions& o, MakeDiscriminator make_discriminator, Loss loss = {}) {
  using Net = std::invoke_result_t<MakeDiscriminator, nn::MlpOptions>;
  using Model = InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>, DiscriminatorFlow<Net, Loss>>;
  const ScopedGlobalSeed seed(o.seed());
  nn::Mlp generator(nn::MlpOptions(o.generator()).in(o.latent_dim()).out(dim));
  Net discriminator = make_discriminator(nn::MlpOptions(o.discriminator()).in(dim).out(1).input_feature_seed(o.seed() + 2));
  nn::init_normal(*generator, o.init_std());
  nn::init_normal(*discriminator, o.init_std());
  generator->to(o.device());
  discriminator->to(o.device());
  return Model(Generator<nn::Mlp, torch::optim::Adam>(generator, GaussianPrior(GaussianPriorOptions({o.latent_dim()})),
                                                      o.generator_optimizer().to_torch(),
                                                      GeneratorOptions().weight_average(o.weight_average())),
               DiscriminatorFlow<Net, Loss>(discriminator, std::move(loss), o.discriminator_optimizer().to_torch(),
                                            DiscriminatorFlowOptions().penalty(o.penalty()).seed(o.seed() + 1)),
               InteractingParticleModelOptions()
                   .flow_steps_per_generator_step(o.discriminator_steps())
                   .seed(o.seed())
                   .device(o.device()));
}

/// A GAN for data of `dim` coordinates. Example: `auto gan = make_gan(2);` then `gan.train_step(batch)`.
template <GanLoss Loss = NonSaturatingLoss>
Gan<Loss> make_gan(int64_t dim, const GanOptions& o = {}, Loss loss = {}) {
  return make_gan_around(dim, o, [](const nn::MlpOptions& mlp) { return nn::Mlp(mlp); }, std::move(loss));
}

}  // namespace gpm
