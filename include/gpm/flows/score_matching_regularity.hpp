// SMaRt's score-matching regularity (Xia et al. 2024, arXiv:2311.18208) as a flow: the particles
// descend a frozen data denoiser's denoising error at small noise levels, which pulls them onto the
// data manifold where an adversarial field gives no signal.
#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct ScoreMatchingRegularityOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, sigma_min, Range::above(0), "the smallest noise level σ' of the denoising error") = 0.09;
  GPM_OPTION(double, sigma_max, Range::above(0), "the largest noise level σ' (SMaRt's t ∈ [25, 35] of a linear DDPM "
             "schedule is σ' ∈ [0.09, 0.125] for data in [−1, 1])") = 0.125;
  GPM_OPTIONS_END

  /// Placement, not part of a config.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// v(x) = −∇ₓ ℓ(x) with ℓ(x) = ‖x − D(x + σ'ε, σ')‖² / (σ'² · dim x), σ' ~ U[σ_min, σ_max] and
/// ε ~ N(0, I) drawn per particle and per evaluation: the denoising error of the frozen data
/// denoiser D at the particles. For an EDM denoiser it is SMaRt's noise-prediction error
/// ‖ε̂ − ε‖² averaged over coordinates (ε̂ = (x̃ − D(x̃, σ'))/σ'), so a generator that follows
/// λ v descends SMaRt's λ · mean ℓ; the gradient passes through D's input. D is frozen: its
/// parameters stop requiring grad and it is put in eval mode. Scale it with gpm::Weighted, apply it
/// lazily with gpm::Every and add it to a GAN's flow with gpm::FlowSum (gpm::make_smart_gan).
/// It owns a random stream (OwnsRandomStream, Checkpointable with the denoiser's weights).
/// Example: `ScoreMatchingRegularity regularity(copy_sampling_denoiser(edm, 2, edm_options));`
template <Denoiser D>
class ScoreMatchingRegularity {
 public:
  explicit ScoreMatchingRegularity(D denoiser, ScoreMatchingRegularityOptions options = {})
      : denoiser_(std::move(denoiser)), options_(options), gen_(make_generator(options.seed(), options.device())) {
    GPM_CHECK(options_.sigma_min() > 0 && options_.sigma_min() <= options_.sigma_max(),
              "ScoreMatchingRegularity: need 0 < sigma_min <= sigma_max, got sigma_min {} and sigma_max {}",
              options_.sigma_min(), options_.sigma_max());
    if constexpr (Module<D>) {
      for (auto& p : denoiser_->parameters()) p.requires_grad_(false);
      denoiser_->eval();
    }
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& /*t*/) {
    check_particles(x, "ScoreMatchingRegularity::velocity");
    torch::AutoGradMode enable(true);  // called under NoGradGuard; the field is an input gradient
    const torch::Tensor input = x.detach().requires_grad_(true);
    return (-input_gradient(denoising_error(input), input)).detach();
  }

  /// ℓ per particle [N], with σ' and ε drawn from the flow's stream.
  torch::Tensor denoising_error(const torch::Tensor& x) {
    const auto n = x.size(0);
    const torch::Tensor sigma =
        options_.sigma_min() + (options_.sigma_max() - options_.sigma_min()) * rand_rows({n}, gen_, x.options());
    const torch::Tensor noised = x + per_particle(sigma, x) * randn_rows(x.sizes(), gen_, x.options());
    return (x - denoiser_(noised, sigma)).flatten(1).square().mean(1) / sigma.square();
  }

  /// The random stream, and the denoiser's weights when it is a module (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    write_generator(archive, "generator", gen_);
    if constexpr (Module<D>) write_module(archive, "denoiser", denoiser_);
  }
  void load(torch::serialize::InputArchive& archive) {
    read_generator(archive, "generator", gen_);
    if constexpr (Module<D>) read_module(archive, "denoiser", denoiser_);
  }

  D& denoiser() { return denoiser_; }
  const ScoreMatchingRegularityOptions& options() const { return options_; }
  at::Generator& generator() { return gen_; }

 private:
  D denoiser_;
  ScoreMatchingRegularityOptions options_;
  at::Generator gen_;
};

}  // namespace gpm
