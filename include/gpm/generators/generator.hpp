// Generator dynamics: the interacting-particle side of the framework. A network g_θ(z) is trained
// so that its outputs follow a flow, which the generator's neural tangent kernel smooths.
#pragma once

#include <concepts>
#include <memory>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/eval_mode.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/optimised_network.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct GeneratorOptions {
  /// Multiplies the generator loss (the reference's gen_loss_scale).
  TORCH_ARG(double, loss_scale) = 1.0;
  /// Decay of an exponential moving average of the weights used for sampling (0: none, sample with
  /// the last iterate). See gpm::WeightAverage.
  TORCH_ARG(double, weight_average) = 0.0;
};

/// g_θ with its optimiser and latent prior. One `step` draws z ~ latent, forms x = g(z), evaluates
/// v = stopgrad(flow.velocity(x, 0)) and steps the optimiser on L(θ) = −loss_scale · mean_i ⟨v_i, x_i⟩,
/// whose gradient −mean_i J_θ g(z_i)ᵀ v_i moves each output by the NTK-smoothed field
/// (Franceschi et al. 2023, arXiv:2305.16150, Eqs. 10–12). Models gpm::GeneratorDynamics and
/// gpm::HasTrainingSample; its network, checkpoint, averaged weights and learning-rate scaling come
/// from gpm::OwnsOptimisedNetwork.
/// Example:
///   `Generator<nn::Mlp, torch::optim::Adam> g(net, GaussianPrior(GaussianPriorOptions({128})),
///                                             torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));`
template <GeneratorNetwork Net, Optimizer Opt, Prior Latent = GaussianPrior>
class Generator : public OwnsOptimisedNetwork<Net, Opt> {
 public:
  template <class OptimizerOptions>
  Generator(Net net, Latent latent, const OptimizerOptions& optimizer_options, GeneratorOptions options = {})
      : OwnsOptimisedNetwork<Net, Opt>(std::move(net), optimizer_options, /*seed=*/0, "Generator",
                                       options.weight_average()),
        latent_(std::move(latent)),
        options_(options) {}

  /// g(z) for n fresh latents, without building a graph, with the network in eval mode: batch norm
  /// uses its running statistics, so each sample depends on its own latent only.
  torch::Tensor sample(int64_t n, at::Generator& gen) {
    torch::NoGradGuard no_grad;
    const EvalMode eval(*this->net());
    return forward(latent_.sample(n, parameter_options(), gen));
  }

  /// g(z) in the network's current mode, in the latents' dtype (its parameters'): particles stay
  /// float32 when the network's last layer runs in bfloat16 under autocast (gpm::MixedPrecision).
  torch::Tensor forward(const torch::Tensor& z) { return this->net()->forward(z).to(z.scalar_type()); }

  /// g(z) for n latents drawn from `latent` instead of the generator's own prior (a truncated one,
  /// say), as `sample` does otherwise.
  template <Prior P>
  torch::Tensor sample_with(const P& latent, int64_t n, at::Generator& gen) {
    torch::NoGradGuard no_grad;
    const EvalMode eval(*this->net());
    return forward(latent.sample(n, parameter_options(), gen));
  }

  /// g(z) for n fresh latents in the network's own (training) mode, as the generator's steps see
  /// them: the generated batch on which a flow's estimator (a discriminator) trains.
  torch::Tensor training_sample(int64_t n, at::Generator& gen) {
    torch::NoGradGuard no_grad;
    return forward(latent_.sample(n, parameter_options(), gen));
  }

  /// One optimiser step along `flow` on n fresh latents.
  template <Flow F>
  Stats step(F& flow, int64_t n, at::Generator& gen) {
    return step_on(flow, latent_.sample(n, parameter_options(), gen));
  }

  /// One optimiser step along `flow` on the given latents z.
  template <Flow F>
  Stats step_on(F& flow, const torch::Tensor& z) {
    const torch::Tensor x = forward(z);
    torch::Tensor v;
    {
      torch::NoGradGuard no_grad;
      v = flow.velocity(x.detach(), torch::zeros({x.size(0)}, x.options())).detach();
    }
    GPM_CHECK(v.sizes() == x.sizes(), "Generator::step: the flow returned a velocity of shape {} for "
              "particles of shape {}", shape_string(v), shape_string(x));
    const torch::Tensor loss = -options_.loss_scale() * batched_dot(v, x).mean();
    const torch::Tensor grad_norm = this->network().minimise(loss);
    return {{"generator_loss", loss.detach()},
            {"velocity_norm", batched_squared_norm(v).mean().sqrt()},
            {"generator_grad_norm", grad_norm}};
  }

  const Latent& latent() const { return latent_; }
  const GeneratorOptions& options() const { return options_; }

 private:
  // The host's stream draws the latents; the network's own is never used, so it is not offered.
  using OwnsOptimisedNetwork<Net, Opt>::generator;

  torch::TensorOptions parameter_options() { return this->net()->parameters().front().options(); }

  Latent latent_;
  GeneratorOptions options_;
};

}  // namespace gpm
