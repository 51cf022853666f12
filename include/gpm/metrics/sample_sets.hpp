// What the sample-based metrics share: validation of sample sets [N, D] (same D, same device) and
// conversion to float64.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::metrics::detail {

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

}  // namespace gpm::metrics::detail
