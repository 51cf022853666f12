// Energy distance between two sample sets, a kernel-free two-sample statistic
// (Székely and Rizzo 2004); ALGORITHMS.md 6.2.
#pragma once

#include <torch/types.h>

#include "gpm/core/pair_sums.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/metrics/sample_sets.hpp"

namespace gpm::metrics {

/// The U-statistic estimate of ED(X, Y) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ between the rows of
/// x [m, D] and y [n, D] (m, n >= 2):
///   2/(mn) Σ_{i,j} ‖x_i − y_j‖ − 1/(m(m−1)) Σ_{i≠i'} ‖x_i − x_i'‖ − 1/(n(n−1)) Σ_{j≠j'} ‖y_j − y_j'‖.
/// Zero in expectation when both sets come from one distribution (so it can be slightly negative),
/// positive otherwise. Computed in float64, in blocks of pairs (memory O(m + n)).
/// Example: `double ed = gpm::metrics::energy_distance(generated, real);`
inline double energy_distance(const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  const auto [a, b] = detail::sample_pair(x, y, "energy_distance", 2);
  const auto distance = [](const torch::Tensor& u, const torch::Tensor& v) {
    return pairwise_squared_distances(u, v).sqrt();
  };
  const double m = static_cast<double>(a.size(0)), n = static_cast<double>(b.size(0));
  const auto between = gpm::detail::pair_sum(a, b, distance) / (m * n);
  const auto within_x = gpm::detail::symmetric_pair_sum(a, distance, /*with_diagonal=*/false) / (m * (m - 1.0));
  const auto within_y = gpm::detail::symmetric_pair_sum(b, distance, /*with_diagonal=*/false) / (n * (n - 1.0));
  return (2.0 * between - within_x - within_y).item<double>();
}

}  // namespace gpm::metrics
