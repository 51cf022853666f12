// One optimisation step of a denoiser by denoising score matching: the estimator behind EDM's
// score flow (trained on data) and Score GAN's generated-score flow (trained on particles).
#pragma once

#include <memory>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/optimised_network.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/losses/denoising.hpp"
#include "gpm/losses/noise_levels.hpp"

namespace gpm {

struct DenoiserTrainerOptions {
  /// Weight each sample by EDM's λ(σ) = (σ² + σ_data²)/(σ σ_data)² (EDM); Score GAN's D_φ
  /// sets it from `ScoreGanOptions::edm_weighting` (off, as the reference).
  TORCH_ARG(bool, edm_weighting) = true;
  TORCH_ARG(double, sigma_data) = 0.5;
  /// Seed of the trainer's random stream (noise levels and noise).
  TORCH_ARG(uint64_t, seed) = 0;
  /// Decay of an exponential moving average of the weights used for sampling (0: none, sample with
  /// the last iterate). See gpm::WeightAverage.
  TORCH_ARG(double, weight_average) = 0.0;
};

/// A denoiser network with its optimiser and noise-level law. `step(y)` draws σ ~ sampler and
/// ε ~ N(0, I) and takes one optimiser step on mean_b w(σ_b) ‖D(y_b + σ_b ε_b, σ_b) − y_b‖²
/// (Karras et al. 2022, arXiv:2206.00364, Eq. 2; Franceschi et al. 2023, Eq. 23). Its network,
/// checkpoint, averaged weights, learning-rate scaling and random stream come from
/// gpm::OwnsOptimisedNetwork.
/// Example: `DenoiserTrainer<nn::EdmMlpDenoiser, torch::optim::Adam, LogNormalSigma> trainer(net, LogNormalSigma(), AdamOptions(2e-4));`
template <Module Net, Optimizer Opt, NoiseLevelSampler Sigma>
  requires Denoiser<Net>
class DenoiserTrainer : public OwnsOptimisedNetwork<Net, Opt> {
 public:
  template <class OptimizerOptions>
  DenoiserTrainer(Net net, Sigma sigma, const OptimizerOptions& optimizer_options, DenoiserTrainerOptions options = {})
      : OwnsOptimisedNetwork<Net, Opt>(std::move(net), optimizer_options, options.seed(), "DenoiserTrainer",
                                       options.weight_average()),
        sigma_(std::move(sigma)),
        options_(options) {
    GPM_CHECK(options_.sigma_data() > 0, "DenoiserTrainer: sigma_data must be > 0, got {}", options_.sigma_data());
  }

  /// One optimiser step on clean samples y [N, ...] (detached: no gradient reaches their producer).
  Stats step(const torch::Tensor& y) {
    return step(y, [](const torch::Tensor&, const torch::Tensor&) { return torch::Tensor(); });
  }

  /// One optimiser step on the denoising loss plus `extra(denoised, sigma)`, a scalar term on this
  /// step's denoiser outputs D(y + σε, σ) (with their graph) at its noise levels σ [N]: an
  /// adversarial term, say, whose gradient reaches the denoiser through them. An undefined result
  /// adds nothing.
  template <class Extra>
  Stats step(const torch::Tensor& y, Extra&& extra) {
    check_particles(y, "DenoiserTrainer::step", "samples");
    const torch::Tensor clean = y.detach();
    auto& gen = this->generator();
    const torch::Tensor sigma = sigma_.sample(clean.size(0), clean.options(), gen);
    torch::Tensor denoised;
    auto recorded = [&](const torch::Tensor& x, const torch::Tensor& s) { return denoised = this->net()(x, s); };
    const torch::Tensor denoising = options_.edm_weighting()
                                        ? edm_denoising_loss(recorded, clean, sigma, gen, options_.sigma_data())
                                        : denoising_score_matching_loss(recorded, clean, sigma, gen);
    const torch::Tensor term = extra(denoised, sigma);
    const torch::Tensor grad_norm = this->network().minimise(term.defined() ? denoising + term : denoising);
    return {{"denoising_loss", denoising.detach()}, {"denoiser_grad_norm", grad_norm}};
  }

  const Sigma& sigma_sampler() const { return sigma_; }

 private:
  Sigma sigma_;
  DenoiserTrainerOptions options_;
};

}  // namespace gpm
