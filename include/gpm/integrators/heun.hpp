// Heun's second-order stepper (the EDM sampler's deterministic step).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// Heun (explicit trapezoidal), order 2: an Euler predictor, then the average of the velocities at
/// both ends. A step that ends at t1 = 0 stays a plain Euler step, as in EDM (Karras et al. 2022,
/// arXiv:2206.00364): a score flow is singular at σ = 0. Models gpm::Integrator.
/// Example: `Heun heun;`
struct Heun {
  static constexpr int order = 2;

  template <Flow F>
  torch::Tensor step(F& flow, const torch::Tensor& x, const Step& s, at::Generator& /*gen*/) const {
    const double dt = s.dt();
    const torch::Tensor v0 = flow.velocity(x, particle_times(s.t0, x));
    torch::Tensor predicted = x + dt * v0;
    if (s.t1 == 0.0) return predicted;
    const torch::Tensor v1 = flow.velocity(predicted, particle_times(s.t1, x));
    return x + (0.5 * dt) * (v0 + v1);
  }
};

}  // namespace gpm
