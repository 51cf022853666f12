// The Wasserstein gradient flow of KL(ρ ‖ p) toward a target with a known score, realised as
// Langevin dynamics.
#pragma once

#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// Drift of the KL flow: v(x) = ∇ log p(x). The flow's other term, −∇ log ρ, cannot be evaluated
/// from samples; its stochastic equivalent is the Brownian noise √2 dW, so integrate this flow with
/// `EulerMaruyama(ConstantDiffusion(std::sqrt(2.0)))` (Langevin dynamics; Franceschi et al. 2023,
/// arXiv:2305.16150, Table 2). Models gpm::Flow.
/// Example: `KlFlow flow(GaussianScore(mean, covariance));`
template <Score S>
class KlFlow {
 public:
  explicit KlFlow(S score) : score_(std::move(score)) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_times(t, x, "KlFlow::velocity");
    torch::NoGradGuard no_grad;
    return score_(x);
  }

  S& score() { return score_; }

 private:
  S score_;
};

}  // namespace gpm
