// Closed-form targets: the score of a Gaussian with full covariance, and the exact EDM denoiser
// and noised score of an isotropic Gaussian mixture. The test bench of every flow and integrator.
#pragma once

#include <cmath>

#include <ATen/core/Generator.h>
#include <torch/linalg.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// s(x) = −Σ⁻¹ (x − μ) for N(μ, Σ) on flat particles [N, D]. Models gpm::Score.
/// Example: `GaussianScore score(torch::zeros({2}), torch::eye(2));`
class GaussianScore {
 public:
  GaussianScore(torch::Tensor mean, torch::Tensor covariance) : mean_(std::move(mean)) {
    GPM_CHECK(mean_.dim() == 1, "GaussianScore: mean must have shape [D], got {}", shape_string(mean_));
    const auto d = mean_.size(0);
    GPM_CHECK(covariance.dim() == 2 && covariance.size(0) == d && covariance.size(1) == d,
              "GaussianScore: covariance must have shape [{}, {}], got {}", d, d, shape_string(covariance));
    precision_ = torch::linalg::inv(covariance.to(torch::kFloat64)).to(mean_.scalar_type());
  }
  torch::Tensor operator()(const torch::Tensor& x) const {
    check_particles(x, "GaussianScore");
    check_compatible(x, "x", mean_, "the mean", "GaussianScore");
    return -(x - mean_).matmul(precision_);
  }
  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    const auto chol = torch::linalg::cholesky(torch::linalg::inv(precision_.to(torch::kFloat64)));
    return mean_ + torch::randn({n, mean_.size(0)}, gen, mean_.options().dtype(torch::kFloat64))
                       .matmul(chol.t())
                       .to(mean_.scalar_type());
  }

 private:
  torch::Tensor mean_;
  torch::Tensor precision_;
};

/// The mixture Σ_k π_k N(μ_k, s² I) and, in closed form, its noised versions
/// p_σ = Σ_k π_k N(μ_k, (s² + σ²) I): the score ∇ log p_σ(x) and the ideal EDM denoiser
/// D(x, σ) = x + σ² ∇ log p_σ(x) (Tweedie). One component gives the Gaussian N(μ, s² I), whose
/// denoiser is μ + s²/(s² + σ²) (x − μ). Models gpm::Denoiser.
/// Example: `GaussianMixtureDenoiser target(centres, /*std=*/0.5);`
class GaussianMixtureDenoiser {
 public:
  /// `means` [K, D], `std` s > 0, optional `weights` [K] (uniform if undefined).
  GaussianMixtureDenoiser(torch::Tensor means, double std, torch::Tensor weights = {})
      : means_(std::move(means)), std_(std) {
    GPM_CHECK(means_.dim() == 2 && means_.size(0) > 0, "GaussianMixtureDenoiser: means must have shape "
              "[K, D] with K >= 1, got {}", shape_string(means_));
    GPM_CHECK(std_ > 0, "GaussianMixtureDenoiser: std must be > 0, got {}", std_);
    if (!weights.defined()) weights = torch::ones({means_.size(0)}, means_.options());
    GPM_CHECK(weights.dim() == 1 && weights.size(0) == means_.size(0), "GaussianMixtureDenoiser: weights "
              "must have shape [{}], got {}", means_.size(0), shape_string(weights));
    log_weights_ = torch::log(weights / weights.sum());
  }

  /// ∇ log p_σ(x) for particles [N, D] and noise levels σ [N] (σ = 0 gives the data score).
  torch::Tensor score(const torch::Tensor& x, const torch::Tensor& sigma) const {
    check_particles(x, "GaussianMixtureDenoiser::score");
    check_times(sigma, x, "GaussianMixtureDenoiser::score");
    check_compatible(x, "x", means_, "the means", "GaussianMixtureDenoiser");
    GPM_CHECK(x.dim() == 2 && x.size(1) == means_.size(1), "GaussianMixtureDenoiser: x has shape {}, "
              "expected [N, {}]", shape_string(x), means_.size(1));
    const auto var = (sigma.square() + std_ * std_).unsqueeze(1);                  // [N, 1]
    const auto d2 = pairwise_squared_distances(x, means_);                                 // [N, K]
    const auto resp = torch::softmax(log_weights_.unsqueeze(0) - 0.5 * d2 / var, 1);  // [N, K]
    return (resp.matmul(means_) - x) / var;
  }

  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma) const {
    return x + per_particle(sigma.square(), x) * score(x, sigma);
  }

  /// n exact samples of the (noiseless) mixture.
  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    const auto idx = torch::multinomial(log_weights_.exp(), n, /*replacement=*/true, gen);
    return means_.index_select(0, idx) + std_ * torch::randn({n, means_.size(1)}, gen, means_.options());
  }

  const torch::Tensor& means() const { return means_; }
  double std() const { return std_; }

 private:
  torch::Tensor means_;
  double std_;
  torch::Tensor log_weights_;
};

}  // namespace gpm
