// Stein variational gradient descent (SVGD): the Stein gradient flow of KL(ρ ‖ p) with an RBF
// kernel and the median bandwidth heuristic.
#pragma once

#include <cmath>

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/kernels.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct SteinFlowOptions {
  /// Fixed bandwidth h (k = exp(−‖x − y‖² / (2h²))); 0 selects the median heuristic
  /// h² = median_{i<j} ‖x_i − x_j‖² / (2 log(n + 1)) (gpm::median_squared_distance), recomputed at
  /// every call.
  TORCH_ARG(double, bandwidth) = 0.0;
};

/// φ(x_i) = (1/n) Σ_j [k(x_j, x_i) ∇ log p(x_j) + ∇_{x_j} k(x_j, x_i)]: kernel-smoothed score
/// plus a repulsion that keeps particles apart (Liu & Wang 2016, arXiv:1608.04471; Franceschi et
/// al. 2023, Eq. 17). Models gpm::Flow. Example: `SteinFlow flow(GaussianScore(mean, cov));`
template <Score S>
class SteinFlow {
 public:
  explicit SteinFlow(S score, SteinFlowOptions options = {}) : score_(std::move(score)), options_(options) {
    GPM_CHECK(options_.bandwidth() >= 0, "SteinFlow: bandwidth must be >= 0 (0 = median heuristic), got {}",
              options_.bandwidth());
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "SteinFlow::velocity");
    check_times(t, x, "SteinFlow::velocity");
    torch::NoGradGuard no_grad;
    const auto xf = x.flatten(1);
    const auto n = static_cast<double>(xf.size(0));
    const auto d2 = pairwise_squared_distances(xf, xf);
    const auto score = score_(x).flatten(1);
    // For a radial kernel ∇_{x_j} k(x_j, x_i) = −∇_{x_i} k(x_i, x_j): the repulsion is minus the
    // kernel's mean gradient. h² is a number, or a tensor when the median heuristic picks it.
    const auto field = [&](const auto& h2) {
      const auto k = detail::gaussian(d2, h2);
      return k.matmul(score) / n - detail::radial_mean_gradient(xf, xf, detail::gaussian_derivative(k, h2));
    };
    const auto v = options_.bandwidth() > 0 ? field(options_.bandwidth() * options_.bandwidth())
                                            : field(median_squared_distance(d2) / (2.0 * std::log(n + 1.0)));
    return v.view(x.sizes());
  }

  S& score() { return score_; }
  const SteinFlowOptions& options() const { return options_; }

 private:
  S score_;
  SteinFlowOptions options_;
};

}  // namespace gpm
