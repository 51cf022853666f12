// Generator dynamics: the interacting-particle side of the framework. A network g_θ(z) is trained
// so that its outputs follow a flow, which the generator's neural tangent kernel smooths.
#pragma once

#include <concepts>
#include <memory>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/io/state.hpp"

namespace gpm {

/// Any LibTorch optimiser (torch::optim::SGD, Adam, RMSprop, ...).
template <class O>
concept Optimizer = std::derived_from<O, torch::optim::Optimizer>;

struct GeneratorOptions {
  /// Multiplies the generator loss (the reference's gen_loss_scale).
  TORCH_ARG(double, loss_scale) = 1.0;
};

/// g_θ with its optimiser and latent prior. One `step` draws z ~ latent, forms x = g(z), evaluates
/// v = stopgrad(flow.velocity(x, 0)) and steps the optimiser on L(θ) = −loss_scale · mean_i ⟨v_i, x_i⟩,
/// whose gradient −mean_i J_θ g(z_i)ᵀ v_i moves each output by the NTK-smoothed field
/// (Franceschi et al. 2023, arXiv:2305.16150, Eqs. 10–12). Models gpm::GeneratorDynamics.
/// Example:
///   `Generator<nn::Mlp, torch::optim::Adam> g(net, GaussianPrior(GaussianPriorOptions({128})),
///                                             torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));`
template <GeneratorNetwork Net, Optimizer Opt, Prior Latent = GaussianPrior>
class Generator {
 public:
  template <class OptimizerOptions>
  Generator(Net net, Latent latent, const OptimizerOptions& optimizer_options, GeneratorOptions options = {})
      : net_(std::move(net)),
        latent_(std::move(latent)),
        optimizer_(std::make_unique<Opt>(net_->parameters(), optimizer_options)),
        options_(options) {
    GPM_CHECK(!net_->parameters().empty(), "Generator: the network has no parameters to train");
  }

  /// g(z) for n fresh latents, without building a graph (the network keeps its train/eval mode).
  torch::Tensor sample(int64_t n, at::Generator& gen) {
    torch::NoGradGuard no_grad;
    return net_->forward(latent_.sample(n, parameter_options(), gen));
  }

  /// One optimiser step along `flow` on n fresh latents.
  template <Flow F>
  Stats step(F& flow, int64_t n, at::Generator& gen) {
    return step_on(flow, latent_.sample(n, parameter_options(), gen));
  }

  /// One optimiser step along `flow` on the given latents z.
  template <Flow F>
  Stats step_on(F& flow, const torch::Tensor& z) {
    const torch::Tensor x = net_->forward(z);
    torch::Tensor v;
    {
      torch::NoGradGuard no_grad;
      v = flow.velocity(x.detach(), torch::zeros({x.size(0)}, x.options())).detach();
    }
    GPM_CHECK(v.sizes() == x.sizes(), "Generator::step: the flow returned a velocity of shape {} for "
              "particles of shape {}", shape_string(v), shape_string(x));
    const torch::Tensor loss = -options_.loss_scale() * batched_dot(v, x).mean();
    optimizer_->zero_grad();
    loss.backward();
    optimizer_->step();
    return {{"generator_loss", loss.detach()},
            {"velocity_norm", batched_squared_norm(v).mean().sqrt()},
            {"generator_grad_norm", gradient_norm(net_->parameters())}};
  }

  /// Network weights and optimiser state (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    io::write_module(archive, "net", net_);
    io::write_nested(archive, "optimizer", *optimizer_);
  }
  void load(torch::serialize::InputArchive& archive) {
    io::read_module(archive, "net", net_);
    io::read_nested(archive, "optimizer", *optimizer_);
  }

  Net& net() { return net_; }
  Opt& optimizer() { return *optimizer_; }
  const Latent& latent() const { return latent_; }
  const GeneratorOptions& options() const { return options_; }

 private:
  torch::TensorOptions parameter_options() { return net_->parameters().front().options(); }

  Net net_;
  Latent latent_;
  std::unique_ptr<Opt> optimizer_;
  GeneratorOptions options_;
};

}  // namespace gpm
