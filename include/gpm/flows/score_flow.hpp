// The probability-flow ODE of score-based diffusion (EDM), written with a denoiser.
#pragma once

#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// EDM's probability flow in σ-time: dx/dσ = (x − D(x, σ)) / σ = −σ ∇ log p_σ(x), integrated from
/// σ_max down to 0 on a decreasing grid such as KarrasGrid (Karras et al. 2022, arXiv:2206.00364,
/// Eq. 3; Franceschi et al. 2023, Eq. 8). `t` holds σ per particle and must be > 0.
/// Models gpm::Flow. Example: `ScoreFlow flow(GaussianMixtureDenoiser(means, 0.5));`
template <Denoiser D>
class ScoreFlow {
 public:
  explicit ScoreFlow(D denoiser) : denoiser_(std::move(denoiser)) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& sigma) {
    check_times(sigma, x, "ScoreFlow::velocity");
    torch::NoGradGuard no_grad;
    return (x - denoiser_(x, sigma)) / per_particle(sigma, x);
  }

  D& denoiser() { return denoiser_; }

 private:
  D denoiser_;
};

}  // namespace gpm
