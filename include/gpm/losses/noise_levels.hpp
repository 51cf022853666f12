// Laws of the noise level σ used to train denoisers: EDM's log-normal and Score GAN's "schedule"
// law, plus EDM's loss weight λ(σ).
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/errors.hpp"

namespace gpm {

/// A law of noise levels: `sample(n, options, gen)` returns n levels σ > 0, shape [n], in the
/// dtype and on the device of `options`, drawn from `gen`.
template <class S>
concept NoiseLevelSampler = requires(const S& s, int64_t n, const torch::TensorOptions& options, at::Generator& gen) {
  { s.sample(n, options, gen) } -> std::same_as<torch::Tensor>;
};

/// EDM's training law: ln σ ~ N(P_mean, P_std²), i.e. σ = exp(P_mean + P_std n), n ~ N(0, 1)
/// (Karras et al. 2022, arXiv:2206.00364, Section 5). Models gpm::NoiseLevelSampler.
/// Example: `auto sigma = LogNormalSigma().sample(128, x.options(), gen);`
class LogNormalSigma {
 public:
  explicit LogNormalSigma(double p_mean = -1.2, double p_std = 1.2) : p_mean_(p_mean), p_std_(p_std) {
    GPM_CHECK(std::isfinite(p_mean), "LogNormalSigma: p_mean must be finite, got {}", p_mean);
    GPM_CHECK(p_std >= 0 && std::isfinite(p_std), "LogNormalSigma: p_std must be finite and >= 0, got {}", p_std);
  }
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& gen) const {
    GPM_CHECK(n > 0, "LogNormalSigma::sample: n must be > 0, got {}", n);
    return (randn_rows({n}, gen, options) * p_std_ + p_mean_).exp();
  }
  double p_mean() const { return p_mean_; }
  double p_std() const { return p_std_; }

 private:
  double p_mean_;
  double p_std_;
};

/// Score GAN's law: the Karras schedule read as a quantile function, u ~ U[0, 1],
/// σ = (σ_max^{1/ρ} + u (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ (Franceschi et al. 2023, arXiv:2305.16150,
/// Eq. 28). σ_min 0.32, σ_max 40, ρ 3 has median ≈ 8.64. Models gpm::NoiseLevelSampler.
/// Example: `ScheduleSigma law(0.32, 40.0, 3.0);  auto sigma = law.sample(256, x.options(), gen);`
class ScheduleSigma {
 public:
  ScheduleSigma(double sigma_min, double sigma_max, double rho)
      : sigma_min_(sigma_min), sigma_max_(sigma_max), rho_(rho) {
    GPM_CHECK(sigma_min > 0 && sigma_min < sigma_max && std::isfinite(sigma_max), "ScheduleSigma: need "
              "0 < sigma_min < sigma_max < infinity, got sigma_min = {}, sigma_max = {}", sigma_min, sigma_max);
    GPM_CHECK(rho > 0 && std::isfinite(rho), "ScheduleSigma: rho must be finite and > 0, got {}", rho);
  }
  /// σ at quantile position u in [0, 1] (u = 0 gives σ_max, u = 1 gives σ_min).
  double at(double u) const {
    const double hi = std::pow(sigma_max_, 1.0 / rho_), lo = std::pow(sigma_min_, 1.0 / rho_);
    return std::pow(hi + u * (lo - hi), rho_);
  }
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& gen) const {
    GPM_CHECK(n > 0, "ScheduleSigma::sample: n must be > 0, got {}", n);
    const double hi = std::pow(sigma_max_, 1.0 / rho_), lo = std::pow(sigma_min_, 1.0 / rho_);
    return (rand_rows({n}, gen, options) * (lo - hi) + hi).pow(rho_);
  }
  double sigma_min() const { return sigma_min_; }
  double sigma_max() const { return sigma_max_; }
  double rho() const { return rho_; }

 private:
  double sigma_min_;
  double sigma_max_;
  double rho_;
};

/// EDM's loss weight λ(σ) = (σ² + σd²) / (σ σd)², which makes the effective training target of F
/// unit-variance (Karras et al. 2022, arXiv:2206.00364, Table 1); λ(σd) = 2/σd² (8 for σd = 0.5).
/// Example: `auto w = edm_loss_weight(sigma, 0.5);`
inline torch::Tensor edm_loss_weight(const torch::Tensor& sigma, double sigma_data = 0.5) {
  GPM_CHECK(sigma_data > 0, "edm_loss_weight: sigma_data must be > 0, got {}", sigma_data);
  return (sigma.square() + sigma_data * sigma_data) / (sigma * sigma_data).square();
}

}  // namespace gpm
