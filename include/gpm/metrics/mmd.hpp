// Unbiased squared maximum mean discrepancy with a sum of Gaussian kernels, and the median
// heuristic that picks their bandwidths (Gretton et al. 2012); ALGORITHMS.md 6.1. The kernel, the
// heuristic and the estimator are the library's own (gpm/core/kernels.hpp), as the flows use them.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "gpm/core/kernels.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/metrics/sample_sets.hpp"

namespace gpm::metrics {

/// Pooled sets larger than this are thinned to this many evenly strided points for the median.
inline constexpr int64_t kMedianPoints = 1000;

/// The median pairwise distance of the pooled set z = x ∪ y: median_{i<j} ‖z_i − z_j‖ (the lower
/// median for an even count of pairs), over an evenly strided subset of kMedianPoints points when
/// the pool is larger (gpm::median_squared_distance). Returns 1 when the median is 0 (a pool of
/// identical points).
/// Example: `double h = gpm::metrics::median_distance(x, y);`
inline double median_distance(const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  const auto [a, b] = detail::sample_pair(x, y, "median_distance", 1);
  auto pool = torch::cat({a, b});
  const int64_t size = pool.size(0);
  if (size > kMedianPoints) {
    const auto index = torch::arange(kMedianPoints, pool.options().dtype(torch::kLong));
    pool = pool.index_select(0, (index * size).div(kMedianPoints, "floor"));
  }
  return std::sqrt(median_squared_distance(pairwise_squared_distances(pool, pool)).item<double>());
}

/// The default MMD bandwidths: {0.1, 0.2, 0.5, 1, 2, 5} × median_distance(x, y).
/// Example: `auto h = gpm::metrics::default_mmd_bandwidths(x, y);`
inline std::vector<double> default_mmd_bandwidths(const torch::Tensor& x, const torch::Tensor& y) {
  const double median = median_distance(x, y);
  std::vector<double> bandwidths;
  for (const double factor : {0.1, 0.2, 0.5, 1.0, 2.0, 5.0}) bandwidths.push_back(factor * median);
  return bandwidths;
}

/// Unbiased squared MMD between the rows of x [m, D] and y [n, D] (m, n >= 2) for the kernel
/// k(u, v) = Σ_h exp(−‖u − v‖² / (2h²)) summed over `bandwidths` (gpm::RbfSumKernel;
/// default_mmd_bandwidths(x, y) when empty):
///   MMD²_u = 1/(m(m−1)) Σ_{i≠i'} k(x_i, x_i') + 1/(n(n−1)) Σ_{j≠j'} k(y_j, y_j') − 2/(mn) Σ_{i,j} k(x_i, y_j).
/// Zero in expectation when both sets come from one distribution (so it can be slightly negative).
/// Computed in float64, in blocks of pairs (memory O(m + n)).
/// Example: `double mmd2 = gpm::metrics::squared_mmd(generated, real, {0.5, 1.0});`
inline double squared_mmd(const torch::Tensor& x, const torch::Tensor& y, std::vector<double> bandwidths = {}) {
  torch::NoGradGuard no_grad;
  const auto [a, b] = detail::sample_pair(x, y, "squared_mmd", 2);
  if (bandwidths.empty()) bandwidths = default_mmd_bandwidths(a, b);
  return gpm::squared_mmd(RbfSumKernel(std::move(bandwidths)), a, b, MmdEstimate::unbiased).item<double>();
}

}  // namespace gpm::metrics
