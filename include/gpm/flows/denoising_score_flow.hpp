// EDM as a trainable particle model: the probability-flow field of a denoiser that is trained on
// data by denoising score matching.
#pragma once

#include <torch/optim/adam.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/flows/denoiser_trainer.hpp"
#include "gpm/flows/score_flow.hpp"
#include "gpm/losses/noise_levels.hpp"

namespace gpm {

/// v(x, σ) = (x − D(x, σ))/σ as ScoreFlow, with `update(real)` one step of the denoiser's
/// training on data (EDM: log-normal σ, λ(σ) weighting). Its estimator needs no generated samples,
/// so it models gpm::DataTrainableFlow and a ParticleModel trains it without simulating the flow.
/// Example: `DenoisingScoreFlow flow(DenoiserTrainer<Net, torch::optim::Adam, LogNormalSigma>(net, LogNormalSigma(), AdamOptions(2e-4)));`
template <Module Net, Optimizer Opt = torch::optim::Adam, NoiseLevelSampler Sigma = LogNormalSigma>
  requires Denoiser<Net>
class DenoisingScoreFlow {
 public:
  explicit DenoisingScoreFlow(DenoiserTrainer<Net, Opt, Sigma> trainer)
      : trainer_(std::move(trainer)), field_(trainer_.net()) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& sigma) { return field_.velocity(x, sigma); }

  Stats update(const torch::Tensor& real) { return trainer_.step(real); }

  void save(torch::serialize::OutputArchive& archive) const { trainer_.save(archive); }
  void load(torch::serialize::InputArchive& archive) { trainer_.load(archive); }

  Net& net() { return trainer_.net(); }
  /// The trainer's averaged weights for the scope of the result (no-op without an average).
  AveragedWeights averaged_weights() { return trainer_.averaged_weights(); }
  void scale_learning_rate(double factor) { trainer_.scale_learning_rate(factor); }
  DenoiserTrainer<Net, Opt, Sigma>& trainer() { return trainer_; }

 private:
  DenoiserTrainer<Net, Opt, Sigma> trainer_;
  ScoreFlow<Net> field_;  // shares the network with the trainer (module holders are handles)
};

}  // namespace gpm
