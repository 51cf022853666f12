// Stein variational gradient descent (SVGD): the Stein gradient flow of KL(ρ ‖ p) with an RBF
// kernel and the median bandwidth heuristic.
#pragma once

#include <cmath>

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/flows/kernels.hpp"

namespace gpm {

struct SteinFlowOptions {
  /// Fixed bandwidth h (k = exp(−‖x − y‖² / (2h²))); 0 selects the median heuristic
  /// h² = median(‖x_i − x_j‖²) / (2 log(n + 1)), recomputed at every call.
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
    const auto n = xf.size(0);
    const auto d2 = pairwise_squared_distances(xf, xf);
    torch::Tensor h2;
    if (options_.bandwidth() > 0) {
      h2 = torch::full({}, options_.bandwidth() * options_.bandwidth(), x.options());
    } else {
      const auto med2 = d2.flatten().median();  // with the zero diagonal, as the original code
      // All particles equal: the median is 0 and any bandwidth works; use h = 1.
      h2 = torch::where(med2 > 0, med2 / (2.0 * std::log(static_cast<double>(n) + 1.0)), torch::ones_like(med2));
    }
    const auto k = torch::exp(-d2 / (2.0 * h2));
    const auto score = score_(x).flatten(1);
    const auto repulsion = (k.sum(1, /*keepdim=*/true) * xf - k.matmul(xf)) / h2;
    return ((k.matmul(score) + repulsion) / static_cast<double>(n)).view(x.sizes());
  }

  S& score() { return score_; }
  const SteinFlowOptions& options() const { return options_; }

 private:
  S score_;
  SteinFlowOptions options_;
};

}  // namespace gpm
