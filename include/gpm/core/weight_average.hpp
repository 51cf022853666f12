// Exponential moving average of a network's weights (Polyak averaging). Training keeps stepping the
// live weights; sampling and evaluation swap the average in, which removes the step-to-step jitter
// of the last iterate (EDM samples with it; so do many GANs).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/module.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/io/state.hpp"

namespace gpm {

/// avg ← β avg + (1 − β) θ after each update, with β = min(decay, (1 + n)/(10 + n)) at the n-th update
/// so that the first updates are not dominated by the initial weights. Only parameters are averaged;
/// buffers (e.g. batch-norm statistics) stay live.
class WeightAverage {
 public:
  WeightAverage(const torch::nn::Module& module, double decay) : decay_(decay) {
    GPM_CHECK(decay > 0 && decay < 1, "WeightAverage: decay must be in (0, 1), got {} (0 disables the average "
              "where an option offers it)", decay);
    torch::NoGradGuard no_grad;
    for (const auto& p : module.parameters()) average_.push_back(p.detach().clone());
  }

  /// Folds the module's current weights into the average.
  void update(const torch::nn::Module& module) {
    torch::NoGradGuard no_grad;
    const auto parameters = module.parameters();
    check_matches(parameters, "update");
    const double n = static_cast<double>(updates_++);
    const double beta = std::min(decay_, (1.0 + n) / (10.0 + n));
    for (size_t i = 0; i < parameters.size(); ++i) average_[i].lerp_(parameters[i].detach(), 1.0 - beta);
  }

  /// Exchanges the module's weights with the average (twice restores both).
  void swap(torch::nn::Module& module) {
    torch::NoGradGuard no_grad;
    const auto parameters = module.parameters();
    check_matches(parameters, "swap");
    for (size_t i = 0; i < parameters.size(); ++i) {
      torch::Tensor live = parameters[i].detach().clone();
      parameters[i].detach().copy_(average_[i]);
      average_[i].copy_(live);
    }
  }

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }

  /// The averaged weights and the update count (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    for (size_t i = 0; i < average_.size(); ++i) archive.write(fmt::format("p{}", i), average_[i]);
    io::write_counter(archive, "updates", updates_);
  }
  void load(torch::serialize::InputArchive& archive) {
    for (size_t i = 0; i < average_.size(); ++i) {
      torch::Tensor saved;
      archive.read(fmt::format("p{}", i), saved);
      GPM_CHECK(saved.sizes() == average_[i].sizes(), "WeightAverage::load: saved weight {} has shape {}, the network's "
                "has {}; the checkpoint belongs to another architecture", i, shape_string(saved), shape_string(average_[i]));
      average_[i].copy_(saved);
    }
    updates_ = io::read_counter(archive, "updates");
  }

 private:
  void check_matches(const std::vector<torch::Tensor>& parameters, const char* what) const {
    GPM_CHECK(parameters.size() == average_.size(), "WeightAverage::{}: the network has {} parameter tensors, the "
              "average was made for {}; average the network it was created from", what, parameters.size(), average_.size());
  }

  double decay_;
  std::vector<torch::Tensor> average_;
  int64_t updates_ = 0;
};

/// Copies the parameters and buffers of `from` into `to`, a module of the same architecture.
inline void copy_weights(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto source = from.named_parameters(), target = to.named_parameters();
  const auto source_buffers = from.named_buffers(), target_buffers = to.named_buffers();
  GPM_CHECK(source.size() == target.size() && source_buffers.size() == target_buffers.size(),
            "copy_weights: the modules differ in their number of parameters or buffers; they must share an architecture");
  const auto copy = [](const auto& from_items, const auto& to_items) {
    for (const auto& item : from_items) {
      const auto* dest = to_items.find(item.key());
      GPM_CHECK(dest != nullptr && dest->sizes() == item.value().sizes(), "copy_weights: '{}' of shape {} has no "
                "counterpart of that shape; the modules must share an architecture", item.key(), shape_string(item.value()));
      dest->detach().copy_(item.value());
    }
  };
  copy(source, target);
  copy(source_buffers, target_buffers);
}

/// While alive, `module` holds the averaged weights (none: a no-op); the live weights come back at
/// the end of the scope. Example: `{ AveragedWeights use(average, net); sample(); }`
class [[nodiscard]] AveragedWeights {
 public:
  AveragedWeights() = default;
  AveragedWeights(WeightAverage* average, torch::nn::Module& module) : average_(average), module_(&module) {
    if (average_ != nullptr) average_->swap(*module_);
  }
  AveragedWeights(AveragedWeights&& other) noexcept
      : average_(std::exchange(other.average_, nullptr)), module_(std::exchange(other.module_, nullptr)) {}
  AveragedWeights& operator=(AveragedWeights&&) = delete;
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;
  ~AveragedWeights() {
    if (average_ != nullptr) average_->swap(*module_);
  }

 private:
  WeightAverage* average_ = nullptr;
  torch::nn::Module* module_ = nullptr;
};

/// The averaged weights of a component that keeps an average (`c.averaged_weights()`), else none:
/// what the model hosts use when they sample.
template <class C>
AveragedWeights averaged_weights_of(C& component) {
  if constexpr (requires { { component.averaged_weights() } -> std::same_as<AveragedWeights>; }) {
    return component.averaged_weights();
  } else {
    return {};
  }
}

}  // namespace gpm
