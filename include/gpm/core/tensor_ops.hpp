// Small tensor helpers shared by every policy: per-particle broadcasting, batched inner
// products, input gradients and shape/dtype/device checks with readable messages.
#pragma once

#include <string>

#include <torch/types.h>
#include <torch/csrc/autograd/autograd.h>

#include "gpm/core/errors.hpp"

namespace gpm {

/// "[128, 2]" for a tensor of that shape.
inline std::string shape_string(const torch::Tensor& x) {
  std::string s = "[";
  for (int64_t d = 0; d < x.dim(); ++d) s += (d ? ", " : "") + std::to_string(x.size(d));
  return s + "]";
}

/// Reshapes a per-particle tensor of shape [N] to [N, 1, ..., 1] so that it broadcasts against
/// particles `x` of shape [N, ...].
inline torch::Tensor per_particle(const torch::Tensor& values, const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = values.size(0);
  return values.reshape(shape);
}

/// Per-particle inner product <a_i, b_i> summed over all non-batch dimensions; shape [N].
inline torch::Tensor batched_dot(const torch::Tensor& a, const torch::Tensor& b) {
  return (a * b).flatten(1).sum(1);
}

/// Per-particle squared Euclidean norm over all non-batch dimensions; shape [N].
inline torch::Tensor batched_squared_norm(const torch::Tensor& a) { return a.flatten(1).square().sum(1); }

/// Squared Euclidean distances ‖x_i − y_j‖² between rows of x [N, D] and y [M, D]; shape [N, M].
inline torch::Tensor pairwise_squared_distances(const torch::Tensor& x, const torch::Tensor& y) {
  const auto xx = x.square().sum(1, /*keepdim=*/true);
  const auto yy = y.square().sum(1).unsqueeze(0);
  return (xx + yy - 2.0 * x.matmul(y.t())).clamp_min(0.0);
}

/// One time value per particle: a tensor [N] filled with `t`, in the dtype and on the device of `x`.
inline torch::Tensor particle_times(double t, const torch::Tensor& x) {
  return torch::full({x.size(0)}, t, x.options());
}

/// Gradient of `output.sum()` with respect to the input `x` (which must require grad), without
/// touching any parameter's .grad buffer. `create_graph` keeps the graph for a second derivative.
inline torch::Tensor input_gradient(const torch::Tensor& output, const torch::Tensor& x,
                                    bool create_graph = false) {
  return torch::autograd::grad({output.sum()}, {x}, /*grad_outputs=*/{},
                               /*retain_graph=*/create_graph, create_graph)[0];
}

/// Euclidean norm of all parameter gradients together (0 for parameters without a gradient), as a
/// scalar tensor: no host synchronisation.
inline torch::Tensor gradient_norm(const std::vector<torch::Tensor>& parameters) {
  torch::Tensor total;
  for (const auto& p : parameters)
    if (p.grad().defined()) total = total.defined() ? total + p.grad().square().sum() : p.grad().square().sum();
  return total.defined() ? total.sqrt() : torch::zeros({});
}

/// Checks that `x` is a batch of particles: at least 2 dims [N, ...], N > 0, floating point.
inline void check_particles(const torch::Tensor& x, const char* where, const char* name = "x") {
  GPM_CHECK(x.defined(), "{}: {} is an undefined tensor; pass particles of shape [N, ...]", where, name);
  GPM_CHECK(x.dim() >= 2, "{}: {} has shape {}, expected particles [N, ...] with at least 2 dims "
            "(use x.unsqueeze(1) for scalar particles)", where, name, shape_string(x));
  GPM_CHECK(x.size(0) > 0, "{}: {} holds no particles (shape {})", where, name, shape_string(x));
  GPM_CHECK(x.is_floating_point(), "{}: {} has dtype {}, expected a floating-point dtype "
            "(float or double)", where, name, std::string(c10::toString(x.scalar_type())));
}

/// Checks that `b` matches `a` in dtype and device, naming both.
inline void check_compatible(const torch::Tensor& a, const char* a_name, const torch::Tensor& b,
                             const char* b_name, const char* where) {
  GPM_CHECK(a.scalar_type() == b.scalar_type(), "{}: {} has dtype {} but {} has dtype {}; convert "
            "one with .to()", where, a_name, std::string(c10::toString(a.scalar_type())), b_name,
            std::string(c10::toString(b.scalar_type())));
  GPM_CHECK(a.device() == b.device(), "{}: {} is on {} but {} is on {}; move one with .to(device)",
            where, a_name, a.device().str(), b_name, b.device().str());
}

/// Checks that a per-particle time tensor `t` has shape [N] for particles `x` of shape [N, ...].
inline void check_times(const torch::Tensor& t, const torch::Tensor& x, const char* where) {
  GPM_CHECK(t.dim() == 1 && t.size(0) == x.size(0), "{}: t has shape {}, expected one time per "
            "particle, shape [{}]", where, shape_string(t), x.size(0));
}

/// Checks that every entry of `x` is finite. Costs one host synchronisation: call it at
/// boundaries, not in inner loops.
inline void check_finite(const torch::Tensor& x, const char* where, const char* name = "x") {
  GPM_CHECK(torch::isfinite(x).all().item<bool>(), "{}: {} contains NaN or infinite values", where, name);
}

}  // namespace gpm
