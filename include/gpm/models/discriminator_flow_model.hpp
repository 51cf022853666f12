// Discriminator Flow as a composition: particles integrated along the field of one
// time-dependent discriminator (a GAN without a generator). Reference 2-D configuration as defaults.
#pragma once

#include <cmath>

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/time_grids.hpp"
#include "gpm/flows/discriminator_flow.hpp"
#include "gpm/integrators/euler_maruyama.hpp"
#include "gpm/losses/gan_losses.hpp"
#include "gpm/models/particle_model.hpp"
#include "gpm/nn/init.hpp"
#include "gpm/nn/time_mlp.hpp"

namespace gpm {

/// The Discriminator Flow's options. The defaults are the reference's 2-D configuration with the
/// changes measured in docs/results (Fourier features of x, a gradient penalty at the particles,
/// weight average); `reference()` is the reference's configuration itself.
struct DiscriminatorFlowModelOptions {
  GPM_OPTIONS_BEGIN
  /// Input features at scale 3 in standardized coordinates are as fine as 1 in a 25-mode grid's own units.
  GPM_OPTION(nn::TimeMlpOptions, discriminator, Range::any(),
             "the time-conditioned discriminator f(x, t), t in [0, 1] (the reference: no input features)") =
      nn::TimeMlpOptions().mlp(nn::MlpOptions().input_features(128).input_feature_scale(3.0));
  GPM_OPTION(double, init_std, Range::above(0), "initial weights N(0, init_std²), zero biases") = 0.02;
  GPM_OPTION(int64_t, generation_steps, Range::at_least(1), "N, the Euler steps of the flow on [0, 1]") = 56;
  GPM_OPTION(double, eta, Range::above(0), "η, the gradient strength: v = −η ∇ₓ c(f(x, t))") = 20.0;
  GPM_OPTION(double, entropy_reg, Range::at_least(0),
             "λ_e: Brownian noise √(λ_e / N) ξ on every step but the last (0: the plain Euler flow)") = 0.0;
  GPM_OPTION(double, prior_mean, Range::any(), "the prior N(prior_mean, prior_std² I)") = 0.0;
  GPM_OPTION(double, prior_std, Range::above(0), "the prior N(prior_mean, prior_std² I)") = 1.0;
  GPM_OPTION(AdamOptions, optimizer, Range::any(), "the discriminator's Adam") = AdamOptions().beta1(0.5);
  /// At the particles (fake), not the data: the flow moves them by η ∇ₓ f there, so the penalty bounds
  /// the field where it acts; one at the data alone leaves it free to throw particles far off data.
  GPM_OPTION(GradientPenaltyOptions, penalty, Range::any(),
             "gradient penalty on the discriminator (the reference: none)") =
      GradientPenaltyOptions().weight(0.1).center(0.0).point(PenaltyPoint::fake);
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the discriminator's weight average used for sampling (0: the last iterate)") = 0.999;
  GPM_OPTIONS_END

  /// The reference's 2-D Discriminator Flow: raw input, no penalty, the last iterate.
  static DiscriminatorFlowModelOptions reference() {
    return DiscriminatorFlowModelOptions().discriminator(nn::TimeMlpOptions()).penalty(GradientPenaltyOptions()).weight_average(0.0);
  }

  /// Placement, not part of a config: the runner sets the seed from its training settings.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Discriminator Flow = PM(DiscriminatorFlow(time-conditioned MLP, loss), Euler–Maruyama with
/// constant noise √λ_e (Euler when λ_e = 0), N steps on [0, 1], prior) (Franceschi et al. 2023,
/// arXiv:2305.16150, Section 4.2). train_step(real) is Algorithm 3, its simulation noised as the
/// sampler's; sample(n, k) stops after k of the N steps if asked.
template <GanLoss Loss = NonSaturatingLoss>
using DiscriminatorFlowModel = ParticleModel<DiscriminatorFlow<nn::TimeMlp, Loss>, EulerMaruyama<ConstantDiffusion>, UniformGrid, GaussianPrior>;

/// A Discriminator Flow for data of `dim` coordinates. Example: `auto df = make_discriminator_flow(2);`
template <GanLoss Loss = NonSaturatingLoss>
DiscriminatorFlowModel<Loss> make_discriminator_flow(int64_t dim, const DiscriminatorFlowModelOptions& o = {}, Loss loss = {}) {
  GPM_CHECK(o.entropy_reg() >= 0 && std::isfinite(o.entropy_reg()),
            "make_discriminator_flow: entropy_reg must be finite and >= 0, got {}", o.entropy_reg());
  const ScopedGlobalSeed seed(o.seed());
  nn::TimeMlp net(nn::TimeMlpOptions(o.discriminator()).in(dim).out(1).seed(o.seed()));
  nn::init_normal(*net, o.init_std());
  net->to(o.device());
  return DiscriminatorFlowModel<Loss>(
      DiscriminatorFlow<nn::TimeMlp, Loss>(net, std::move(loss), o.optimizer().to_torch(),
                                           DiscriminatorFlowOptions().eta(o.eta()).penalty(o.penalty()).seed(o.seed() + 1)
                                                                                   .weight_average(o.weight_average())),
      EulerMaruyama(ConstantDiffusion(std::sqrt(o.entropy_reg()))), UniformGrid(UniformGridOptions(o.generation_steps())),
      GaussianPrior(GaussianPriorOptions({dim}).mean(o.prior_mean()).std(o.prior_std())),
      ParticleModelOptions().seed(o.seed()).device(o.device()));
}

}  // namespace gpm
