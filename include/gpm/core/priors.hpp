// Distributions of initial particles and latent codes: a Gaussian (truncated or not), another
// model's samples, and either with noise added. Each models gpm::Prior.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct GaussianPriorOptions {
  /// Shape of one particle (without the batch dimension), e.g. {2} or {1, 28, 28}.
  explicit GaussianPriorOptions(std::vector<int64_t> shape) : shape_(std::move(shape)) {}
  TORCH_ARG(std::vector<int64_t>, shape);
  TORCH_ARG(double, mean) = 0.0;
  TORCH_ARG(double, std) = 1.0;
};

/// Isotropic Gaussian N(mean, std² I). Example: `GaussianPrior prior(GaussianPriorOptions({2}).std(40));`
class GaussianPrior {
 public:
  explicit GaussianPrior(GaussianPriorOptions options) : options_(std::move(options)) {
    GPM_CHECK(!options_.shape().empty(), "GaussianPrior: the particle shape is empty; give at least one "
              "dimension, e.g. {{2}}");
    for (auto d : options_.shape())
      GPM_CHECK(d > 0, "GaussianPrior: every dimension of the particle shape must be > 0, got {}", d);
    GPM_CHECK(options_.std() > 0, "GaussianPrior: std must be > 0, got {}", options_.std());
  }
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& gen) const {
    GPM_CHECK(n > 0, "GaussianPrior::sample: n must be > 0, got {}", n);
    std::vector<int64_t> sizes{n};
    sizes.insert(sizes.end(), options_.shape().begin(), options_.shape().end());
    return randn_rows(sizes, gen, options) * options_.std() + options_.mean();
  }
  const GaussianPriorOptions& options() const { return options_; }

 private:
  GaussianPriorOptions options_;
};

struct TruncatedGaussianPriorOptions {
  /// Shape of one latent (without the batch dimension), e.g. {128}.
  TruncatedGaussianPriorOptions(std::vector<int64_t> shape, double truncation)
      : shape_(std::move(shape)), truncation_(truncation) {}
  TORCH_ARG(std::vector<int64_t>, shape);
  /// τ: every coordinate lies in [−τ, τ].
  TORCH_ARG(double, truncation);
};

/// N(0, I) truncated to [−τ, τ] in every coordinate (the truncation trick, Brock et al. 2019,
/// arXiv:1809.11096): a trained generator sampled from it trades coverage for quality, more so as τ
/// falls. Drawn by inverse CDF, z = Φ⁻¹(Φ(−τ) + u (Φ(τ) − Φ(−τ))), u ~ U[0, 1], in double precision.
/// Example: `gan.sample_with(TruncatedGaussianPrior(TruncatedGaussianPriorOptions({128}, 1.0)), 2000);`
class TruncatedGaussianPrior {
 public:
  explicit TruncatedGaussianPrior(TruncatedGaussianPriorOptions options) : options_(std::move(options)) {
    GPM_CHECK(!options_.shape().empty(), "TruncatedGaussianPrior: the latent shape is empty; give at least one "
              "dimension, e.g. {{128}}");
    for (auto d : options_.shape())
      GPM_CHECK(d > 0, "TruncatedGaussianPrior: every dimension of the latent shape must be > 0, got {}", d);
    GPM_CHECK(options_.truncation() > 0 && !std::isnan(options_.truncation()), "TruncatedGaussianPrior: the "
              "truncation τ must be > 0 (smaller keeps latents nearer 0; infinity is N(0, I)), got {}", options_.truncation());
  }
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& gen) const {
    GPM_CHECK(n > 0, "TruncatedGaussianPrior::sample: n must be > 0, got {}", n);
    std::vector<int64_t> sizes{n};
    sizes.insert(sizes.end(), options_.shape().begin(), options_.shape().end());
    const double tau = options_.truncation();
    const double low = 0.5 * std::erfc(tau / std::sqrt(2.0));  // Φ(−τ)
    const auto u = rand_rows(sizes, gen, options.dtype(torch::kFloat64));
    const auto p = low + u * (1.0 - 2.0 * low);
    return (std::sqrt(2.0) * torch::erfinv(2.0 * p - 1.0)).clamp(-tau, tau).to(options);
  }
  const TruncatedGaussianPriorOptions& options() const { return options_; }

 private:
  TruncatedGaussianPriorOptions options_;
};

/// Initial particles drawn from another model's sampler: `sampler(n)` returns n particles [n, ...]
/// (a GAN's samples, a trained EDM's, a fixed set), moved to the host's dtype and device. A particle
/// model with this prior starts where the other model ends, and trains from there: its flow learns
/// to move these particles, not a Gaussian's. The sampler is held by value and called through a
/// const member, so it must be callable as const; a lambda that captures the other model by
/// reference is (the model itself need not be const), and that model must outlive the prior. The
/// sampler draws from its own random stream (the GAN's), not from the host's `gen`.
/// Example: `SamplerPrior from_gan([&gan](int64_t n) { return gan.sample(n); });`
template <class S>
  requires std::invocable<const S&, int64_t>
class SamplerPrior {
 public:
  explicit SamplerPrior(S sampler) : sampler_(std::move(sampler)) {}
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& /*gen*/) const {
    GPM_CHECK(n > 0, "SamplerPrior::sample: n must be > 0, got {}", n);
    const torch::Tensor x = sampler_(n);
    check_particles(x, "SamplerPrior::sample", "the sampler's output");
    GPM_CHECK(x.size(0) == n, "SamplerPrior::sample: asked for {} particles, the sampler returned {}; it must "
              "return n particles [n, ...]", n, x.size(0));
    return x.to(options);
  }
  const S& sampler() const { return sampler_; }

 private:
  S sampler_;
};

/// x + σ ε with x drawn from `prior` and ε ~ N(0, I) from the host's stream: the start of a
/// denoising refinement (SDEdit, Meng et al. 2022), which noises a generator's samples to σ and
/// follows a denoiser's probability flow from σ down. Give the flow's grid the same first level.
/// Example: `NoisedPrior start(SamplerPrior([&gan](int64_t n) { return gan.sample(n); }), 1.0);`
template <Prior P>
class NoisedPrior {
 public:
  NoisedPrior(P prior, double sigma) : prior_(std::move(prior)), sigma_(sigma) {
    GPM_CHECK(std::isfinite(sigma_) && sigma_ >= 0, "NoisedPrior: sigma must be finite and >= 0, got {}", sigma_);
  }
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& gen) const {
    const torch::Tensor x = prior_.sample(n, options, gen);
    return x + sigma_ * randn_rows(x.sizes(), gen, x.options());
  }
  const P& prior() const { return prior_; }
  double sigma() const { return sigma_; }

 private:
  P prior_;
  double sigma_;
};

}  // namespace gpm
