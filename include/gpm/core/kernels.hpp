// Kernels on flattened particles, shared by the kernel flows (MMD, SVGD) and the MMD metric:
// Gaussian (RBF), sums of Gaussians and inverse multiquadric (IMQ) kernels with closed-form
// gradients, the median heuristic for their bandwidth, and the squared MMD estimator.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/pair_sums.hpp"
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

/// exp(−d²/(2h²)) of squared distances d². h² is a number, or a 0-dim tensor when the bandwidth
/// is chosen on the device (the median heuristic), which keeps the host from waiting for it.
template <class H2>
torch::Tensor gaussian(const torch::Tensor& squared_distances, const H2& h2) {
  return torch::exp(squared_distances * (-0.5 / h2));
}

/// φ'(r²) of the Gaussian φ(r²) = exp(−r²/(2h²)), from its values k.
template <class H2>
torch::Tensor gaussian_derivative(const torch::Tensor& k, const H2& h2) {
  return k * (-0.5 / h2);
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
    return detail::gaussian(pairwise_squared_distances(x, y), h2());
  }
  torch::Tensor mean_gradient(const torch::Tensor& x, const torch::Tensor& y) const {
    detail::check_kernel_inputs(x, y, "RbfKernel::mean_gradient");
    const auto k = detail::gaussian(pairwise_squared_distances(x, y), h2());
    return detail::radial_mean_gradient(x, y, detail::gaussian_derivative(k, h2()));
  }
  const RbfKernelOptions& options() const { return options_; }

 private:
  double h2() const { return options_.bandwidth() * options_.bandwidth(); }
  RbfKernelOptions options_;
};

/// A sum of Gaussian kernels k(x, y) = Σ_h exp(−‖x − y‖² / (2h²)) over several bandwidths, which
/// resolves several length scales at once (the MMD metric's kernel).
/// Example: `RbfSumKernel k({0.5, 1.0, 2.0});`
class RbfSumKernel {
 public:
  explicit RbfSumKernel(std::vector<double> bandwidths) : bandwidths_(std::move(bandwidths)) {
    GPM_CHECK(!bandwidths_.empty(), "RbfSumKernel: the list of bandwidths is empty; give at least one");
    for (const double h : bandwidths_)
      GPM_CHECK(h > 0 && std::isfinite(h), "RbfSumKernel: every bandwidth must be a finite number > 0, got {} "
                "(bandwidths {})", h, fmt::join(bandwidths_, ", "));
  }
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& y) const {
    detail::check_kernel_inputs(x, y, "RbfSumKernel");
    const auto d2 = pairwise_squared_distances(x, y);
    auto sum = torch::zeros_like(d2);
    for (const double h : bandwidths_) sum.add_(detail::gaussian(d2, h * h));
    return sum;
  }
  torch::Tensor mean_gradient(const torch::Tensor& x, const torch::Tensor& y) const {
    detail::check_kernel_inputs(x, y, "RbfSumKernel::mean_gradient");
    const auto d2 = pairwise_squared_distances(x, y);
    auto dphi = torch::zeros_like(d2);
    for (const double h : bandwidths_) dphi.add_(detail::gaussian_derivative(detail::gaussian(d2, h * h), h * h));
    return detail::radial_mean_gradient(x, y, dphi);
  }
  const std::vector<double>& bandwidths() const { return bandwidths_; }

 private:
  std::vector<double> bandwidths_;
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

/// The median heuristic's statistic for n points with pairwise squared distances d² [n, n]: the
/// lower median of d²_ij over the pairs i < j, as a 0-dim tensor (no host synchronisation). Where
/// that median is 0 (identical points) or there is no pair, every bandwidth gives the same field;
/// it returns 1. Example: `auto m2 = gpm::median_squared_distance(gpm::pairwise_squared_distances(x, x));`
inline torch::Tensor median_squared_distance(const torch::Tensor& squared_distances) {
  const int64_t n = squared_distances.size(0);
  if (n < 2) return torch::ones({}, squared_distances.options());
  const auto upper = torch::ones({n, n}, squared_distances.options().dtype(torch::kBool)).triu(1);
  const auto median = squared_distances.masked_select(upper).median();
  return torch::where(median > 0, median, torch::ones_like(median));
}

/// The squared MMD estimates: the V-statistic (biased, never negative; the functional the MMD flow
/// descends) and the U-statistic (unbiased, so slightly negative when both sets share a distribution).
enum class MmdEstimate { biased, unbiased };

/// Squared maximum mean discrepancy between the rows of x [N, ...] and y [M, ...] for kernel k
/// (Gretton et al. 2012), as a 0-dim tensor in their dtype:
///   biased:   1/N² Σ_{i,i'} k(x_i, x_i') + 1/M² Σ_{j,j'} k(y_j, y_j') − 2/(NM) Σ_{i,j} k(x_i, y_j);
///   unbiased: the sums within x and within y over i ≠ i' only, divided by N(N − 1) and M(M − 1).
/// Sums run over blocks of rows (memory O(N + M) besides the points) and are differentiable.
/// Example: `double mmd2 = gpm::squared_mmd(gpm::RbfKernel(), x, y).item<double>();`
template <Kernel K>
torch::Tensor squared_mmd(const K& kernel, const torch::Tensor& x, const torch::Tensor& y,
                          MmdEstimate estimate = MmdEstimate::biased) {
  const auto xf = x.flatten(1), yf = y.flatten(1);
  const bool unbiased = estimate == MmdEstimate::unbiased;
  const auto m = static_cast<double>(xf.size(0)), n = static_cast<double>(yf.size(0));
  GPM_CHECK(!unbiased || (m >= 2 && n >= 2), "squared_mmd: the unbiased estimate needs at least 2 points in "
            "each set, got shapes {} and {}", shape_string(x), shape_string(y));
  const auto within_x = detail::symmetric_pair_sum(xf, kernel, !unbiased) / (unbiased ? m * (m - 1.0) : m * m);
  const auto within_y = detail::symmetric_pair_sum(yf, kernel, !unbiased) / (unbiased ? n * (n - 1.0) : n * n);
  const auto between = detail::pair_sum(xf, yf, kernel) / (m * n);
  return within_x + within_y - 2.0 * between;
}

/// The biased (V-statistic) estimate: squared_mmd(kernel, x, y, MmdEstimate::biased).
template <Kernel K>
torch::Tensor squared_mmd_v(const K& kernel, const torch::Tensor& x, const torch::Tensor& y) {
  return squared_mmd(kernel, x, y, MmdEstimate::biased);
}

}  // namespace gpm
