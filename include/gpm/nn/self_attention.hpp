// The self-attention block of SAGAN (Zhang et al. 2019, arXiv:1805.08318) for feature maps, as the
// reference's ResNets use it: every position attends to a 2×2-max-pooled grid of positions.
#pragma once

#include <cstdint>

#include <torch/arg.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/onednn_matmul.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/conv_block.hpp"

namespace gpm::nn {

struct SelfAttentionOptions {
  /// `channels`: C, the channels of the maps (at least 8).
  explicit SelfAttentionOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// Spectral normalisation of the four 1×1 convolutions.
  TORCH_ARG(bool, spectral_norm) = false;
  /// Features of a FiLM condition on each convolution (0: none).
  TORCH_ARG(int64_t, condition_size) = 0;
  /// Seed of the spectral normalisations' initial vectors.
  TORCH_ARG(uint64_t, seed) = 0;
};

/// x + γ · o(x) on maps x [N, C, H, W] (H, W even): queries θ(x) [C/8] at every position, keys φ(x)
/// [C/8] and values g(x) [C/2] max-pooled 2×2, attention softmax(θᵀφ) over the pooled positions,
/// and the attended values mapped back to C channels; θ, φ, g and the output map are 1×1
/// convolutions without bias (ConvBlocks: spectral norm and FiLM as asked). γ starts at 0, so the
/// block starts as the identity. Submodules `theta`, `phi`, `g`, `out`; parameter `gamma`.
/// Example: `SelfAttention attention(SelfAttentionOptions(64));  auto y = attention(x);`
class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(SelfAttentionOptions options) : options_(options) {
    const int64_t c = options_.channels();
    GPM_CHECK(c >= 8, "SelfAttention: channels must be >= 8 (queries and keys have channels / 8), got {}", c);
    const auto block = [&](int64_t in, int64_t out, uint64_t index) {
      return ConvBlock(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(false)),
                       ConvBlockOptions().spectral_norm(options_.spectral_norm())
                           .condition_size(options_.condition_size())
                           .seed(options_.seed() + 2 * index));
    };
    theta = register_module("theta", block(c, c / 8, 0));
    phi = register_module("phi", block(c, c / 8, 1));
    g = register_module("g", block(c, c / 2, 2));
    out = register_module("out", block(c / 2, c, 3));
    gamma = register_parameter("gamma", torch::zeros({1}));
  }

  /// x [N, C, H, W] (and c [N, condition_size] when conditioned) -> [N, C, H, W].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c = {}) {
    GPM_CHECK(x.dim() == 4 && x.size(1) == options_.channels() && x.size(2) % 2 == 0 && x.size(3) % 2 == 0,
              "SelfAttention::forward: x has shape {}, expected [N, {}, H, W] with H and W even", shape_string(x),
              options_.channels());
    namespace F = torch::nn::functional;
    const int64_t n = x.size(0), height = x.size(2), width = x.size(3);
    const auto pool = [](const torch::Tensor& h) { return F::max_pool2d(h, F::MaxPool2dFuncOptions(2)); };
    const auto queries = theta->forward(x, c).flatten(2);     // [N, C/8, HW]
    const auto keys = pool(phi->forward(x, c)).flatten(2);    // [N, C/8, HW/4]
    const auto values = pool(g->forward(x, c)).flatten(2);    // [N, C/2, HW/4]
    const auto attention = torch::softmax(gpm::bmm(queries.transpose(1, 2), keys), -1);  // [N, HW, HW/4]
    const auto attended = gpm::bmm(values, attention.transpose(1, 2)).reshape({n, values.size(1), height, width});
    return x + gamma * out->forward(attended, c);
  }

  const SelfAttentionOptions& options() const { return options_; }

  ConvBlock theta{nullptr}, phi{nullptr}, g{nullptr}, out{nullptr};
  torch::Tensor gamma;

 private:
  SelfAttentionOptions options_;
};
TORCH_MODULE(SelfAttention);

}  // namespace gpm::nn
