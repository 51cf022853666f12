// The infinitely flexible generator: one trainable position per particle, addressed by one-hot
// latents. Its NTK is the identity, so training it is a particle model (Finding 4).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// g(e_i) = p_i: a generator whose parameters are the particle positions p [N, ...].
/// With one-hot latents (OneHotLatents) and SGD at learning rate N·Δt, one Int-PM step equals one
/// Euler step of size Δt of the particle model (Franceschi et al. 2023, arXiv:2305.16150, Finding 4).
class FreeParticlesImpl : public torch::nn::Module {
 public:
  explicit FreeParticlesImpl(const torch::Tensor& initial) {
    check_particles(initial, "FreeParticles", "initial");
    positions = register_parameter("positions", initial.detach().clone());
  }
  /// `one_hot` [B, N] selects (or mixes) particles; returns [B, ...].
  torch::Tensor forward(const torch::Tensor& one_hot) {
    GPM_CHECK(one_hot.dim() == 2 && one_hot.size(1) == positions.size(0), "FreeParticles: latents must "
              "have shape [B, {}] (one-hot particle indices), got {}", positions.size(0), shape_string(one_hot));
    std::vector<int64_t> shape(positions.sizes().begin(), positions.sizes().end());
    shape[0] = one_hot.size(0);
    return one_hot.matmul(positions.flatten(1)).view(shape);
  }
  torch::Tensor positions;
};
TORCH_MODULE(FreeParticles);

/// The latents of FreeParticles: every one-hot vector e_1 .. e_N once, in order. Models gpm::Prior.
class OneHotLatents {
 public:
  explicit OneHotLatents(int64_t count) : count_(count) {
    GPM_CHECK(count > 0, "OneHotLatents: count must be > 0, got {}", count);
  }
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& /*gen*/) const {
    GPM_CHECK(n == count_, "OneHotLatents: a free-particle generator always moves all its {} particles, "
              "but a batch of {} was requested", count_, n);
    return torch::eye(count_, options);
  }
  int64_t count() const { return count_; }

 private:
  int64_t count_;
};

}  // namespace gpm
