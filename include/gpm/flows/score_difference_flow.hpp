// Score GAN's field: the difference between the noised data score (a frozen, pretrained denoiser)
// and the noised generated score (a denoiser trained online on the particles).
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/archive.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/flows/denoiser_trainer.hpp"
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
/// module parameters stop requiring grad and it is put in eval mode. Models gpm::TrainableFlow and
/// gpm::HasDataDenoiser; D_φ's averaged weights and learning-rate scaling are the flow's
/// (gpm::ForwardsCapabilities), the data denoiser being frozen.
/// Example: `ScoreDifferenceFlow flow(data_denoiser, DenoiserTrainer<Net, Adam, ScheduleSigma>(net, ScheduleSigma(0.1, 10, 3), AdamOptions(1e-3)));`
template <Denoiser DataDenoiser, Module Net, Optimizer Opt = torch::optim::Adam, NoiseLevelSampler Sigma = ScheduleSigma>
  requires Denoiser<Net>
class ScoreDifferenceFlow : public ForwardsCapabilities<DenoiserTrainer<Net, Opt, Sigma>> {
 public:
  ScoreDifferenceFlow(DataDenoiser data, DenoiserTrainer<Net, Opt, Sigma> generated, ScoreDifferenceFlowOptions options = {})
      : ForwardsCapabilities<DenoiserTrainer<Net, Opt, Sigma>>(std::move(generated)),
        data_(std::move(data)),
        options_(options) {
    if constexpr (Module<DataDenoiser>) {
      for (auto& p : data_->parameters()) p.requires_grad_(false);
      data_->eval();
    }
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& sigma) {
    check_particles(x, "ScoreDifferenceFlow::velocity");
    check_times(sigma, x, "ScoreDifferenceFlow::velocity");
    torch::NoGradGuard no_grad;
    const auto s = per_particle(sigma, x);
    return (options_.data_weight() * (data_(x, sigma) - x) - options_.generated_weight() * (generated().net()(x, sigma) - x)) / s;
  }

  Stats update(const torch::Tensor& /*real*/, const torch::Tensor& fake, const torch::Tensor& /*t*/) {
    auto stats = generated().step(fake);
    return {{"score_loss", stats.at("denoising_loss")}, {"score_grad_norm", stats.at("denoiser_grad_norm")}};
  }

  /// The online denoiser D_φ, and the data denoiser's weights when it is a module (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    write_nested(archive, "generated", this->wrapped());
    if constexpr (Module<DataDenoiser>) write_module(archive, "data", data_);
  }
  void load(torch::serialize::InputArchive& archive) {
    read_nested(archive, "generated", this->wrapped());
    if constexpr (Module<DataDenoiser>) read_module(archive, "data", data_);
  }

  DataDenoiser& data_denoiser() { return data_; }
  DenoiserTrainer<Net, Opt, Sigma>& generated() { return this->wrapped(); }
  const ScoreDifferenceFlowOptions& options() const { return options_; }

 private:
  DataDenoiser data_;
  ScoreDifferenceFlowOptions options_;
};

}  // namespace gpm
