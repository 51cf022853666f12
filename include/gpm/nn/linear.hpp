// The fully connected layer of gpm's MLPs: LibTorch's Linear (same parameters, initialisation and
// names, so checkpoints do not depend on which one wrote them) whose product goes through
// gpm::linear, on oneDNN's kernels where the process has them.
#pragma once

#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/onednn_matmul.hpp"

namespace gpm::nn {

/// y = x Wᵀ + b for x [N, in]. Example: `gpm::nn::Linear layer(512, 512); auto y = layer(x);`
class LinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;

  torch::Tensor forward(const torch::Tensor& x) {
    if (x.dim() != 2) return torch::nn::LinearImpl::forward(x);
    return gpm::linear(x, weight, bias);
  }
};
TORCH_MODULE(Linear);

}  // namespace gpm::nn
