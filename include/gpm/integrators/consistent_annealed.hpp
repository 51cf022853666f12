// Consistent Annealed Sampling (CAS): one score step per noise level, with just enough fresh noise
// that the particles' noise is exactly the next level's.
#pragma once

#include <cmath>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct ConsistentAnnealedOptions {
  GPM_OPTIONS_BEGIN
  /// Larger steps shrink the data's own spread (by a fraction of about η / (2 − η) of its variance
  /// for a Gaussian); 0.2 needs γ > 0.8 (56 levels over EDM's σ range), see docs/extensions.md.
  GPM_OPTION(double, eta, Range::above(0),
             "step size relative to the level: α = η σ² (the authors' ε / σ_L²); needs |1 − η| < σ_next / σ") = 0.2;
  GPM_OPTIONS_END
};

/// Consistent Annealed Sampling (Jolicoeur-Martineau et al. 2021, arXiv:2009.05475) on a score flow
/// in σ-time, whose velocity is v(x, σ) = −σ ∇log p_σ(x). From level σ to the next level σ' = γ σ:
///   x ← x − η σ v(x, σ) + β σ' ξ,   β = √(1 − ((1 − η) / γ)²),
/// so that particles x* + σ n (n ~ N(0, I)) become x* + σ' n' under an exact score: their noise
/// follows the grid, one network call per level, where annealed Langevin's lags behind. A step that
/// ends at 0 denoises: x ← x − σ v(x, σ) = D(x, σ). Each step needs |1 − η| < γ: with geometric levels
/// from σ_1 to σ_L, more levels raise γ. Use it on a decreasing grid ending at 0, e.g. GeometricGrid
/// with `final_zero(true)`. Models gpm::Integrator.
/// Example: `ConsistentAnnealed cas(ConsistentAnnealedOptions().eta(0.3));`
class ConsistentAnnealed {
 public:
  static constexpr int order = 1;

  explicit ConsistentAnnealed(ConsistentAnnealedOptions options = {}) : options_(options) {
    GPM_CHECK(options_.eta() > 0 && std::isfinite(options_.eta()), "ConsistentAnnealed: eta must be finite and > 0, got {}",
              options_.eta());
  }

  /// β for a step of level ratio γ = σ' / σ: the fresh noise, in units of σ', that keeps the noise
  /// at σ'. An error where |1 − η| ≥ γ (no real β).
  double beta(double gamma) const {
    const double eta = options_.eta();
    GPM_CHECK(std::abs(1 - eta) < gamma, "ConsistentAnnealed: a step from one noise level to the next with ratio γ = {} "
              "needs |1 − η| < γ, i.e. η in ({}, {}), but η = {}; choose η in that range or use more noise levels "
              "(a larger γ)", gamma, 1 - gamma, 1 + gamma, eta);
    const double r = (1 - eta) / gamma;
    return std::sqrt(1 - r * r);
  }

  template <Flow F>
  torch::Tensor step(F& flow, const torch::Tensor& x, const Step& s, at::Generator& gen) const {
    const double sigma = s.t0;
    GPM_CHECK(sigma > 0 && s.t1 >= 0 && s.t1 < sigma, "ConsistentAnnealed: a step goes from a noise level to a lower "
              "one or to 0, got σ = {} to {}; use a decreasing grid of positive levels, e.g. GeometricGrid", s.t0, s.t1);
    const torch::Tensor v = flow.velocity(x, particle_times(sigma, x));
    if (s.t1 == 0.0) return x - sigma * v;
    const double b = beta(s.t1 / sigma);
    return x - (options_.eta() * sigma) * v + (b * s.t1) * randn_rows(x.sizes(), gen, x.options());
  }

  const ConsistentAnnealedOptions& options() const { return options_; }

 private:
  ConsistentAnnealedOptions options_;
};

}  // namespace gpm
