// ParticleModel: particles drawn from a prior and integrated along a flow over a time grid.
// EDM, Discriminator Flows, Langevin, SVGD and MMD flows are all instances.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <ATen/core/Generator.h>
#include <fmt/format.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/batch_shard.hpp"
#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/integrators/integrate.hpp"

namespace gpm {

struct ParticleModelOptions {
  /// Seed of the model's random stream (prior draws, stochastic steps, training times).
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Dtype, dtype) = torch::kFloat32;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// The states of one integration, for figures and analysis: `states` holds x_0 .. x_k (k + 1
/// entries), `velocities[j]` the flow's velocity at states[j] and times[j] (k entries), `times`
/// t_0 .. t_k.
struct Trajectory {
  std::vector<torch::Tensor> states;
  std::vector<torch::Tensor> velocities;
  std::vector<double> times;
};

/// A particle model (Franceschi et al. 2023, arXiv:2305.16150, Definition 1): x_0 ~ prior, then
/// dx/dt = v(x, t) integrated over the grid. Deterministic given the seed.
/// With a trainable flow, `train_step(real)` trains the flow's estimator: on data alone (EDM), or on
/// particles taken along the current flow at random grid times (Algorithm 3, Discriminator Flows).
/// Sampling uses the flow's averaged weights when it keeps an average (gpm::WeightAverage);
/// training always uses the live weights.
/// Example:
///   `ParticleModel model(ScoreFlow(denoiser), Heun{}, KarrasGrid(KarrasGridOptions(32).sigma_max(80)),
///                        GaussianPrior(GaussianPriorOptions({2}).std(80)));`
template <Flow F, Integrator I, TimeGrid G, Prior P>
class ParticleModel {
 public:
  ParticleModel(F flow, I integrator, G grid, P prior, ParticleModelOptions options = {})
      : flow_(std::move(flow)),
        integrator_(std::move(integrator)),
        grid_(std::move(grid)),
        prior_(std::move(prior)),
        options_(options),
        times_(grid_.times()),
        gen_(make_generator(options_.seed(), options_.device())) {
    GPM_CHECK(times_.size() >= 2, "ParticleModel: the time grid has {} points, need at least 2", times_.size());
  }

  /// n particles after all N grid steps, or after the first `steps` of them (early stop).
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps = std::nullopt) {
    return sample_from(draw_prior(n), steps);
  }

  /// Integrates the given initial particles x0 [N, ...] (all N steps, or the first `steps`).
  torch::Tensor sample_from(const torch::Tensor& x0, std::optional<int64_t> steps = std::nullopt) {
    check_particles(x0, "ParticleModel::sample_from", "x0");
    torch::NoGradGuard no_grad;
    const auto weights = averaged_weights_of(flow_);
    return integrate(integrator_, flow_, x0.detach(), times_, gen_, steps);
  }

  /// n particles integrated with another stepper over the same grid (e.g. EDM's SDE or churn
  /// sampler for a model trained once), all N steps or the first `steps`. The stepper may be a
  /// temporary: `edm.sample_with(EulerMaruyama(EdmDiffusion{}, EulerMaruyamaOptions().drift_scale(2)), n)`.
  template <class J>
    requires Integrator<std::remove_cvref_t<J>>
  torch::Tensor sample_with(J&& integrator, int64_t n, std::optional<int64_t> steps = std::nullopt) {
    torch::NoGradGuard no_grad;
    const auto weights = averaged_weights_of(flow_);
    return integrate(integrator, flow_, draw_prior(n), times_, gen_, steps);
  }

  /// n particles integrated with another stepper over another grid `times` (e.g. annealed Langevin
  /// on geometric noise levels for an EDM), all its steps or the first `steps`. The particles start
  /// from the model's prior, so the grid must start where the model's does (EDM: at σ_max).
  template <class J>
    requires Integrator<std::remove_cvref_t<J>>
  torch::Tensor sample_with(J&& integrator, const std::vector<double>& times, int64_t n,
                            std::optional<int64_t> steps = std::nullopt) {
    GPM_CHECK(times.size() >= 2 && std::abs(times.front() - times_.front()) <= 1e-9 * std::abs(times_.front()),
              "ParticleModel::sample_with: the grid must start where the model's grid does ({}, where the prior is), got {}",
              times_.front(),
              times.empty() ? std::string("an empty grid") : fmt::format("{}", times.front()));
    torch::NoGradGuard no_grad;
    const auto weights = averaged_weights_of(flow_);
    return integrate(integrator, flow_, draw_prior(n), times, gen_, steps);
  }

