// Fréchet distance between Gaussian fits of two feature sets (the formula of FID, Heusel et al.
// 2017, on any features); ALGORITHMS.md 6.4.
#pragma once

#include <algorithm>
#include <string>

#include <torch/linalg.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/metrics/sample_sets.hpp"

namespace gpm::metrics {

/// The mean μ [D] and covariance Σ [D, D] of a Gaussian, in float64.
struct GaussianFit {
  torch::Tensor mean;
  torch::Tensor covariance;
};

/// The Gaussian fit of the rows of x [N, D] (N >= 2): μ = (1/N) Σ x_i and the unbiased covariance
/// Σ = 1/(N − 1) Σ (x_i − μ)(x_i − μ)ᵀ, in float64 on x's device.
/// Example: `auto real = gpm::metrics::gaussian_fit(real_features);`
inline GaussianFit gaussian_fit(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const auto a = detail::sample_set(x, "gaussian_fit", "x", 2);
  const auto mean = a.mean(0);
  const auto centred = a - mean;
  return {mean, centred.t().matmul(centred) / static_cast<double>(a.size(0) - 1)};
}

/// FD = ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^{1/2} Σb Σa^{1/2})^{1/2}), the squared 2-Wasserstein distance
/// between N(μa, Σa) and N(μb, Σb). Computed in float64 with symmetric eigendecompositions only:
/// Σa^{1/2} = V diag(√max(w, 0)) Vᵀ from Σa = V diag(w) Vᵀ, then the trace of the square root of
/// the symmetrised M = Σa^{1/2} Σb Σa^{1/2} as Σ √max(λ_i(M), 0) (tiny negative eigenvalues from
/// rounding are clamped; singular covariances are fine). The result is clamped at 0.
/// Example: `double fd = gpm::metrics::frechet_distance(gaussian_fit(x), gaussian_fit(y));`
inline double frechet_distance(const GaussianFit& a, const GaussianFit& b) {
  torch::NoGradGuard no_grad;
  const auto check = [](const GaussianFit& fit, const char* name) {
    GPM_CHECK(fit.mean.defined() && fit.covariance.defined() && fit.mean.dim() == 1 && fit.mean.size(0) >= 1 &&
                  fit.covariance.dim() == 2 && fit.covariance.size(0) == fit.mean.size(0) &&
                  fit.covariance.size(1) == fit.mean.size(0),
              "frechet_distance: the fit {} has mean {} and covariance {}, expected [D] and [D, D]", name,
              fit.mean.defined() ? shape_string(fit.mean) : "undefined",
              fit.covariance.defined() ? shape_string(fit.covariance) : "undefined");
  };
  check(a, "a");
  check(b, "b");
  GPM_CHECK(a.mean.size(0) == b.mean.size(0), "frechet_distance: the fits have {} and {} dimensions; both must "
            "describe the same feature space", a.mean.size(0), b.mean.size(0));
  GPM_CHECK(a.mean.device() == b.mean.device() && a.covariance.device() == b.covariance.device() &&
                a.mean.device() == a.covariance.device(),
            "frechet_distance: the fits are on different devices ({} and {}); move one with .to(device)",
            a.mean.device().str(), b.mean.device().str());
  const auto mean_a = a.mean.to(torch::kFloat64), mean_b = b.mean.to(torch::kFloat64);
  const auto cov_a = a.covariance.to(torch::kFloat64), cov_b = b.covariance.to(torch::kFloat64);
  const auto symmetric = [](const torch::Tensor& m) { return (m + m.t()) / 2.0; };

  const auto [w, v] = torch::linalg::eigh(symmetric(cov_a), "L");
  const auto sqrt_a = (v * w.clamp_min(0.0).sqrt().unsqueeze(0)).matmul(v.t());
  const auto lambda = torch::linalg::eigvalsh(symmetric(sqrt_a.matmul(cov_b).matmul(sqrt_a)), "L");
  const auto trace_sqrt = lambda.clamp_min(0.0).sqrt().sum();
  const auto fd = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2.0 * trace_sqrt;
  return std::max(0.0, fd.item<double>());
}

/// The Fréchet distance between the Gaussian fits of the rows of x [m, D] and y [n, D] (m, n >= 2):
/// frechet_distance(gaussian_fit(x), gaussian_fit(y)). Zero for identical sets; biased upwards for
/// small sets, so compare values at one sample size.
/// Example: `double fd = gpm::metrics::frechet_distance(generated_features, real_features);`
inline double frechet_distance(const torch::Tensor& x, const torch::Tensor& y) {
  const auto [a, b] = detail::sample_pair(x, y, "frechet_distance", 2);
  return frechet_distance(gaussian_fit(a), gaussian_fit(b));
}

}  // namespace gpm::metrics
