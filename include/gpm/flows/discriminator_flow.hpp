// The GAN field: particles ascend −c(f(x, t)) for a discriminator f trained against them. With a
// generator it is a GAN; as a particle model with a time-dependent f, a Discriminator Flow.
#pragma once

#include <memory>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/optimised_network.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/losses/gan_losses.hpp"
#include "gpm/losses/gradient_penalty.hpp"

namespace gpm {

/// A discriminator network held by a module holder: `net->forward(x, t)` (time-dependent, as the
/// Discriminator Flow's) or `net->forward(x)` (a GAN's), returning one logit per particle ([N] or [N, 1]).
template <class N>
concept Critic = requires(N& net, const torch::Tensor& x, const torch::Tensor& t) {
  { net->forward(x, t) } -> std::same_as<torch::Tensor>;
} || requires(N& net, const torch::Tensor& x) {
  { net->forward(x) } -> std::same_as<torch::Tensor>;
};

/// A Critic that takes the time: `net->forward(x, t)`.
template <class N>
concept TimeDependentCritic = Critic<N> && requires(N& net, const torch::Tensor& x, const torch::Tensor& t) {
  { net->forward(x, t) } -> std::same_as<torch::Tensor>;
};

struct DiscriminatorFlowOptions {
  /// η, the gradient strength: v = −η ∇ₓ c(f(x, t)). 1 for GANs; 20 for the 2-D Discriminator Flow.
  TORCH_ARG(double, eta) = 1.0;
  /// Gradient penalty added to the discriminator loss (off when its weight is 0).
  TORCH_ARG(GradientPenaltyOptions, penalty) = GradientPenaltyOptions();
  /// Piecewise-constant penalty weights over time [0, 1): l[floor(L t)]; empty uses penalty.weight.
  TORCH_ARG(std::vector<double>, penalty_schedule) = {};
  /// Seed of the flow's own random stream (penalty interpolation).
  TORCH_ARG(uint64_t, seed) = 0;
  /// Decay of an exponential moving average of the weights used for sampling (0: none, sample with
  /// the last iterate). See gpm::WeightAverage.
  TORCH_ARG(double, weight_average) = 0.0;
};

/// v(x, t) = −η ∇ₓ c(f(x, t)), with c the generator side of a GAN loss and f a discriminator trained
/// by `update` on data (real) against particles (fake) (Franceschi et al. 2023, arXiv:2305.16150,
/// Finding 5 and Eq. 20). Models gpm::TrainableFlow and gpm::ExposesDiscriminator; its network,
/// checkpoint, averaged weights, learning-rate scaling and random stream come from
/// gpm::OwnsOptimisedNetwork.
/// Example: `DiscriminatorFlow flow(nn::Mlp(nn::MlpOptions(2, 1)), NonSaturatingLoss{}, torch::optim::AdamOptions(2e-4));`
template <Critic Net, GanLoss Loss, Optimizer Opt = torch::optim::Adam>
class DiscriminatorFlow : public OwnsOptimisedNetwork<Net, Opt> {
 public:
  template <class OptimizerOptions>
  DiscriminatorFlow(Net net, Loss loss, const OptimizerOptions& optimizer_options, DiscriminatorFlowOptions options = {})
      : OwnsOptimisedNetwork<Net, Opt>(std::move(net), optimizer_options, options.seed(), "DiscriminatorFlow",
                                       options.weight_average()),
        loss_(std::move(loss)),
        options_(std::move(options)) {
    GPM_CHECK(std::isfinite(options_.eta()), "DiscriminatorFlow: eta must be finite, got {}", options_.eta());
    for (double w : options_.penalty_schedule())
      GPM_CHECK(w >= 0, "DiscriminatorFlow: penalty_schedule weights must be >= 0, got {}", w);
  }

  /// Discriminator logits f(x, t), shape [N].
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& t) {
    torch::Tensor f;
    if constexpr (TimeDependentCritic<Net>) {
      f = this->net()->forward(x, t);
    } else {
      f = this->net()->forward(x);
    }
    GPM_CHECK(f.numel() == x.size(0), "DiscriminatorFlow: the discriminator returned shape {} for {} particles; "
              "it must return one logit per particle", shape_string(f), x.size(0));
    return f.reshape({x.size(0)});
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "DiscriminatorFlow::velocity");
    check_times(t, x, "DiscriminatorFlow::velocity");
    torch::AutoGradMode enable(true);  // samplers run under NoGradGuard; this flow needs ∇ₓ
    const torch::Tensor input = x.detach().requires_grad_(true);
    const torch::Tensor cost = loss_.generator_loss(logits(input, t));
    return (-options_.eta() * input_gradient(cost, input)).detach();
  }

  /// One optimiser step on mean b(f(fake)) − mean a(f(real)) (+ the weighted gradient penalty).
  Stats update(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t) {
    check_particles(real, "DiscriminatorFlow::update", "real");
    check_particles(fake, "DiscriminatorFlow::update", "fake");
    GPM_CHECK(real.size(0) == fake.size(0) || !penalty_active(), "DiscriminatorFlow::update: the gradient penalty "
              "pairs real and fake samples, but got {} real and {} fake", real.size(0), fake.size(0));
    check_times(t, fake, "DiscriminatorFlow::update");
    const torch::Tensor fake_input = fake.detach();
    // An R1 penalty reuses the loss's forward pass on the real batch.
    const bool penalty_on_real = penalty_active() && options_.penalty().point() == PenaltyPoint::real;
    const torch::Tensor real_input = penalty_on_real ? real.detach().requires_grad_(true) : real;
    const torch::Tensor real_times = t.size(0) == real.size(0) ? t : t.new_zeros({real.size(0)});
    torch::Tensor real_logits, fake_logits;
    if (!penalty_on_real && rows_independent(this->net())) {
      // One pass over [real; fake]: products twice as tall, half the operations.
      const torch::Tensor both = logits(torch::cat({real_input, fake_input}), torch::cat({real_times, t}));
      real_logits = both.narrow(0, 0, real.size(0));
      fake_logits = both.narrow(0, real.size(0), fake.size(0));
    } else {
      real_logits = logits(real_input, real_times);
      fake_logits = logits(fake_input, t);
    }
    torch::Tensor loss = loss_.discriminator_loss(real_logits, fake_logits);
    Stats stats{{"discriminator_loss", loss.detach()}};
    if (penalty_active()) {
      const auto critic = [this](const torch::Tensor& x, const torch::Tensor& s) { return logits(x, s); };
      const torch::Tensor penalty =
          penalty_on_real ? gradient_penalty_at(real_logits, real_input, options_.penalty())
                          : gradient_penalty(critic, real, fake_input, t, options_.penalty(), this->generator());
      const torch::Tensor weights = options_.penalty_schedule().empty()
                                        ? torch::full_like(penalty, options_.penalty().weight())
                                        : penalty_weights(options_.penalty_schedule(), t);
      const torch::Tensor weighted = (weights * penalty).mean();
      loss = loss + weighted;
      stats["gradient_penalty"] = weighted.detach();
    }
    stats["discriminator_grad_norm"] = this->network().minimise(loss);
    return stats;
  }

  const Loss& loss() const { return loss_; }
  const DiscriminatorFlowOptions& options() const { return options_; }

 private:
  bool penalty_active() const {
    if (!options_.penalty_schedule().empty()) return true;
    return options_.penalty().weight() > 0;
  }

  Loss loss_;
  DiscriminatorFlowOptions options_;
};

}  // namespace gpm
