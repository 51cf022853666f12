// Sliced Wasserstein distance: the p-Wasserstein distance of one-dimensional projections,
// averaged over fixed, seeded directions; ALGORITHMS.md 6.3.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/metrics/sample_sets.hpp"

namespace gpm::metrics {

struct SlicedWassersteinOptions {
  /// Number of directions L (ignored in 1-D, where there is only one).
  TORCH_ARG(int64_t, projections) = 128;
  /// Seed of the Gaussian directions in D > 2 dimensions.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Order p >= 1 of the Wasserstein distance.
  TORCH_ARG(double, p) = 2.0;
};

/// The unit directions θ_l [L, D], float64 on the CPU, used by sliced_wasserstein: in 1-D the single
/// direction 1; in 2-D L evenly spaced angles θ_l = (cos πl/L, sin πl/L); in D > 2 dimensions
/// g_l / ‖g_l‖ with g_l ∼ N(0, I) drawn from a CPU generator seeded with `options.seed()`, so that
/// the directions are the same on every device.
/// Example: `auto directions = gpm::metrics::slicing_directions(3, {});`
inline torch::Tensor slicing_directions(int64_t dim, const SlicedWassersteinOptions& options) {
  GPM_CHECK(dim >= 1, "slicing_directions: dim must be >= 1, got {}", dim);
  GPM_CHECK(options.projections() >= 1, "sliced_wasserstein: projections must be >= 1, got {}",
            options.projections());
  const auto float64 = torch::TensorOptions().dtype(torch::kFloat64);
  if (dim == 1) return torch::ones({1, 1}, float64);
  if (dim == 2) {
    const auto angle = torch::arange(options.projections(), float64) *
                       (std::numbers::pi / static_cast<double>(options.projections()));
    return torch::stack({torch::cos(angle), torch::sin(angle)}, 1);
  }
  auto gen = make_generator(options.seed());
  const auto g = torch::randn({options.projections(), dim}, gen, float64);
  return g / g.norm(2, {1}, /*keepdim=*/true);
}

/// SW_p(X, Y) = ( mean_l W_p^p(⟨θ_l, X⟩, ⟨θ_l, Y⟩) )^{1/p} between the rows of x [m, D] and
/// y [n, D], with the directions θ_l of slicing_directions. For each direction, with a and b the
/// sorted projections: if m = n, W_p^p = (1/n) Σ_i |a_(i) − b_(i)|^p; otherwise, with K = max(m, n)
/// and q_k = (k − 1/2)/K, W_p^p = (1/K) Σ_k |a_(⌈q_k m⌉) − b_(⌈q_k n⌉)|^p (empirical quantiles).
/// A shift y = x + s gives SW_2 = ‖s‖ (E cos²)^{1/2}: ‖s‖/√2 in 2-D (exactly, for L >= 2).
/// Computed in float64.
/// Example: `double sw = sliced_wasserstein(x, y, SlicedWassersteinOptions().projections(256));`
inline double sliced_wasserstein(const torch::Tensor& x, const torch::Tensor& y,
                                 const SlicedWassersteinOptions& options = {}) {
  torch::NoGradGuard no_grad;
  GPM_CHECK(options.p() >= 1 && std::isfinite(options.p()), "sliced_wasserstein: p must be a finite number "
            ">= 1, got {}", options.p());
  const auto [a, b] = detail::sample_pair(x, y, "sliced_wasserstein", 1);
  const auto directions = slicing_directions(a.size(1), options).to(a.device()).t();  // [D, L]
  auto pa = std::get<0>(a.matmul(directions).sort(0));  // [m, L], each column sorted
  auto pb = std::get<0>(b.matmul(directions).sort(0));  // [n, L]
  const int64_t m = pa.size(0), n = pb.size(0), count = std::max(m, n);
  // 0-based row of the empirical quantile at q_k = (k − 1/2)/K in a sorted column of `size` values:
  // ⌈(2k − 1)·size / (2K)⌉ − 1, in exact integer arithmetic.
  const auto quantile_rows = [&](int64_t size) {
    const auto k = torch::arange(1, count + 1, a.options().dtype(torch::kLong));
    return ((2 * k - 1) * size + 2 * count - 1).div(2 * count, "floor") - 1;
  };
  if (m != count) pa = pa.index_select(0, quantile_rows(m));
  if (n != count) pb = pb.index_select(0, quantile_rows(n));
  const double mean_cost = (pa - pb).abs().pow(options.p()).mean().item<double>();
  return std::pow(mean_cost, 1.0 / options.p());
}

}  // namespace gpm::metrics
