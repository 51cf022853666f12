// A network with its optimiser and its own random stream: the trainable part of every estimator
// (discriminator, denoiser) and generator. One place for the optimiser step and for checkpoints.
#pragma once

#include <concepts>
#include <memory>

#include <ATen/core/Generator.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/io/state.hpp"

namespace gpm {

/// Any LibTorch optimiser (torch::optim::SGD, Adam, RMSprop, ...).
template <class O>
concept Optimizer = std::derived_from<O, torch::optim::Optimizer>;

/// `net`, an `Opt` over its parameters, and a random stream seeded with `seed` on the network's device.
/// Example: `OptimisedNetwork<nn::Mlp, torch::optim::Adam> d(net, torch::optim::AdamOptions(2e-4), 0, "Critic");`
template <Module Net, Optimizer Opt>
class OptimisedNetwork {
 public:
  template <class OptimizerOptions>
  OptimisedNetwork(Net net, const OptimizerOptions& optimizer_options, uint64_t seed, const char* owner)
      : net_(std::move(net)) {
    const auto parameters = net_->parameters();
    GPM_CHECK(!parameters.empty(), "{}: the network has no parameters to train", owner);
    optimizer_ = std::make_unique<Opt>(parameters, optimizer_options);
    gen_ = make_generator(seed, parameters.front().device());
  }

  /// One optimiser step on `loss`; returns the gradient norm of the step (a scalar tensor).
  torch::Tensor minimise(const torch::Tensor& loss) {
    optimizer_->zero_grad();
    loss.backward();
    torch::Tensor norm = gradient_norm(net_->parameters());
    optimizer_->step();
    return norm;
  }

  /// Weights, optimiser state and random stream (Checkpointable).
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
  const Net& net() const { return net_; }
  Opt& optimizer() { return *optimizer_; }
  at::Generator& generator() { return gen_; }

 private:
  Net net_;
  std::unique_ptr<Opt> optimizer_;
  at::Generator gen_;
};

}  // namespace gpm
