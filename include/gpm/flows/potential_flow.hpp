// The particle-model field in its defining form: v(x, t) = ∇ₓ h(x, t) for a scalar potential h,
// computed by automatic differentiation.
#pragma once

#include <torch/types.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// v(x, t) = ∇ₓ h(x, t) for any potential h returning one value per particle (Franceschi et al.
/// 2023, arXiv:2305.16150, Eq. 1). Models gpm::Flow.
/// Example: `PotentialFlow flow([](const torch::Tensor& x, const torch::Tensor&) { return -0.5 * batched_squared_norm(x); });`
template <Potential H>
class PotentialFlow {
 public:
  explicit PotentialFlow(H potential) : potential_(std::move(potential)) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_times(t, x, "PotentialFlow::velocity");
    torch::AutoGradMode enable(true);  // samplers run under NoGradGuard; this flow needs ∇ₓ
    const torch::Tensor input = x.detach().requires_grad_(true);
    const torch::Tensor h = potential_(input, t);
    GPM_CHECK(h.dim() == 1 && h.size(0) == x.size(0), "PotentialFlow::velocity: the potential returned "
              "shape {}, expected one value per particle, shape [{}]", shape_string(h), x.size(0));
    return input_gradient(h, input).detach();
  }

  H& potential() { return potential_; }

 private:
  H potential_;
};

}  // namespace gpm
