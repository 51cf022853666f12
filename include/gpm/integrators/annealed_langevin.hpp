// Annealed Langevin sampling (ALS): Langevin steps on the score at each noise level of a
// decreasing grid, then a final denoising step.
#pragma once

#include <cmath>
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct AnnealedLangevinOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, eta, Range::above(0),
             "step size relative to the level: α = η σ² (Song and Ermon's ε is 2 η σ_L²)") = 0.5;
  GPM_OPTION(int64_t, steps_per_level, Range::at_least(1), "Langevin steps T at each noise level") = 1;
  GPM_OPTIONS_END
};

/// Annealed Langevin sampling (Song and Ermon 2019, arXiv:1907.05600) on a score flow in σ-time,
/// whose velocity is v(x, σ) = −σ ∇log p_σ(x) (gpm::ScoreFlow, EDM's flow). The step that leaves
/// level σ takes T Langevin steps there,
///   x ← x + α ∇log p_σ(x) + √(2α) ξ = x − η σ v(x, σ) + σ √(2η) ξ,   α = η σ²,
/// and a step that ends at 0 then denoises: x ← x − σ v(x, σ) = D(x, σ) (Tweedie). Use it on a
/// decreasing grid of levels ending at 0, e.g. GeometricGrid with `final_zero(true)`. One step per
/// level leaves more noise than the next level's: Consistent Annealed Sampling removes that lag.
/// Models gpm::Integrator. Example: `AnnealedLangevin als(AnnealedLangevinOptions().steps_per_level(5));`
class AnnealedLangevin {
 public:
  static constexpr int order = 1;

  explicit AnnealedLangevin(AnnealedLangevinOptions options = {}) : options_(options) {
    GPM_CHECK(options_.eta() > 0 && std::isfinite(options_.eta()), "AnnealedLangevin: eta must be finite and > 0, got {}",
              options_.eta());
    GPM_CHECK(options_.steps_per_level() >= 1, "AnnealedLangevin: steps_per_level must be >= 1, got {}",
              options_.steps_per_level());
  }

  template <Flow F>
  torch::Tensor step(F& flow, const torch::Tensor& x0, const Step& s, at::Generator& gen) const {
    const double sigma = s.t0;
    GPM_CHECK(sigma > 0 && s.t1 >= 0 && s.t1 < sigma, "AnnealedLangevin: a step goes from a noise level to a lower one "
              "or to 0, got σ = {} to {}; use a decreasing grid of positive levels, e.g. GeometricGrid", s.t0, s.t1);
    const double eta = options_.eta();
    const auto level = particle_times(sigma, x0);
    torch::Tensor x = x0;
    for (int64_t k = 0; k < options_.steps_per_level(); ++k)
      x = x - (eta * sigma) * flow.velocity(x, level) + (sigma * std::sqrt(2 * eta)) * randn_rows(x.sizes(), gen, x.options());
    if (s.t1 == 0.0) x = x - sigma * flow.velocity(x, level);
    return x;
  }

  const AnnealedLangevinOptions& options() const { return options_; }

 private:
  AnnealedLangevinOptions options_;
};

}  // namespace gpm
