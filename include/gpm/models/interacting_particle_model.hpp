// InteractingParticleModel: a generator whose outputs follow a flow. GANs and Score GANs are
// instances; so is any generator trained by a closed-form gradient flow.
#pragma once

#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct InteractingParticleModelOptions {
  /// Flow-estimator updates per generator step (the reference's nb_discr_steps / n_score).
  TORCH_ARG(int64_t, flow_steps_per_generator_step) = 1;
  /// Latents per generator step and generated samples per flow update; 0 uses the data batch size.
  TORCH_ARG(int64_t, generator_batch_size) = 0;
  /// Seed of the model's random stream (latents and everything the dynamics draw).
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// An interacting particle model (Franceschi et al. 2023, arXiv:2305.16150, Definition 2): particles
/// x = g_θ(z) move by the flow smoothed by the generator's NTK. Each `train_step(real)` is one
/// iteration of the reference loops: one update of the flow's estimator on `real` and fresh
/// generated samples (if the flow is trainable), and every k-th iteration one generator step.
/// `sample` uses the generator's averaged weights when it keeps an average (gpm::WeightAverage);
/// a gpm::Generator samples in eval mode, and the estimator trains on its `training_sample`.
/// Example: `InteractingParticleModel model(generator, MmdFlow(RbfKernel()));`
template <GeneratorDynamics D, Flow F>
class InteractingParticleModel {
 public:
  InteractingParticleModel(D dynamics, F flow, InteractingParticleModelOptions options = {})
      : dynamics_(std::move(dynamics)),
        flow_(std::move(flow)),
        options_(options),
        gen_(make_generator(options_.seed(), options_.device())) {
    GPM_CHECK(options_.flow_steps_per_generator_step() >= 1, "InteractingParticleModel: "
              "flow_steps_per_generator_step must be >= 1, got {}", options_.flow_steps_per_generator_step());
    GPM_CHECK(options_.generator_batch_size() >= 0, "InteractingParticleModel: generator_batch_size must be >= 0 "
              "(0 = the data batch size), got {}", options_.generator_batch_size());
  }

  /// One training iteration on the data batch `real` [B, ...]; the generator draws B latents unless
  /// generator_batch_size says otherwise.
  Stats train_step(const torch::Tensor& real) {
    check_particles(real, "InteractingParticleModel::train_step", "real");
    ++iteration_;
    const auto n = options_.generator_batch_size() > 0 ? options_.generator_batch_size() : real.size(0);
    Stats stats;
    if constexpr (TrainableFlow<F>) {
      // The estimator trains on the generator as its own steps see it (batch norm: batch statistics).
      torch::Tensor fake;
      if constexpr (HasTrainingSample<D>)
        fake = dynamics_.training_sample(n, gen_);
      else
        fake = dynamics_.sample(n, gen_);
      stats = flow_.update(real, fake, torch::zeros({n}, fake.options()));
    }
    if (iteration_ % options_.flow_steps_per_generator_step() == 0) stats.merge(dynamics_.step(flow_, n, gen_));
    return stats;
  }

  /// n generated particles g(z).
  torch::Tensor sample(int64_t n) {
    GPM_CHECK(n > 0, "InteractingParticleModel::sample: n must be > 0, got {}", n);
    const auto weights = averaged_weights_of(dynamics_);
    return dynamics_.sample(n, gen_);
  }

  /// n generated particles g(z) with z drawn from `latent` instead of the generator's prior: the
  /// truncation trick with a gpm::TruncatedGaussianPrior.
  template <Prior P>
    requires requires(D& d, const P& p, at::Generator& gen) { d.sample_with(p, int64_t{1}, gen); }
  torch::Tensor sample_with(const P& latent, int64_t n) {
    GPM_CHECK(n > 0, "InteractingParticleModel::sample_with: n must be > 0, got {}", n);
    const auto weights = averaged_weights_of(dynamics_);
    return dynamics_.sample_with(latent, n, gen_);
  }

  void seed(uint64_t seed) { gen_.set_current_seed(seed); }

  /// The generator's and the flow estimator's learning rates times `factor` (a schedule's multiplier).
  void scale_learning_rate(double factor) {
    scale_learning_rate_of(dynamics_, factor);
    scale_learning_rate_of(flow_, factor);
  }

  /// Generator, flow, random stream and iteration counter (Checkpointable): with the same options,
  /// a model that loads a saved state continues exactly as the saved one would have.
  void save(torch::serialize::OutputArchive& archive) const
    requires Checkpointable<D>
  {
    write_nested(archive, "dynamics", dynamics_);
    if constexpr (Checkpointable<F>) write_nested(archive, "flow", flow_);
    write_generator(archive, "generator", gen_);
    write_counter(archive, "iteration", iteration_);
  }
  void load(torch::serialize::InputArchive& archive)
    requires Checkpointable<D>
  {
    read_nested(archive, "dynamics", dynamics_);
    if constexpr (Checkpointable<F>) read_nested(archive, "flow", flow_);
    read_generator(archive, "generator", gen_);
    iteration_ = read_counter(archive, "iteration");
  }

  D& dynamics() { return dynamics_; }
  F& flow() { return flow_; }
  at::Generator& generator() { return gen_; }
  int64_t iteration() const { return iteration_; }
  const InteractingParticleModelOptions& options() const { return options_; }

 private:
  D dynamics_;
  F flow_;
  InteractingParticleModelOptions options_;
  at::Generator gen_;
  int64_t iteration_ = 0;
};

}  // namespace gpm
