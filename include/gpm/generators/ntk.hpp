// The generator's neural tangent kernel K(z, z') = J_θ g(z) J_θ g(z')ᵀ computed explicitly, and the
// displacement it predicts for one Int-PM step. For analysis and tests of small generators.
#pragma once

#include <vector>

#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// Jacobian of the flattened outputs g(z) [N·D] with respect to all parameters [P]; shape [N·D, P].
/// Costs one backward pass per output coordinate: meant for small generators.
template <GeneratorNetwork Net>
torch::Tensor generator_jacobian(Net& net, const torch::Tensor& z) {
  torch::AutoGradMode enable(true);
  const auto params = net->parameters();
  const torch::Tensor out = net->forward(z).flatten();
  std::vector<torch::Tensor> rows;
  rows.reserve(static_cast<size_t>(out.numel()));
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto grads = torch::autograd::grad({out[i]}, params, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    std::vector<torch::Tensor> flat;
    for (size_t p = 0; p < params.size(); ++p)
      flat.push_back(grads[p].defined() ? grads[p].flatten() : torch::zeros({params[p].numel()}, params[p].options()));
    rows.push_back(torch::cat(flat));
  }
  return torch::stack(rows);
}

/// The generator NTK between two latent batches: [N₁·D, N₂·D] with blocks K(z_i, z'_j) ∈ R^{D×D}.
template <GeneratorNetwork Net>
torch::Tensor ntk(Net& net, const torch::Tensor& z1, const torch::Tensor& z2) {
  return generator_jacobian(net, z1).matmul(generator_jacobian(net, z2).t());
}

/// Displacement of g(z) predicted by one plain-SGD step of unit learning rate on the Int-PM loss
/// −mean_j ⟨v_j, g(z'_j)⟩: Δg(z) = (1/M) Σ_j K(z, z'_j) v_j (Franceschi et al. 2023, Eq. 12).
/// `v_src` [M, ...] is the velocity at the M source latents `z_src`; returns the shape of g(z).
template <GeneratorNetwork Net>
torch::Tensor ntk_displacement(Net& net, const torch::Tensor& z, const torch::Tensor& z_src,
                               const torch::Tensor& v_src) {
  const auto out_shape = [&] {
    torch::NoGradGuard no_grad;
    return net->forward(z).sizes().vec();
  }();
  GPM_CHECK(v_src.size(0) == z_src.size(0), "ntk_displacement: v_src has {} rows but z_src has {}",
            v_src.size(0), z_src.size(0));
  const auto k = ntk(net, z, z_src);
  GPM_CHECK(k.size(1) == v_src.numel(), "ntk_displacement: v_src has shape {}, which does not match the "
            "generator's output for z_src", shape_string(v_src));
  return (k.matmul(v_src.flatten()) / static_cast<double>(z_src.size(0))).view(out_shape);
}

}  // namespace gpm
