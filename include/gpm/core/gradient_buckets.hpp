// Gradient averaging over a data-parallel group, overlapped with the backward pass: a network's
// parameters are packed into a few flat buckets, each summed over the group as soon as the backward
// pass has produced all of its gradients, in the same order on every rank.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "gpm/core/data_parallel.hpp"
#include "gpm/core/errors.hpp"

namespace gpm {

/// The buckets of one network's trainable parameters over `group`. Around one backward pass:
/// `arm()` before it, `finish()` after it; then each parameter's gradient is the mean of the ranks'
/// gradients. A parameter that no rank gave a gradient keeps the gradient it had (none, or zeros),
/// as one process over the whole batch would.
/// Example: `buckets.arm(); loss.backward(); buckets.finish(); optimizer.step();`
class GradientBuckets {
 public:
  GradientBuckets(const std::vector<torch::Tensor>& parameters, std::shared_ptr<Collectives> group, int64_t bucket_bytes)
      : state_(std::make_shared<State>()) {
    GPM_CHECK(group != nullptr, "GradientBuckets: the group is null");
    state_->group = std::move(group);
    // Gradients arrive roughly from the last layer to the first: the buckets follow that order.
    for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
      if (!it->requires_grad()) continue;
      const bool fits = !state_->buckets.empty() && state_->buckets.back().dtype == it->scalar_type() &&
                        state_->buckets.back().device == it->device() &&
                        (state_->buckets.back().numel + it->numel()) * it->element_size() <= bucket_bytes;
      if (!fits) state_->buckets.push_back({it->scalar_type(), it->device()});
      auto& bucket = state_->buckets.back();
      bucket.slots.push_back(state_->slots.size());
      state_->slots.push_back({*it, state_->buckets.size() - 1, bucket.numel, false});
      bucket.numel += it->numel();
    }
    // Each bucket: the gradients, then one flag per parameter (1 where a rank had its gradient).
    for (auto& bucket : state_->buckets)
      bucket.flat = torch::zeros({bucket.numel + static_cast<int64_t>(bucket.slots.size())},
                                 torch::TensorOptions().dtype(bucket.dtype).device(bucket.device));
    const std::weak_ptr<State> weak = state_;
    for (size_t i = 0; i < state_->slots.size(); ++i)
      state_->slots[i].parameter.register_hook([weak, i](const torch::Tensor& grad) {
        if (const auto state = weak.lock()) state->on_gradient(i, grad);
      });
  }

  /// Gradients of the next backward pass go into the buckets.
  void arm() {
    for (auto& slot : state_->slots) slot.ready = false;
    for (auto& bucket : state_->buckets) {
      bucket.pending = bucket.slots.size();
      bucket.wait = nullptr;
    }
    state_->next = 0;
    state_->armed = true;
  }

  /// After the backward pass: sums the buckets not yet started (a parameter without a gradient adds
  /// zeros), waits for every sum and writes the means into the parameters' gradients.
  void finish() {
    auto& s = *state_;
    s.armed = false;
    for (auto& slot : s.slots) {
      if (slot.ready) continue;
      s.buckets[slot.bucket].flat.narrow(0, slot.offset, slot.parameter.numel()).zero_();
      --s.buckets[slot.bucket].pending;
    }
    s.start_ready();
    const double world = static_cast<double>(s.group->world_size());
    for (auto& bucket : s.buckets) {
      bucket.wait();
      bucket.flat.narrow(0, 0, bucket.numel).div_(world);
      const auto had_gradient = bucket.flat.narrow(0, bucket.numel, static_cast<int64_t>(bucket.slots.size()))
                                    .to(torch::kCPU, torch::kFloat64)
                                    .contiguous();
      const double* flags = had_gradient.data_ptr<double>();
      for (size_t k = 0; k < bucket.slots.size(); ++k) {
        if (flags[k] == 0) continue;
        auto& slot = s.slots[bucket.slots[k]];
        auto mean = bucket.flat.narrow(0, slot.offset, slot.parameter.numel()).view(slot.parameter.sizes());
        if (slot.parameter.grad().defined()) {
          slot.parameter.mutable_grad().copy_(mean);
        } else {
          slot.parameter.mutable_grad() = mean.clone();
        }
      }
    }
  }

  const std::shared_ptr<Collectives>& group() const { return state_->group; }
  /// How many summations one step takes.
  int64_t buckets() const { return static_cast<int64_t>(state_->buckets.size()); }

 private:
  struct Slot {
    torch::Tensor parameter;
    size_t bucket;
    int64_t offset;
    bool ready;
  };
  struct Bucket {
    torch::ScalarType dtype;
    torch::Device device;
    std::vector<size_t> slots{};
    int64_t numel = 0;
    torch::Tensor flat{};
    size_t pending = 0;
    std::function<void()> wait{};
  };
  struct State {
    std::shared_ptr<Collectives> group;
    std::vector<Slot> slots;
    std::vector<Bucket> buckets;
    size_t next = 0;
    bool armed = false;

    void on_gradient(size_t i, const torch::Tensor& grad) {
      if (!armed) return;
      auto& slot = slots[i];
      GPM_CHECK(!slot.ready, "GradientBuckets: a parameter received two gradients in one backward pass; call arm() "
                "before each backward pass and finish() after it");
      slot.ready = true;
      auto& bucket = buckets[slot.bucket];
      bucket.flat.narrow(0, slot.offset, slot.parameter.numel()).copy_(grad.reshape(-1));
      --bucket.pending;
      start_ready();
    }
    // Buckets start in their order on every rank, whatever order their gradients came in.
    void start_ready() {
      while (next < buckets.size() && buckets[next].pending == 0) {
        auto& bucket = buckets[next];
        // The had-a-gradient flags, written in one copy: the sum then counts the ranks that had each.
        std::vector<double> had_gradient;
        had_gradient.reserve(bucket.slots.size());
        for (const size_t i : bucket.slots) had_gradient.push_back(slots[i].ready ? 1.0 : 0.0);
        bucket.flat.narrow(0, bucket.numel, static_cast<int64_t>(had_gradient.size()))
            .copy_(torch::tensor(had_gradient, torch::kFloat64));
        bucket.wait = group->start_sum(bucket.flat);
        ++next;
      }
    }
  };
  std::shared_ptr<State> state_;
};

}  // namespace gpm
