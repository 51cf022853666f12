// Flow combinator: instance noise (Sønderby et al. 2016, arXiv:1610.04490) for any trainable flow —
// independent Gaussian noise of an annealed strength on every input of the estimator, data and
// particles alike, in its updates and where the particles' field is evaluated.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <utility>

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// How the noise strength falls with the estimator's update count k.
enum class NoiseAnnealing {
  linear,      ///< s_k = s_0 max(0, 1 − k/K)
  exponential  ///< s_k = s_0 rᵏ
};

/// Every annealing with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<NoiseAnnealing, std::string_view>, 2> option_names(NoiseAnnealing) {
  return {{{NoiseAnnealing::linear, "linear"}, {NoiseAnnealing::exponential, "exponential"}}};
}

struct InstanceNoiseOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, std, Range::at_least(0), "s_0, the noise's standard deviation at the first update") = 0.1;
  GPM_OPTION(NoiseAnnealing, annealing, Range::any(), "linear: s_0 max(0, 1 − k/K); exponential: s_0 rᵏ") =
      NoiseAnnealing::linear;
  GPM_OPTION(int64_t, anneal_updates, Range::at_least(1), "K, the updates over which the linear schedule falls to 0") =
      14000;
  GPM_OPTION(double, decay, Range::between(0, 1), "r, the exponential schedule's factor per update") = 0.9998;
  GPM_OPTIONS_END

  /// s_k, the strength after k updates.
  double std_after(int64_t updates) const {
    const auto k = static_cast<double>(updates);
    if (annealing() == NoiseAnnealing::exponential) return std() * std::pow(decay(), k);
    return std() * std::max(0.0, 1.0 - k / static_cast<double>(anneal_updates()));
  }

  /// Placement, not part of a config.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// The flow f with instance noise: `update(real, fake, t)` trains f's estimator on real + s_k ε and
/// fake + s_k ε' (ε, ε' ~ N(0, I) independent), and `velocity(x, t)` = f.velocity(x + s_k ε, t), the
/// field at noised particles (since ∂(x + s ε)/∂x = I, a generator's gradient passes through the
/// noise unchanged). s_k falls with the number k of updates so far (InstanceNoiseOptions); once it
/// is 0 the wrapper is f itself. It has every optional capability of f (gpm::ForwardsCapabilities),
/// and owns a random stream and its update count, so it is Checkpointable whatever f is. Unlike
/// gpm::Perturbed, which noises only where the field is evaluated, both sides of the estimator see
/// the noise: their noised distributions overlap, so the optimal discriminator's gradient exists.
/// Example: `InstanceNoise flow(DiscriminatorFlow(net, NonSaturatingLoss{}, adam), InstanceNoiseOptions().std(0.2));`
template <TrainableFlow F>
class InstanceNoise : public ForwardsCapabilities<F> {
 public:
  explicit InstanceNoise(F flow, InstanceNoiseOptions options = {})
      : ForwardsCapabilities<F>(std::move(flow)),
        options_(std::move(options)),
        gen_(make_generator(options_.seed(), options_.device())) {
    GPM_CHECK(std::isfinite(options_.std()) && options_.std() >= 0, "InstanceNoise: std must be finite and >= 0, got {}",
              options_.std());
    GPM_CHECK(options_.anneal_updates() >= 1, "InstanceNoise: anneal_updates must be >= 1, got {}",
              options_.anneal_updates());
    GPM_CHECK(options_.decay() >= 0 && options_.decay() <= 1, "InstanceNoise: decay must be in [0, 1], got {}",
              options_.decay());
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "InstanceNoise::velocity");
    return flow().velocity(noised(x), t);
  }

  /// One update of f's estimator on noised data and noised particles; the statistics gain
  /// `instance_noise_std`, the strength used.
  Stats update(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t) {
    check_particles(real, "InstanceNoise::update", "real");
    check_particles(fake, "InstanceNoise::update", "fake");
    const double s = current_std();
    Stats stats = flow().update(noised(real), noised(fake.detach()), t);
    stats["instance_noise_std"] = torch::tensor(s, real.options());
    ++updates_;
    return stats;
  }

  /// s_k for the updates made so far.
  double current_std() const { return options_.std_after(updates_); }
  int64_t updates() const { return updates_; }

  /// The random stream, the update count, and the wrapped flow's state if it has one (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    write_generator(archive, "generator", gen_);
    write_counter(archive, "updates", updates_);
    if constexpr (Checkpointable<F>) write_nested(archive, "flow", this->wrapped());
  }
  void load(torch::serialize::InputArchive& archive) {
    read_generator(archive, "generator", gen_);
    updates_ = read_counter(archive, "updates");
    if constexpr (Checkpointable<F>) read_nested(archive, "flow", this->wrapped());
  }

  F& flow() { return this->wrapped(); }
  const InstanceNoiseOptions& options() const { return options_; }
  at::Generator& generator() { return gen_; }

 private:
  torch::Tensor noised(const torch::Tensor& x) {
    const double s = current_std();
    if (s == 0) return x;
    return x + s * randn_rows(x.sizes(), gen_, x.options());
  }

  InstanceNoiseOptions options_;
  at::Generator gen_;
  int64_t updates_ = 0;
};

}  // namespace gpm
