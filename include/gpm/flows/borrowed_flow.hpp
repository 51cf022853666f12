// A flow used by reference: a particle model that integrates the field of a flow another model owns.
#pragma once

#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/weight_average.hpp"

namespace gpm {

/// The flow `flow`, held by reference, so that a particle model can integrate the field another
/// model owns and trains (a GAN's discriminator, refining that GAN's samples) without copying it.
/// It forwards the velocity and the weight average (a host samples with the averaged weights, as
/// with the flow itself). `flow` must outlive it; it is not a TrainableFlow: train the owner.
/// Models gpm::Flow. Example: `ParticleModel refined(BorrowedFlow(gan.flow()), Euler{}, grid, prior);`
template <Flow F>
class BorrowedFlow {
 public:
  explicit BorrowedFlow(F& flow) : flow_(&flow) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) { return flow_->velocity(x, t); }

  /// The borrowed flow's averaged weights while alive, if it keeps an average (gpm::WeightAverage).
  AveragedWeights averaged_weights() { return averaged_weights_of(*flow_); }

  F& flow() { return *flow_; }

 private:
  F* flow_;
};

}  // namespace gpm
