// A network with its optimiser and its own random stream: the trainable part of every estimator
// (discriminator, denoiser) and generator. One place for the optimiser step and for checkpoints,
// and one base (OwnsOptimisedNetwork) through which the components that hold one expose it.
#pragma once

#include <cmath>
#include <concepts>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/fused_adam.hpp"
#include "gpm/core/gradient_buckets.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/core/weight_average.hpp"

namespace gpm {

/// Any LibTorch optimiser (torch::optim::SGD, Adam, RMSprop, ...).
template <class O>
concept Optimizer = std::derived_from<O, torch::optim::Optimizer>;

/// `net`, an `Opt` over its parameters, a random stream seeded with `seed` on the network's device,
/// and, if `average_decay` > 0, an exponential moving average of the weights updated after every step.
/// Example: `OptimisedNetwork<nn::Mlp, torch::optim::Adam> d(net, torch::optim::AdamOptions(2e-4), 0, "Critic");`
template <Module Net, Optimizer Opt>
class OptimisedNetwork {
 public:
  template <class OptimizerOptions>
  OptimisedNetwork(Net net, const OptimizerOptions& optimizer_options, uint64_t seed, const char* owner,
                   double average_decay = 0.0)
      : net_(std::move(net)) {
    const auto parameters = net_->parameters();
    GPM_CHECK(!parameters.empty(), "{}: the network has no parameters to train", owner);
    GPM_CHECK(average_decay >= 0 && average_decay < 1, "{}: the weight average's decay must be in [0, 1) "
              "(0: no average), got {}", owner, average_decay);
    optimizer_ = std::make_unique<Opt>(parameters, optimizer_options);
    for (const auto& group : optimizer_->param_groups()) base_learning_rates_.push_back(group.options().get_lr());
    gen_ = make_generator(seed, parameters.front().device());
    if (average_decay > 0) average_ = std::make_unique<WeightAverage>(*net_, average_decay);
  }

  /// One optimiser step on `loss`; returns the gradient norm of the step (a scalar tensor). Inside a
  /// DataParallelScope the gradients are the mean over the group's ranks. Adam's step, where it
  /// applies, is fused_adam_step: the same update in one pass.
  torch::Tensor minimise(const torch::Tensor& loss) {
    if (GradientBuckets* buckets = data_parallel_buckets()) {
      optimizer_->zero_grad();
      buckets->arm();
      loss.backward();
      buckets->finish();
    } else {
      backward_into_fresh_gradients(loss);
    }
    std::optional<torch::Tensor> norm;
    if constexpr (std::same_as<Opt, torch::optim::Adam>) norm = fused_adam_step(*optimizer_);
    if (!norm) {
      norm = gradient_norm(net_->parameters());
      optimizer_->step();
    }
    if (average_) average_->update(*net_);
    return *norm;
  }

  /// Sets every parameter group's learning rate to `factor` times the one it was built with: the
  /// multiplier of a schedule, set before each step (1 restores the original rate).
  void scale_learning_rate(double factor) {
    GPM_CHECK(std::isfinite(factor) && factor >= 0, "scale_learning_rate: the factor must be finite and >= 0, got {}",
              factor);
    auto& groups = optimizer_->param_groups();
    for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(base_learning_rates_[i] * factor);
  }

  /// The averaged weights swapped in for the scope of the result (a no-op without an average).
  AveragedWeights averaged_weights() { return AveragedWeights(average_.get(), *net_); }
  /// The average, or nullptr.
  const WeightAverage* average() const { return average_.get(); }

  /// Weights, optimiser state, random stream and weight average (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    write_module(archive, "net", net_);
    write_nested(archive, "optimizer", *optimizer_);
    write_generator(archive, "generator", gen_);
    if (average_) write_nested(archive, "average", *average_);
  }
  void load(torch::serialize::InputArchive& archive) {
    read_module(archive, "net", net_);
    read_nested(archive, "optimizer", *optimizer_);
    read_generator(archive, "generator", gen_);
    if (average_) read_nested(archive, "average", *average_);
  }

  Net& net() { return net_; }
  const Net& net() const { return net_; }
  Opt& optimizer() { return *optimizer_; }
  at::Generator& generator() { return gen_; }

 private:
  // The buckets over this thread's data-parallel group (made again when the group changes); none alone.
  GradientBuckets* data_parallel_buckets() {
    const auto& context = current_data_parallel();
    if (!context.group) return nullptr;
    if (!buckets_ || buckets_->group() != context.group)
      buckets_ = std::make_unique<GradientBuckets>(net_->parameters(), context.group, context.bucket_bytes);
    return buckets_.get();
  }

  // optimizer_->zero_grad() then loss.backward(), in effect, without filling the gradients with zeros
  // and adding backward's into them: they start undefined, so that backward's own tensors become
  // the gradients. A parameter that had a gradient and gets none from this loss gets zeros, as
  // zero_grad() would have left it (an optimiser steps it with its momentum).
  void backward_into_fresh_gradients(const torch::Tensor& loss) {
    had_gradient_.clear();
    for (auto& group : optimizer_->param_groups())
      for (auto& p : group.params()) {
        had_gradient_.push_back(p.grad().defined());
        p.mutable_grad().reset();
      }
    loss.backward();
    size_t i = 0;
    for (auto& group : optimizer_->param_groups())
      for (auto& p : group.params())
        if (had_gradient_[i++] && !p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  }

  Net net_;
  std::unique_ptr<Opt> optimizer_;
  std::vector<bool> had_gradient_;
  std::unique_ptr<GradientBuckets> buckets_;
  at::Generator gen_;
  std::unique_ptr<WeightAverage> average_;
  std::vector<double> base_learning_rates_;
};

/// The base of a component that trains one network (a discriminator flow, a denoiser trainer, a
/// generator): it holds the OptimisedNetwork and gives the component its public face, the
/// capabilities forwarded by ForwardsCapabilities (Checkpointable, HasAveragedWeights,
/// LearningRateScalable) plus `net()`, `optimizer()` and the network's random stream `generator()`
/// (OwnsRandomStream). The component takes its steps through the protected `network().minimise(loss)`.
/// Example:
///   `template <Module Net, Optimizer Opt> class Critic : public OwnsOptimisedNetwork<Net, Opt> {
///      ... Stats update(...) { return {{"grad_norm", this->network().minimise(loss)}}; } };`
template <Module Net, Optimizer Opt>
class OwnsOptimisedNetwork : public ForwardsCapabilities<OptimisedNetwork<Net, Opt>> {
 public:
  Net& net() { return this->wrapped().net(); }
  const Net& net() const { return this->wrapped().net(); }
  Opt& optimizer() { return this->wrapped().optimizer(); }
  /// The network's random stream (penalty interpolation, noise levels), saved with it.
  at::Generator& generator() { return this->wrapped().generator(); }

 protected:
  /// Builds the OptimisedNetwork; its arguments are the OptimisedNetwork constructor's.
  template <class OptimizerOptions>
  OwnsOptimisedNetwork(Net net, const OptimizerOptions& optimizer_options, uint64_t seed, const char* owner,
                       double average_decay)
      : ForwardsCapabilities<OptimisedNetwork<Net, Opt>>(
            OptimisedNetwork<Net, Opt>(std::move(net), optimizer_options, seed, owner, average_decay)) {}

  OptimisedNetwork<Net, Opt>& network() { return this->wrapped(); }
};

}  // namespace gpm
