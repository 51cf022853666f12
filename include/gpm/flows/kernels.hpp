// Radial kernels on flattened particles, with closed-form gradients: Gaussian (RBF) and inverse
// multiquadric (IMQ). Each models gpm::Kernel.
#pragma once

#include <cmath>

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

namespace detail {
inline void check_kernel_inputs(const torch::Tensor& x, const torch::Tensor& y, const char* where) {
  GPM_CHECK(x.dim() == 2 && y.dim() == 2 && x.size(1) == y.size(1), "{}: expected flattened particles "
            "x [N, D] and y [M, D], got {} and {}", where, shape_string(x), shape_string(y));
}

/// For k(x, y) = φ(‖x − y‖²): ∇ₓ k = 2 φ'(r²) (x − y); averaged over the rows of y.
inline torch::Tensor radial_mean_gradient(const torch::Tensor& x, const torch::Tensor& y,
                                          const torch::Tensor& dphi) {
  const auto m = static_cast<double>(y.size(0));
  return (2.0 / m) * (dphi.sum(1, /*keepdim=*/true) * x - dphi.matmul(y));
}
}  // namespace detail

struct RbfKernelOptions {
  /// h in k(x, y) = exp(−‖x − y‖² / (2h²)).
  TORCH_ARG(double, bandwidth) = 1.0;
};

/// Gaussian kernel k(x, y) = exp(−‖x − y‖² / (2h²)). Example: `RbfKernel k(RbfKernelOptions().bandwidth(0.5));`
class RbfKernel {
 public:
  explicit RbfKernel(RbfKernelOptions options = {}) : options_(options) {
    GPM_CHECK(options_.bandwidth() > 0, "RbfKernel: bandwidth must be > 0, got {}", options_.bandwidth());
  }
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& y) const {
    detail::check_kernel_inputs(x, y, "RbfKernel");
    return torch::exp(pairwise_squared_distances(x, y) * (-0.5 / h2()));
  }
  torch::Tensor mean_gradient(const torch::Tensor& x, const torch::Tensor& y) const {
    detail::check_kernel_inputs(x, y, "RbfKernel::mean_gradient");
    const auto k = torch::exp(pairwise_squared_distances(x, y) * (-0.5 / h2()));
    return detail::radial_mean_gradient(x, y, k * (-0.5 / h2()));
  }
  const RbfKernelOptions& options() const { return options_; }

 private:
  double h2() const { return options_.bandwidth() * options_.bandwidth(); }
  RbfKernelOptions options_;
};

struct ImqKernelOptions {
  TORCH_ARG(double, c) = 1.0;
  /// β in (−1, 0).
  TORCH_ARG(double, beta) = -0.5;
};

/// Inverse multiquadric k(x, y) = (c² + ‖x − y‖²)^β, β ∈ (−1, 0): heavier tails than the Gaussian,
/// so the field keeps its pull at long range. Example: `ImqKernel k;`
class ImqKernel {
 public:
  explicit ImqKernel(ImqKernelOptions options = {}) : options_(options) {
    GPM_CHECK(options_.c() > 0, "ImqKernel: c must be > 0, got {}", options_.c());
    GPM_CHECK(options_.beta() > -1 && options_.beta() < 0, "ImqKernel: beta must lie in (-1, 0), got {}",
              options_.beta());
  }
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& y) const {
    detail::check_kernel_inputs(x, y, "ImqKernel");
    return (pairwise_squared_distances(x, y) + c2()).pow(options_.beta());
  }
  torch::Tensor mean_gradient(const torch::Tensor& x, const torch::Tensor& y) const {
    detail::check_kernel_inputs(x, y, "ImqKernel::mean_gradient");
    const auto base = pairwise_squared_distances(x, y) + c2();
    return detail::radial_mean_gradient(x, y, options_.beta() * base.pow(options_.beta() - 1.0));
  }
  const ImqKernelOptions& options() const { return options_; }

 private:
  double c2() const { return options_.c() * options_.c(); }
  ImqKernelOptions options_;
};

}  // namespace gpm
