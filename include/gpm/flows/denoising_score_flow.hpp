// EDM as a trainable particle model: the probability-flow field of a denoiser that is trained on
// data by denoising score matching.
#pragma once

#include <torch/optim/adam.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/flows/denoiser_trainer.hpp"
#include "gpm/flows/score_flow.hpp"
#include "gpm/losses/noise_levels.hpp"

namespace gpm {

/// v(x, σ) = (x − D(x, σ))/σ as ScoreFlow, with `update(real)` one step of the denoiser's
/// training on data (EDM: log-normal σ, λ(σ) weighting). Its estimator needs no generated samples,
/// so it models gpm::DataTrainableFlow and a ParticleModel trains it without simulating the flow.
/// The trainer's checkpoint, averaged weights and learning-rate scaling are the flow's
/// (gpm::ForwardsCapabilities).
/// Example: `DenoisingScoreFlow flow(DenoiserTrainer<Net, torch::optim::Adam, LogNormalSigma>(net, LogNormalSigma(), AdamOptions(2e-4)));`
template <Module Net, Optimizer Opt = torch::optim::Adam, NoiseLevelSampler Sigma = LogNormalSigma>
  requires Denoiser<Net>
class DenoisingScoreFlow : public ForwardsCapabilities<DenoiserTrainer<Net, Opt, Sigma>> {
 public:
  explicit DenoisingScoreFlow(DenoiserTrainer<Net, Opt, Sigma> trainer)
      : ForwardsCapabilities<DenoiserTrainer<Net, Opt, Sigma>>(std::move(trainer)), field_(this->wrapped().net()) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& sigma) { return field_.velocity(x, sigma); }

  Stats update(const torch::Tensor& real) { return trainer().step(real); }

  Net& net() { return trainer().net(); }
  DenoiserTrainer<Net, Opt, Sigma>& trainer() { return this->wrapped(); }

 private:
  ScoreFlow<Net> field_;  // shares the network with the trainer (module holders are handles)
};

}  // namespace gpm
