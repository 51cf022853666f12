// Flow combinator: evaluate a flow at noised particles x + σε with a random noise level per
// particle, passing σ as the flow's time (Score GAN's noising). The estimator's updates are not
// noised: instance noise, on both of its sides, is gpm::InstanceNoise.
#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/batch_shard.hpp"
#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/losses/noise_levels.hpp"

namespace gpm {

struct PerturbedOptions {
  /// Seed of the combinator's random stream (noise levels and noise).
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// v(x, ·) = f.velocity(x + σε, σ) with σ ~ sampler and ε ~ N(0, I) per particle. Since
/// ∂(x + σε)/∂x = I, the field needs no chain-rule factor. It has every optional capability of f
/// (gpm::ForwardsCapabilities): trainable when f is, sampled with f's averaged weights when f keeps
/// them, and so on. It owns a random stream, so it is Checkpointable whatever f is.
/// Example: `Perturbed flow(ScoreDifferenceFlow(...), ScheduleSigma(0.1, 10, 3));`
template <Flow F, NoiseLevelSampler Sigma>
class Perturbed : public ForwardsCapabilities<F> {
 public:
  Perturbed(F flow, Sigma sigma, PerturbedOptions options = {})
      : ForwardsCapabilities<F>(std::move(flow)),
        sigma_(std::move(sigma)),
        gen_(make_generator(options.seed(), options.device())) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "Perturbed::velocity");
    check_times(t, x, "Perturbed::velocity");
    const torch::Tensor sigma = sigma_.sample(x.size(0), x.options(), gen_);
    const torch::Tensor noised = x + per_particle(sigma, x) * randn_rows(x.sizes(), gen_, x.options());
    return flow().velocity(noised, sigma);
  }

  /// The random stream, and the wrapped flow's state if it has one (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    write_generator(archive, "generator", gen_);
    if constexpr (Checkpointable<F>) write_nested(archive, "flow", this->wrapped());
  }
  void load(torch::serialize::InputArchive& archive) {
    read_generator(archive, "generator", gen_);
    if constexpr (Checkpointable<F>) read_nested(archive, "flow", this->wrapped());
  }

  F& flow() { return this->wrapped(); }
  const Sigma& sigma_sampler() const { return sigma_; }
  at::Generator& generator() { return gen_; }

 private:
  Sigma sigma_;
  at::Generator gen_;
};

}  // namespace gpm