  /// Every intermediate state and the velocity each particle receives there.
  Trajectory trajectory(int64_t n, std::optional<int64_t> steps = std::nullopt) {
    torch::NoGradGuard no_grad;
    const auto weights = averaged_weights_of(flow_);
    Trajectory tr;
    auto record = [&](const torch::Tensor& x, const Step& s) {
      tr.states.push_back(x);
      tr.velocities.push_back(flow_.velocity(x, particle_times(s.t0, x)));
      tr.times.push_back(s.t0);
    };
    const auto k = steps_to_take(times_, steps, "ParticleModel::trajectory");
    tr.states.reserve(static_cast<size_t>(k + 1));
    // The observer records x_0 .. x_{k-1}; the final state is appended after the call returns.
    tr.states.push_back(integrate(integrator_, flow_, draw_prior(n), times_, gen_, k, record));
    tr.times.push_back(times_[static_cast<size_t>(k)]);
    return tr;
  }

  /// One training step of the flow's estimator on the data batch `real`.
  /// A DataTrainableFlow (EDM's denoiser) learns from `real` alone. A TrainableFlow follows
  /// Algorithm 3 of the paper (the Discriminator Flow's loop): simulate the current flow from the
  /// prior over the first N − 1 steps keeping the states x_0 .. x_{N−1}, pick one state index k_b
  /// uniformly per sample, and update the flow on (real, x_{k_b}, t_{k_b}).
  Stats train_step(const torch::Tensor& real)
    requires DataTrainableFlow<F> || TrainableFlow<F>
  {
    check_particles(real, "ParticleModel::train_step", "real");
    if constexpr (DataTrainableFlow<F>) {
      return flow_.update(real);
    } else {
      const auto n = real.size(0);
      const auto total = static_cast<int64_t>(times_.size()) - 1;
      std::vector<torch::Tensor> states;
      states.reserve(static_cast<size_t>(total));
      {
        torch::NoGradGuard no_grad;
        const auto last = integrate(integrator_, flow_, draw_prior(n), times_, gen_, total - 1,
                                    [&](const torch::Tensor& x, const Step&) { states.push_back(x); });
        states.push_back(last);
      }
      const auto index =
          randint_rows(total, n, gen_, torch::TensorOptions().dtype(torch::kLong).device(real.device()));
      const auto fake = torch::stack(states).index({index, torch::arange(n, index.options())});
      const auto grid_times = torch::tensor(times_, torch::TensorOptions().dtype(torch::kFloat64)).to(real.options());
      return flow_.update(real, fake, grid_times.index_select(0, index));
    }
  }

  /// The random stream and the flow's state (Checkpointable): with the same options, a model that
  /// loads a saved state continues exactly as the saved one would have.
  void save(torch::serialize::OutputArchive& archive) const {
    write_generator(archive, "generator", gen_);
    if constexpr (Checkpointable<F>) write_nested(archive, "flow", flow_);
  }
  void load(torch::serialize::InputArchive& archive) {
    read_generator(archive, "generator", gen_);
    if constexpr (Checkpointable<F>) read_nested(archive, "flow", flow_);
  }

  /// Reseeds the model's random stream.
  void seed(uint64_t seed) { gen_.set_current_seed(seed); }

  /// The flow estimator's learning rates times `factor` (a schedule's multiplier).
  void scale_learning_rate(double factor) { scale_learning_rate_of(flow_, factor); }

  F& flow() { return flow_; }
  I& integrator() { return integrator_; }
  const G& grid() const { return grid_; }
  P& prior() { return prior_; }
  at::Generator& generator() { return gen_; }
  const ParticleModelOptions& options() const { return options_; }
  /// N, the number of steps of the full grid.
  int64_t steps() const { return static_cast<int64_t>(times_.size()) - 1; }

 private:
  torch::Tensor draw_prior(int64_t n) {
    GPM_CHECK(n > 0, "ParticleModel: the number of particles must be > 0, got {}", n);
    return prior_.sample(n, torch::TensorOptions().dtype(options_.dtype()).device(options_.device()), gen_);
  }

  F flow_;
  I integrator_;
  G grid_;
  P prior_;
  ParticleModelOptions options_;
  std::vector<double> times_;
  at::Generator gen_;
};

}  // namespace gpm
