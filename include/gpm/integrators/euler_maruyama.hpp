// The Euler–Maruyama stepper for dx = a·v(x, t) dt + g(t) dW, with noise-strength policies.
#pragma once

#include <cmath>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// g(t) = constant. `ConstantDiffusion(std::sqrt(2.0))` with a score as the drift is Langevin
/// dynamics; `ConstantDiffusion(std::sqrt(lambda))` is the entropy term of a Discriminator Flow.
struct ConstantDiffusion {
  explicit ConstantDiffusion(double value = 0.0) : value(value) {
    GPM_CHECK(value >= 0 && std::isfinite(value), "ConstantDiffusion: the noise strength must be "
              "finite and >= 0, got {}", value);
  }
  double operator()(double /*t*/) const { return value; }
  double value;
};

/// g(σ) = √(2σ): the noise of EDM's reverse SDE in σ-time (Karras et al. 2022, Eq. 6), used with
/// drift_scale(2) on a score flow.
struct EdmDiffusion {
  double operator()(double sigma) const { return std::sqrt(2.0 * std::abs(sigma)); }
};

struct EulerMaruyamaOptions {
  /// a: multiplies the flow's velocity (2 for EDM's reverse SDE, 1 for Langevin).
  TORCH_ARG(double, drift_scale) = 1.0;
  /// Whether the last grid step also adds noise (EDM and Discriminator Flows end noiselessly).
  TORCH_ARG(bool, noise_on_last_step) = false;
};

/// Euler–Maruyama, strong order 1/2: x ← x + a Δt v(x, t0) + g(t0) √|Δt| ξ, ξ ~ N(0, I).
/// A noiseless last step (the default) is a probability-flow Euler step, drift 1: the drift beyond
/// the flow's, (a − 1) v, is the Langevin part of the SDE and belongs with its noise. For EDM's
/// reverse SDE (a = 2) the step to σ = 0 is then x ← D(x, σ), where drift 2 would give 2D − x
/// (as in the reference, Franceschi et al. 2023). Models gpm::Integrator.
/// Example: `EulerMaruyama langevin(ConstantDiffusion(std::sqrt(2.0)));`
template <DiffusionCoefficient C = ConstantDiffusion>
class EulerMaruyama {
 public:
  static constexpr int order = 1;

  explicit EulerMaruyama(C diffusion = C(), EulerMaruyamaOptions options = {})
      : diffusion_(std::move(diffusion)), options_(options) {
    GPM_CHECK(std::isfinite(options_.drift_scale()), "EulerMaruyama: drift_scale must be finite, got {}",
              options_.drift_scale());
  }

  template <Flow F>
  torch::Tensor step(F& flow, const torch::Tensor& x, const Step& s, at::Generator& gen) const {
    const double dt = s.dt();
    const bool noiseless = s.last() && !options_.noise_on_last_step();
    const double drift = noiseless ? 1.0 : options_.drift_scale();
    torch::Tensor next = x + (drift * dt) * flow.velocity(x, particle_times(s.t0, x));
    if (noiseless) return next;
    const double g = static_cast<double>(diffusion_(s.t0));
    if (g == 0.0) return next;
    return next + (g * std::sqrt(std::abs(dt))) * randn_rows(x.sizes(), gen, x.options());
  }

  const C& diffusion() const { return diffusion_; }
  const EulerMaruyamaOptions& options() const { return options_; }

 private:
  C diffusion_;
  EulerMaruyamaOptions options_;
};

}  // namespace gpm
