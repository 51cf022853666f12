// Discriminator Flow as a composition: particles integrated along the field of one
// time-dependent discriminator (a GAN without a generator). Reference 2-D configuration as defaults.
#pragma once

#include <cmath>

#include <torch/arg.h>
#include <torch/optim/adam.h>

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

struct DiscriminatorFlowModelOptions {
  TORCH_ARG(int64_t, width) = 512;
  TORCH_ARG(int64_t, depth) = 4;
  TORCH_ARG(int64_t, embedding_size) = 128;
  /// Standard deviation of the Fourier embedding's frequencies (of the time t in [0, 1]).
  TORCH_ARG(double, fourier_scale) = 16.0;
  TORCH_ARG(double, init_std) = 0.02;
  /// Random Fourier features of x joined to the discriminator's input (0: none, the reference), and
  /// the standard deviation of their angular frequencies (radians per unit of x); see nn::TimeMlp.
  TORCH_ARG(int64_t, input_features) = 0;
  TORCH_ARG(double, input_feature_scale) = 1.0;
  /// N, the Euler steps on [0, 1], and η, the gradient strength.
  TORCH_ARG(int64_t, steps) = 56;
  TORCH_ARG(double, eta) = 20.0;
  /// λ_e, the entropy regularisation: Brownian noise √(λ_e / N) ξ added on every step but the last
  /// (dx = η v dt + √λ_e dW). 0, the reference's value, is the plain Euler flow.
  TORCH_ARG(double, entropy_reg) = 0.0;
  /// Prior N(prior_mean, prior_std² I).
  TORCH_ARG(double, prior_mean) = 0.0;
  TORCH_ARG(double, prior_std) = 1.0;
  TORCH_ARG(double, lr) = 2e-4;
  TORCH_ARG(double, beta1) = 0.5;
  TORCH_ARG(double, beta2) = 0.999;
  /// Gradient penalty on the discriminator: R1, λ E‖∇ₓ f(x_real, t)‖² with λ = 0.1, as the GAN's
  /// (the reference has none; with it the moons' energy distance drops 0.021 → 0.006, docs/models.md).
  TORCH_ARG(GradientPenaltyOptions, penalty) = GradientPenaltyOptions().weight(0.1).center(0.0).point(PenaltyPoint::real);
  /// Decay of the discriminator's weight average used for sampling (0: sample with the last iterate).
  /// 0.999 measured better than none on the ring and the moons (docs/models.md).
  TORCH_ARG(double, weight_average) = 0.999;
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
  nn::TimeMlp net(nn::TimeMlpOptions(dim, 1).width(o.width()).depth(o.depth()).embedding_size(o.embedding_size())
                                             .fourier_scale(o.fourier_scale()).input_features(o.input_features())
                                             .input_feature_scale(o.input_feature_scale()).seed(o.seed()));
  nn::init_normal(*net, o.init_std());
  net->to(o.device());
  return DiscriminatorFlowModel<Loss>(
      DiscriminatorFlow<nn::TimeMlp, Loss>(net, std::move(loss), torch::optim::AdamOptions(o.lr()).betas({o.beta1(), o.beta2()}),
                                           DiscriminatorFlowOptions().eta(o.eta()).penalty(o.penalty()).seed(o.seed() + 1)
                                                                                   .weight_average(o.weight_average())),
      EulerMaruyama(ConstantDiffusion(std::sqrt(o.entropy_reg()))), UniformGrid(UniformGridOptions(o.steps())),
      GaussianPrior(GaussianPriorOptions({dim}).mean(o.prior_mean()).std(o.prior_std())),
      ParticleModelOptions().seed(o.seed()).device(o.device()));
}

}  // namespace gpm
