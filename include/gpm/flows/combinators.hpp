// Flow arithmetic: the sum of two flows, a flow scaled by a weight, and a flow that acts on every k-th
// evaluation only. A regularised model is a sum: SMaRt is a GAN's flow plus a weighted score-matching
// regularity flow applied every k-th generator step.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// λ f: the field of `flow` times `weight`, with every optional capability of f (its estimator
/// trains as before: only the field it gives is scaled).
/// Example: `Weighted regulariser(ScoreMatchingRegularity(denoiser), 0.1);`
template <Flow F>
class Weighted : public ForwardsCapabilities<F> {
 public:
  Weighted(F flow, double weight) : ForwardsCapabilities<F>(std::move(flow)), weight_(weight) {
    GPM_CHECK(std::isfinite(weight), "Weighted: the weight must be finite, got {}", weight);
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    return weight_ * this->wrapped().velocity(x, t);
  }

  double weight() const { return weight_; }
  F& flow() { return this->wrapped(); }

 private:
  double weight_;
};

/// The base of a wrapper whose field depends on how many times the field was evaluated (a schedule):
/// it counts evaluations (`count_evaluation()` in the derived velocity), checkpoints the count with
/// the wrapped flow's state (so it is Checkpointable whatever F is), and forwards F's other
/// capabilities (gpm::ForwardsCapabilities).
template <Flow F>
class CountsEvaluations : public ForwardsCapabilities<F> {
 public:
  int64_t evaluations() const { return evaluations_; }
  F& flow() { return this->wrapped(); }

  void save(torch::serialize::OutputArchive& archive) const {
    write_counter(archive, "evaluations", evaluations_);
    if constexpr (Checkpointable<F>) write_nested(archive, "flow", this->wrapped());
  }
  void load(torch::serialize::InputArchive& archive) {
    evaluations_ = read_counter(archive, "evaluations");
    if constexpr (Checkpointable<F>) read_nested(archive, "flow", this->wrapped());
  }

 protected:
  explicit CountsEvaluations(F flow) : ForwardsCapabilities<F>(std::move(flow)) {}
  /// The index of this evaluation (0 for the first), counted.
  int64_t count_evaluation() { return evaluations_++; }

 private:
  int64_t evaluations_ = 0;
};

/// f on evaluations 0, k, 2k, … of the field and 0 on the others (f is not called there): a lazy
/// regulariser, paid for on one generator step in k when a generator calls the field once per step.
/// Every optional capability is f's, and it checkpoints its count (gpm::CountsEvaluations).
/// Example: `Every lazy(Weighted(ScoreMatchingRegularity(denoiser), 0.1), 8);`
template <Flow F>
class Every : public CountsEvaluations<F> {
 public:
  Every(F flow, int64_t period) : CountsEvaluations<F>(std::move(flow)), period_(period) {
    GPM_CHECK(period >= 1, "Every: the period must be >= 1 (1 applies the flow at every evaluation), got {}", period);
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    if (this->count_evaluation() % period_ != 0) return torch::zeros_like(x);
    return this->wrapped().velocity(x, t);
  }

  /// Whether the next evaluation applies f.
  bool next_is_active() const { return this->evaluations() % period_ == 0; }
  int64_t period() const { return period_; }

 private:
  int64_t period_;
};

/// a + b: particles follow the sum of the two fields. Each update trains the estimator of every
/// trainable term on the same batches (TrainableFlow when one term is); checkpoints hold the state
/// of each Checkpointable term; learning-rate scaling and weight averages reach both terms. The
/// discriminator (ExposesDiscriminator) and data denoiser (HasDataDenoiser) are the first term's:
/// put the term a host should see first.
/// Example: `FlowSum smart(std::move(gan.flow()), Every(Weighted(ScoreMatchingRegularity(denoiser), 0.1), 8));`
template <Flow A, Flow B>
class FlowSum {
 public:
  FlowSum(A first, B second) : first_(std::move(first)), second_(std::move(second)) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    return first_.velocity(x, t) + second_.velocity(x, t);
  }

  /// One update of each trainable term's estimator; the statistics of both (the first's on a name clash).
  Stats update(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t)
    requires(TrainableFlow<A> || TrainableFlow<B>)
  {
    Stats stats;
    if constexpr (TrainableFlow<A>) stats = first_.update(real, fake, t);
    if constexpr (TrainableFlow<B>) stats.merge(second_.update(real, fake, t));
    return stats;
  }

  /// The averaged weights of each term that keeps an average, for the scope of the result.
  AveragedWeights averaged_weights()
    requires(HasAveragedWeights<A> || HasAveragedWeights<B>)
  {
    return AveragedWeights(averaged_weights_of(first_), averaged_weights_of(second_));
  }

  void scale_learning_rate(double factor)
    requires(LearningRateScalable<A> || LearningRateScalable<B>)
  {
    scale_learning_rate_of(first_, factor);
    scale_learning_rate_of(second_, factor);
  }

  void save(torch::serialize::OutputArchive& archive) const {
    if constexpr (Checkpointable<A>) write_nested(archive, "first", first_);
    if constexpr (Checkpointable<B>) write_nested(archive, "second", second_);
  }
  void load(torch::serialize::InputArchive& archive) {
    if constexpr (Checkpointable<A>) read_nested(archive, "first", first_);
    if constexpr (Checkpointable<B>) read_nested(archive, "second", second_);
  }

  /// The first term's discriminator (ExposesDiscriminator iff the first term does).
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& t)
    requires ExposesDiscriminator<A>
  {
    return first_.logits(x, t);
  }
  decltype(auto) loss()
    requires ExposesDiscriminator<A>
  {
    return first_.loss();
  }
  decltype(auto) net()
    requires ExposesDiscriminator<A>
  {
    return first_.net();
  }

  /// The first term's data denoiser (HasDataDenoiser iff the first term has one).
  decltype(auto) data_denoiser()
    requires HasDataDenoiser<A>
  {
    return first_.data_denoiser();
  }

  A& first() { return first_; }
  B& second() { return second_; }

 private:
  A first_;
  B second_;
};

}  // namespace gpm
