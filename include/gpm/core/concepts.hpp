// The C++20 concepts that state each policy's contract: flows, trainable flows, integrators,
// generator dynamics, time grids, priors, and the small callables they are built from. The
// optional capabilities a policy may add (checkpoints, weight averages, ...) are in
// gpm/core/capabilities.hpp.
#pragma once

#include <concepts>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace gpm {

/// Named scalar statistics of one update (losses, norms). Values stay tensors so that training
/// loops never synchronise with the device; call .item() only when logging.
using Stats = std::map<std::string, torch::Tensor>;

/// One step of a time grid, as an integrator sees it: from t0 to t1, step `index` of `count`.
struct Step {
  double t0 = 0.0;
  double t1 = 0.0;
  int64_t index = 0;
  int64_t count = 1;
  double dt() const { return t1 - t0; }
  bool last() const { return index + 1 == count; }
};

/// A flow functional: the vector field v(x, t) = ∇ₓ h_ρ(x) that particles follow.
/// `x` is a batch of particles [N, ...] (the batch is the current distribution ρ), `t` one time
/// per particle [N]; the result has the shape of `x` and does not require grad.
/// A flow that needs input gradients enables grad mode itself: it is called under NoGradGuard.
/// @see docs/concepts.md#flow
template <class F>
concept Flow = requires(F& f, const torch::Tensor& x, const torch::Tensor& t) {
  { f.velocity(x, t) } -> std::same_as<torch::Tensor>;
};

/// A flow whose field is estimated from samples (a discriminator, a score network, a sample set):
/// `update(real, fake, t)` performs one optimisation step of the estimator on data `real` and
/// generated particles `fake` at per-particle times `t`, and returns its statistics.
/// @see docs/concepts.md#trainableflow
template <class F>
concept TrainableFlow =
    Flow<F> && requires(F& f, const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t) {
      { f.update(real, fake, t) } -> std::same_as<Stats>;
    };

/// A flow whose estimator learns from data alone (EDM's denoiser): `update(real)` performs one
/// optimisation step on the data batch `real`; no generated particles are needed.
/// @see docs/concepts.md#datatrainableflow
template <class F>
concept DataTrainableFlow = Flow<F> && requires(F& f, const torch::Tensor& real) {
  { f.update(real) } -> std::same_as<Stats>;
};

namespace detail {
/// The smallest flow, used to check integrators and generator dynamics against the Flow contract.
struct FlowArchetype {
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor&) { return x; }
};
}  // namespace detail

/// A particle-model stepper: advances particles `x` along a flow over one grid step.
/// Randomness, if any, comes from `gen`.
/// @see docs/concepts.md#integrator
template <class I>
concept Integrator = requires(I& i, detail::FlowArchetype& f, const torch::Tensor& x, const Step& s,
                              at::Generator& gen) {
  { i.step(f, x, s, gen) } -> std::same_as<torch::Tensor>;
};

/// A discretisation of generation time: `times()` returns N + 1 points t_0, ..., t_N.
/// @see docs/concepts.md#timegrid
template <class G>
concept TimeGrid = requires(const G& g) {
  { g.times() } -> std::same_as<std::vector<double>>;
};

/// A distribution to draw initial particles (or latent codes) from.
/// @see docs/concepts.md#prior
template <class P>
concept Prior = requires(const P& p, int64_t n, const torch::TensorOptions& options, at::Generator& gen) {
  { p.sample(n, options, gen) } -> std::same_as<torch::Tensor>;
};

/// A LibTorch module holder (`TORCH_MODULE`) whose parameters can be trained: `m->parameters()`.
template <class M>
concept Module = requires(M& m) {
  { m->parameters() } -> std::same_as<std::vector<torch::Tensor>>;
};

/// A module mapping one tensor to one tensor, `net->forward(z)`: a generator network.
template <class M>
concept GeneratorNetwork = Module<M> && requires(M& m, const torch::Tensor& z) {
  { m->forward(z) } -> std::same_as<torch::Tensor>;
};

/// Interacting-particle dynamics: a generator g_θ whose weights follow the field.
/// `sample(n, gen)` returns g(z) for n fresh latents without building a graph;
/// `step(flow, n, gen)` draws n latents, evaluates the flow at x = g(z) and takes one optimiser
/// step on −mean⟨stopgrad(v), g(z)⟩, returning its statistics.
/// @see docs/concepts.md#generatordynamics
template <class G>
concept GeneratorDynamics = requires(G& g, detail::FlowArchetype& f, int64_t n, at::Generator& gen) {
  { g.sample(n, gen) } -> std::same_as<torch::Tensor>;
  { g.step(f, n, gen) } -> std::same_as<Stats>;
};

/// A score function s(x) = ∇ₓ log p(x), same shape as x.
template <class S>
concept Score = requires(S& s, const torch::Tensor& x) {
  { s(x) } -> std::same_as<torch::Tensor>;
};

/// A denoiser D(x, σ) ≈ E[y | y + σε = x] with one noise level per particle (σ of shape [N]).
/// LibTorch module holders qualify through their call operator.
template <class D>
concept Denoiser = requires(D& d, const torch::Tensor& x, const torch::Tensor& sigma) {
  { d(x, sigma) } -> std::same_as<torch::Tensor>;
};

/// A scalar potential h(x, t), one value per particle: shape [N].
template <class H>
concept Potential = requires(H& h, const torch::Tensor& x, const torch::Tensor& t) {
  { h(x, t) } -> std::same_as<torch::Tensor>;
};

/// A positive-definite kernel on flattened particles: `k(x, y)` is the [N, M] Gram matrix and
/// `k.mean_gradient(x, y)` the [N, D] average over y_j of ∇ₓ k(x_i, y_j).
template <class K>
concept Kernel = requires(const K& k, const torch::Tensor& x, const torch::Tensor& y) {
  { k(x, y) } -> std::same_as<torch::Tensor>;
  { k.mean_gradient(x, y) } -> std::same_as<torch::Tensor>;
};

/// A noise strength g(t) for stochastic steppers: x += Δt·v + g(t)·√|Δt|·ξ.
template <class C>
concept DiffusionCoefficient = requires(const C& c, double t) {
  { c(t) } -> std::convertible_to<double>;
};

}  // namespace gpm
