// What the sample-based metrics share: validation of sample sets [N, D] (same D, same device),
// conversion to float64, and sums over pairs of points computed in row blocks to bound memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::metrics::detail {

/// Entries of one block of a pairwise matrix: 2 MB of float64 on the CPU, where blocks that stay in
/// cache run about 3× faster than 32 MB ones; 128 MB on accelerators, where fewer launches matter.
inline int64_t block_entries(const torch::Tensor& x) {
  return x.device().is_cpu() ? int64_t{1} << 18 : int64_t{1} << 24;
}

/// Checks that `x` is a sample set [N, D] of at least `min_points` points and returns it detached,
/// in float64, on its device.
inline torch::Tensor sample_set(const torch::Tensor& x, const char* where, const char* name, int64_t min_points) {
  GPM_CHECK(x.defined(), "{}: {} is an undefined tensor; pass a sample set [N, D]", where, name);
  GPM_CHECK(x.dim() == 2, "{}: {} has shape {}, expected a sample set [N, D] (flatten images with "
            "x.flatten(1))", where, name, shape_string(x));
  GPM_CHECK(x.size(0) >= min_points && x.size(1) > 0, "{}: {} has shape {}, expected at least {} point{} with "
            "at least one coordinate", where, name, shape_string(x), min_points, min_points == 1 ? "" : "s");
  GPM_CHECK(x.is_floating_point(), "{}: {} has dtype {}, expected a floating-point dtype", where, name,
            std::string(c10::toString(x.scalar_type())));
  return x.detach().to(torch::kFloat64);
}

/// Both sample sets checked and in float64: same number of coordinates D, same device
/// (their dtypes may differ: both are converted to float64).
inline std::pair<torch::Tensor, torch::Tensor> sample_pair(const torch::Tensor& x, const torch::Tensor& y,
                                                           const char* where, int64_t min_points) {
  auto a = sample_set(x, where, "x", min_points);
  auto b = sample_set(y, where, "y", min_points);
  GPM_CHECK(a.size(1) == b.size(1), "{}: x has {} coordinates per point but y has {} (shapes {} and {}); "
            "both sample sets must live in the same space", where, a.size(1), b.size(1), shape_string(x),
            shape_string(y));
  GPM_CHECK(a.device() == b.device(), "{}: x is on {} but y is on {}; move one with .to(device)", where,
            a.device().str(), b.device().str());
  return {std::move(a), std::move(b)};
}

/// Σ_{i,j} f(‖x_i − y_j‖²) over all pairs of rows of x [m, D] and y [n, D], as a 0-dim tensor.
/// `f` maps a block of squared distances [b, n] to values [b, n]; blocks of rows keep memory at
/// O(block_entries(x)).
template <class F>
torch::Tensor pair_sum(const torch::Tensor& x, const torch::Tensor& y, F&& f) {
  const int64_t m = x.size(0), rows = std::max<int64_t>(1, block_entries(x) / y.size(0));
  auto total = torch::zeros({}, x.options());
  for (int64_t start = 0; start < m; start += rows)
    total += f(pairwise_squared_distances(x.narrow(0, start, std::min(rows, m - start)), y)).sum();
  return total;
}

/// Σ_{i≠j} f(‖x_i − x_j‖²) over ordered pairs of distinct rows of x [m, D], as a 0-dim tensor.
/// By symmetry each block of rows [s, s + b) meets only the rows from s on: the square part (the
/// block against itself) holds both orders of its pairs, the later rows one order, which is
/// doubled. Half the work of pair_sum(x, x, f).
template <class F>
torch::Tensor distinct_pair_sum(const torch::Tensor& x, F&& f) {
  const int64_t m = x.size(0), rows = std::max<int64_t>(1, block_entries(x) / m);
  auto total = torch::zeros({}, x.options());
  for (int64_t start = 0; start < m; start += rows) {
    const int64_t count = std::min(rows, m - start);
    const auto block = x.narrow(0, start, count);
    torch::Tensor values = f(pairwise_squared_distances(block, x.narrow(0, start, m - start)));
    auto inside = values.narrow(1, 0, count);  // the block against itself
    inside.diagonal().zero_();
    total += 2.0 * values.sum() - inside.sum();
  }
  return total;
}

}  // namespace gpm::metrics::detail
