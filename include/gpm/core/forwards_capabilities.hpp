// The base of a policy built around another one (a combinator such as Perturbed, a component around
// the part it trains): it has each optional capability of the wrapped policy, and only those, so a
// wrapper never drops a capability silently (a perturbed flow samples with its averaged weights) nor
// claims one it cannot honour.
#pragma once

#include <utility>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/weight_average.hpp"

namespace gpm {

/// Holds the wrapped policy `P` (`wrapped()`, for the derived class) and forwards each capability
/// of gpm/core/capabilities.hpp that P models, under a requires-clause: checkpoints (P's archive
/// as the wrapper's own), averaged weights, learning-rate scaling, estimator updates (TrainableFlow,
/// DataTrainableFlow), a data denoiser and a discriminator. A wrapper declares what it changes and
/// hides the forward of that name: one with state of its own (Perturbed's random stream) defines
/// save/load and nests P's archive in its own. A random stream is not forwarded: a wrapper that
/// draws owns one (OwnsRandomStream).
/// Example:
///   `template <gpm::Flow F> struct Reversed : gpm::ForwardsCapabilities<F> {
///      explicit Reversed(F f) : gpm::ForwardsCapabilities<F>(std::move(f)) {}
///      torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) { return -this->wrapped().velocity(x, t); }
///    };`
template <class P>
class ForwardsCapabilities {
 public:
  /// P's state as the wrapper's (Checkpointable iff P is).
  void save(torch::serialize::OutputArchive& archive) const
    requires Checkpointable<P>
  {
    policy_.save(archive);
  }
  void load(torch::serialize::InputArchive& archive)
    requires Checkpointable<P>
  {
    policy_.load(archive);
  }

  /// P's averaged weights for the scope of the result (HasAveragedWeights iff P has).
  AveragedWeights averaged_weights()
    requires HasAveragedWeights<P>
  {
    return policy_.averaged_weights();
  }

  /// P's learning rates times `factor` (LearningRateScalable iff P is).
  void scale_learning_rate(double factor)
    requires LearningRateScalable<P>
  {
    policy_.scale_learning_rate(factor);
  }

  /// One update of P's estimator (TrainableFlow, DataTrainableFlow iff P is).
  Stats update(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t)
    requires TrainableFlow<P>
  {
    return policy_.update(real, fake, t);
  }
  Stats update(const torch::Tensor& real)
    requires DataTrainableFlow<P>
  {
    return policy_.update(real);
  }

  /// P's data denoiser (HasDataDenoiser iff P has).
  decltype(auto) data_denoiser()
    requires HasDataDenoiser<P>
  {
    return policy_.data_denoiser();
  }

  /// P's discriminator: logits, loss and network (ExposesDiscriminator iff P does).
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& t)
    requires ExposesDiscriminator<P>
  {
    return policy_.logits(x, t);
  }
  decltype(auto) loss()
    requires ExposesDiscriminator<P>
  {
    return policy_.loss();
  }
  decltype(auto) net()
    requires ExposesDiscriminator<P>
  {
    return policy_.net();
  }

 protected:
  explicit ForwardsCapabilities(P policy) : policy_(std::move(policy)) {}

  P& wrapped() { return policy_; }
  const P& wrapped() const { return policy_; }

 private:
  P policy_;
};

}  // namespace gpm
