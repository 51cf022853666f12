// Score GAN's field: the difference between the noised data score (a frozen, pretrained denoiser)
// and the noised generated score (a denoiser trained online on the particles).
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/flows/denoiser_trainer.hpp"
#include "gpm/io/state.hpp"
#include "gpm/losses/noise_levels.hpp"

namespace gpm {

struct ScoreDifferenceFlowOptions {
  /// α, the weight of the data score (1: NCSN flow; 2: EDM-like).
  TORCH_ARG(double, data_weight) = 1.0;
  /// β, the weight of the generated score.
  TORCH_ARG(double, generated_weight) = 1.0;
};

/// At noise level σ: v(x̃, σ) = [α (D_data(x̃, σ) − x̃) − β (D_φ(x̃, σ) − x̃)] / σ
///                           = σ (α ∇ log p_data^σ − β ∇ log ρ^σ)(x̃),
/// the σ-scaled NCSN flow of a Score GAN (Franceschi et al. 2023, arXiv:2305.16150, Eqs. 19, 26–27).
/// `update(real, fake, t)` trains D_φ on the particles `fake` by denoising score matching. Average it
/// over noise levels with `Perturbed` (x̃ = x + σε, σ ~ ScheduleSigma). The data denoiser is frozen:
/// module parameters stop requiring grad and it is put in eval mode. Models gpm::TrainableFlow.
template <Denoiser DataDenoiser, Module Net, Optimizer Opt = torch::optim::Adam, NoiseLevelSampler Sigma = ScheduleSigma>
  requires Denoiser<Net>
class ScoreDifferenceFlow {
 public:
  ScoreDifferenceFlow(DataDenoiser data, DenoiserTrainer<Net, Opt, Sigma> generated, ScoreDifferenceFlowOptions options = {})
      : data_(std::move(data)), generated_(std::move(generated)), options_(options) {
    if constexpr (requires { data_->parameters(); }) {
      for (auto& p : data_->parameters()) p.requires_grad_(false);
      data_->eval();
    }
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& sigma) {
    check_particles(x, "ScoreDifferenceFlow::velocity");
    check_times(sigma, x, "ScoreDifferenceFlow::velocity");
    torch::NoGradGuard no_grad;
    const auto s = per_particle(sigma, x);
    return (options_.data_weight() * (data_(x, sigma) - x) - options_.generated_weight() * (generated_.net()(x, sigma) - x)) / s;
  }

  Stats update(const torch::Tensor& /*real*/, const torch::Tensor& fake, const torch::Tensor& /*t*/) {
    auto stats = generated_.step(fake);
    return {{"score_loss", stats.at("denoising_loss")}, {"score_grad_norm", stats.at("denoiser_grad_norm")}};
  }

  /// The online denoiser D_φ, and the data denoiser's weights when it is a module (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    io::write_nested(archive, "generated", generated_);
    if constexpr (requires { data_->parameters(); }) io::write_module(archive, "data", data_);
  }
  void load(torch::serialize::InputArchive& archive) {
    io::read_nested(archive, "generated", generated_);
    if constexpr (requires { data_->parameters(); }) io::read_module(archive, "data", data_);
  }

  DataDenoiser& data_denoiser() { return data_; }
  DenoiserTrainer<Net, Opt, Sigma>& generated() { return generated_; }
  /// D_φ's learning rate times `factor`; the data denoiser is frozen.
  void scale_learning_rate(double factor) { generated_.scale_learning_rate(factor); }
  const ScoreDifferenceFlowOptions& options() const { return options_; }

 private:
  DataDenoiser data_;
  DenoiserTrainer<Net, Opt, Sigma> generated_;
  ScoreDifferenceFlowOptions options_;
};

}  // namespace gpm
