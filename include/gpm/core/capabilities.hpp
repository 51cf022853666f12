// The optional capabilities of a policy: what hosts, combinators and the runner use when a policy
// has it and do without when it has not. Each is a named concept, so that a probe reads as the
// capability it asks for, and wrappers can forward exactly the capabilities of what they wrap
// (gpm::ForwardsCapabilities). What a policy must have is in gpm/core/concepts.hpp.
#pragma once

#include <concepts>
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/weight_average.hpp"

namespace gpm {

/// Whose whole training state (weights, optimiser, random streams, counters) is written to an
/// archive by `c.save(out)` and read back by `m.load(in)`. LibTorch modules and optimisers qualify.
/// Example: `static_assert(gpm::Checkpointable<gpm::MmdFlow<gpm::RbfKernel>>);`
template <class T>
concept Checkpointable = requires(const T& c, T& m, torch::serialize::OutputArchive& out,
                                  torch::serialize::InputArchive& in) {
  c.save(out);
  m.load(in);
};

/// Which keeps an average of its weights: `c.averaged_weights()` swaps it in, and puts the network in
/// eval mode, for the scope of the result (eval mode only when built without an average). Hosts
/// sample with it; training uses the live weights in training mode.
/// Example: `{ const auto use = flow.averaged_weights(); x = flow.velocity(x0, t); }`
template <class T>
concept HasAveragedWeights = requires(T& c) {
  { c.averaged_weights() } -> std::same_as<AveragedWeights>;
};

/// Which trains with optimisers: `c.scale_learning_rate(f)` sets each one's rate to `f` times the
/// rate it was built with (a schedule's multiplier, set before each step; 1 restores the rates).
/// Example: `gan.scale_learning_rate(0.5);`
template <class T>
concept LearningRateScalable = requires(T& c, double factor) { c.scale_learning_rate(factor); };

/// A network (held by a module holder) that says whether its forward treats each row alone and
/// keeps nothing between calls (no batch statistics, no power iteration): then a call on [a; b]
/// equals a call on a and one on b, up to rounding. Critics then take real and fake in one pass.
/// Example: `if (gpm::rows_independent(net)) logits = net->forward(torch::cat({a, b}));`
template <class N>
concept ReportsRowIndependence = requires(const N& net) {
  { net->rows_independent() } -> std::same_as<bool>;
};

/// `net->rows_independent()` where the network reports it; false (not known) elsewhere.
template <class N>
bool rows_independent(const N& net) {
  if constexpr (ReportsRowIndependence<N>) {
    return net->rows_independent();
  } else {
    return false;
  }
}

/// Which draws from a random stream of its own, `c.generator()`, saved with its checkpoint.
/// Example: `flow.generator().set_current_seed(7);`
template <class T>
concept OwnsRandomStream = requires(T& c) {
  { c.generator() } -> std::same_as<at::Generator&>;
};

/// Generator dynamics that generate the batch a flow's estimator trains on as their own steps see
/// it, `g.training_sample(n, gen)` (training mode: batch norm with batch statistics), where
/// `g.sample(n, gen)` is the evaluation-mode sample.
/// Example: `fake = generator.training_sample(64, gen);`
template <class G>
concept HasTrainingSample = requires(G& g, int64_t n, at::Generator& gen) {
  { g.training_sample(n, gen) } -> std::same_as<torch::Tensor>;
};

/// A flow driven by a frozen data denoiser, `f.data_denoiser()` (Score GAN's field), which can also
/// refine samples by itself (gpm::denoise_refine).
/// Example: `auto x = denoise_refine(score_gan.flow().data_denoiser(), x0, options, gen);`
template <class F>
concept HasDataDenoiser = requires(F& f) {
  { f.data_denoiser() } -> Denoiser;
};

/// A flow driven by a discriminator it exposes: the logits `f.logits(x, t)` ([N]), the loss whose
/// generator side `f.loss().generator_loss(logits)` gives each particle's cost, and the network
/// `f.net()` (a module holder).
/// Example: `auto cost = flow.loss().generator_loss(flow.logits(x, t));`
template <class F>
concept ExposesDiscriminator = requires(F& f, const torch::Tensor& x, const torch::Tensor& t) {
  { f.logits(x, t) } -> std::same_as<torch::Tensor>;
  { f.loss().generator_loss(x) } -> std::same_as<torch::Tensor>;
  { f.net() } -> Module;
};

/// The averaged weights of a component that keeps an average, swapped in (with its network in eval
/// mode) for the scope of the result; none (a no-op) for one that does not. What hosts use when they sample.
/// Example: `{ const auto use = averaged_weights_of(flow); x = integrate(euler, flow, x0, times, gen); }`
template <class C>
AveragedWeights averaged_weights_of(C& component) {
  if constexpr (HasAveragedWeights<C>) {
    return component.averaged_weights();
  } else {
    return {};
  }
}

/// Scales the learning rates of a component that trains with optimisers (LearningRateScalable);
/// nothing for one that does not. What hosts call on their policies.
/// Example: `scale_learning_rate_of(flow, 0.5);`
template <class C>
void scale_learning_rate_of(C& component, double factor) {
  if constexpr (LearningRateScalable<C>) component.scale_learning_rate(factor);
}

}  // namespace gpm
