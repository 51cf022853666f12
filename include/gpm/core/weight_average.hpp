// Exponential moving average of a network's weights and buffers (Polyak averaging). Training keeps
// stepping the live weights; sampling and evaluation swap the average in, which removes the
// step-to-step jitter of the last iterate (EDM samples with it; so do many GANs).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/module.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/eval_mode.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// avg ← β avg + (1 − β) θ after each update, with β = min(decay, (1 + n)/(10 + n)) at the n-th update
/// so that the first updates are not dominated by the initial weights. Floating-point buffers
/// (batch norm's running_mean and running_var) are averaged the same way, as BigGAN's and timm's
/// averages do: statistics of the live weights over the same window, so they fit the averaged
/// weights better than the last iterate's. Counters are copied: integer buffers, and batch norm's
/// num_batches_tracked, which LibTorch's Module::to(dtype) casts to floating point.
class WeightAverage {
 public:
  WeightAverage(const torch::nn::Module& module, double decay) : decay_(decay) {
    GPM_CHECK(decay > 0 && decay < 1, "WeightAverage: decay must be in (0, 1), got {} (0 disables the average "
              "where an option offers it)", decay);
    torch::NoGradGuard no_grad;
    for (const auto& p : module.parameters()) average_.push_back(p.detach().clone());
    for (const auto& b : module.named_buffers()) {
      buffers_.push_back(b.value().detach().clone());
      counters_.push_back(!b.value().is_floating_point() || b.key().ends_with("num_batches_tracked"));
    }
  }

  /// Folds the module's current weights and buffers into the average.
  void update(const torch::nn::Module& module) {
    torch::NoGradGuard no_grad;
    const auto parameters = module.parameters();
    const auto buffers = module.buffers();
    check_matches(parameters, buffers, "update");
    const double n = static_cast<double>(updates_++);
    const double beta = std::min(decay_, (1.0 + n) / (10.0 + n));
    for (size_t i = 0; i < parameters.size(); ++i) average_[i].lerp_(parameters[i].detach(), 1.0 - beta);
    for (size_t i = 0; i < buffers.size(); ++i) {
      if (counters_[i] || buffers_follow_live_)
        buffers_[i].copy_(buffers[i].detach());
      else
        buffers_[i].lerp_(buffers[i].detach(), 1.0 - beta);
    }
    buffers_follow_live_ = false;
  }

  /// Exchanges the module's weights and buffers with the average (twice restores both).
  void swap(torch::nn::Module& module) {
    torch::NoGradGuard no_grad;
    const auto parameters = module.parameters();
    const auto buffers = module.buffers();
    check_matches(parameters, buffers, "swap");
    const auto exchange = [](const torch::Tensor& live, torch::Tensor& average) {
      torch::Tensor kept = live.detach().clone();
      live.detach().copy_(average);
      average.copy_(kept);
    };
    for (size_t i = 0; i < parameters.size(); ++i) exchange(parameters[i], average_[i]);
    if (!buffers_follow_live_)
      for (size_t i = 0; i < buffers.size(); ++i) exchange(buffers[i], buffers_[i]);
  }

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }

  /// The averaged weights and buffers and the update count (Checkpointable). An average saved
  /// without buffers loads with the live buffers in their place until its next update.
  void save(torch::serialize::OutputArchive& archive) const {
    for (size_t i = 0; i < average_.size(); ++i) archive.write(fmt::format("p{}", i), average_[i]);
    if (!buffers_follow_live_)
      for (size_t i = 0; i < buffers_.size(); ++i) archive.write(fmt::format("b{}", i), buffers_[i], /*is_buffer=*/true);
    write_counter(archive, "updates", updates_);
  }
  void load(torch::serialize::InputArchive& archive) {
    const auto check_shape = [](const torch::Tensor& saved, const torch::Tensor& own, const char* what, size_t i) {
      GPM_CHECK(saved.sizes() == own.sizes(), "WeightAverage::load: saved {} {} has shape {}, the network's has {}; the "
                "checkpoint belongs to another architecture", what, i, shape_string(saved), shape_string(own));
    };
    for (size_t i = 0; i < average_.size(); ++i) {
      torch::Tensor saved;
      archive.read(fmt::format("p{}", i), saved);
      check_shape(saved, average_[i], "weight", i);
      average_[i].copy_(saved);
    }
    buffers_follow_live_ = false;
    for (size_t i = 0; i < buffers_.size(); ++i) {
      torch::Tensor saved;
      if (!archive.try_read(fmt::format("b{}", i), saved, /*is_buffer=*/true)) {
        buffers_follow_live_ = true;
        continue;
      }
      check_shape(saved, buffers_[i], "buffer", i);
      buffers_[i].copy_(saved);
    }
    updates_ = read_counter(archive, "updates");
  }

 private:
  void check_matches(const std::vector<torch::Tensor>& parameters, const std::vector<torch::Tensor>& buffers,
                     const char* what) const {
    GPM_CHECK(parameters.size() == average_.size() && buffers.size() == buffers_.size(), "WeightAverage::{}: the "
              "network has {} parameter tensors and {} buffers, the average was made for {} and {}; average the network "
              "it was created from", what, parameters.size(), buffers.size(), average_.size(), buffers_.size());
  }

  double decay_;
  std::vector<torch::Tensor> average_;
  std::vector<torch::Tensor> buffers_;
  std::vector<bool> counters_;
  /// Set by loading an average saved without buffers: the live buffers stand in until the next update.
  bool buffers_follow_live_ = false;
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

/// While alive, `module` is as a model samples with it: in eval mode (dropout off, batch norm on its
/// running statistics) and holding the averaged weights, if `average` is not null; the live weights
/// and each module's own mode come back at the end of the scope. Default-constructed: a no-op.
/// Example: `{ AveragedWeights use(average, net); sample(); }`
class [[nodiscard]] AveragedWeights {
 public:
  AveragedWeights() = default;
  AveragedWeights(WeightAverage* average, torch::nn::Module& module)
      : eval_(std::make_unique<EvalMode>(module)), average_(average), module_(&module) {
    if (average_ != nullptr) average_->swap(*module_);
  }
  /// Both scopes at once (a combinator of two policies that each keep an average); `second` ends first.
  AveragedWeights(AveragedWeights first, AveragedWeights second)
      : AveragedWeights(std::move(first)) {
    also_ = std::make_unique<AveragedWeights>(std::move(second));
  }
  AveragedWeights(AveragedWeights&& other) noexcept
      : eval_(std::move(other.eval_)),
        average_(std::exchange(other.average_, nullptr)),
        module_(std::exchange(other.module_, nullptr)),
        also_(std::move(other.also_)) {}
  AveragedWeights& operator=(AveragedWeights&&) = delete;
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;
  ~AveragedWeights() {
    also_.reset();
    if (average_ != nullptr) average_->swap(*module_);
  }

 private:
  std::unique_ptr<EvalMode> eval_;  // destroyed after the weights are back: modes restore last
  WeightAverage* average_ = nullptr;
  torch::nn::Module* module_ = nullptr;
  std::unique_ptr<AveragedWeights> also_;
};

}  // namespace gpm
