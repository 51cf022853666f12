// One optimisation step of a denoiser by denoising score matching: the estimator behind EDM's
// score flow (trained on data) and Score GAN's generated-score flow (trained on particles).
#pragma once

#include <memory>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/io/state.hpp"
#include "gpm/losses/denoising.hpp"
#include "gpm/losses/noise_levels.hpp"

namespace gpm {

struct DenoiserTrainerOptions {
  /// Weight each sample by EDM's λ(σ) = (σ² + σ_data²)/(σ σ_data)² (EDM); off for Score GAN's D_φ.
  TORCH_ARG(bool, edm_weighting) = true;
  TORCH_ARG(double, sigma_data) = 0.5;
  /// Seed of the trainer's random stream (noise levels and noise).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// A denoiser network with its optimiser and noise-level law. `step(y)` draws σ ~ sampler and
/// ε ~ N(0, I) and takes one optimiser step on mean_b w(σ_b) ‖D(y_b + σ_b ε_b, σ_b) − y_b‖²
/// (Karras et al. 2022, arXiv:2206.00364, Eq. 2; Franceschi et al. 2023, Eq. 23).
template <Module Net, Optimizer Opt, NoiseLevelSampler Sigma>
  requires Denoiser<Net>
class DenoiserTrainer {
 public:
  template <class OptimizerOptions>
  DenoiserTrainer(Net net, Sigma sigma, const OptimizerOptions& optimizer_options, DenoiserTrainerOptions options = {})
      : net_(std::move(net)),
        sigma_(std::move(sigma)),
        optimizer_(std::make_unique<Opt>(net_->parameters(), optimizer_options)),
        options_(options),
        gen_(make_generator(options_.seed(), net_->parameters().front().device())) {
    GPM_CHECK(options_.sigma_data() > 0, "DenoiserTrainer: sigma_data must be > 0, got {}", options_.sigma_data());
  }

  /// One optimiser step on clean samples y [N, ...] (detached: no gradient reaches their producer).
  Stats step(const torch::Tensor& y) {
    check_particles(y, "DenoiserTrainer::step", "samples");
    const torch::Tensor clean = y.detach();
    const torch::Tensor sigma = sigma_.sample(clean.size(0), clean.options(), gen_);
    const torch::Tensor loss = options_.edm_weighting()
                                   ? edm_denoising_loss(net_, clean, sigma, gen_, options_.sigma_data())
                                   : denoising_score_matching_loss(net_, clean, sigma, gen_);
    optimizer_->zero_grad();
    loss.backward();
    Stats stats{{"denoising_loss", loss.detach()}, {"denoiser_grad_norm", gradient_norm(net_->parameters())}};
    optimizer_->step();
    return stats;
  }

  /// Denoiser weights, optimiser state and random stream (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    io::write_module(archive, "net", net_);
    io::write_nested(archive, "optimizer", *optimizer_);
    io::write_generator(archive, "generator", gen_);
  }
  void load(torch::serialize::InputArchive& archive) {
    io::read_module(archive, "net", net_);
    io::read_nested(archive, "optimizer", *optimizer_);
    io::read_generator(archive, "generator", gen_);
  }

  Net& net() { return net_; }
  Opt& optimizer() { return *optimizer_; }
  const Sigma& sigma_sampler() const { return sigma_; }
  at::Generator& generator() { return gen_; }

 private:
  Net net_;
  Sigma sigma_;
  std::unique_ptr<Opt> optimizer_;
  DenoiserTrainerOptions options_;
  at::Generator gen_;
};

}  // namespace gpm
