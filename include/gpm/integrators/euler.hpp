// The explicit Euler stepper: x ← x + Δt · v(x, t0). First order.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// Explicit Euler, order 1. Models gpm::Integrator. Example: `Euler euler;`
struct Euler {
  static constexpr int order = 1;

  template <Flow F>
  torch::Tensor step(F& flow, const torch::Tensor& x, const Step& s, at::Generator& /*gen*/) const {
    return x + s.dt() * flow.velocity(x, particle_times(s.t0, x));
  }
};

}  // namespace gpm
