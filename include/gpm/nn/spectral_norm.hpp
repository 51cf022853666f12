// Spectral normalisation of a weight layer (Miyato et al. 2018, arXiv:1802.05957): the layer
// computes with W / σ(W), σ the largest singular value, estimated by power iteration whose vectors
// persist from one forward to the next.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/arg.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/enum.h>
#include <torch/nn/functional/conv.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/torch_compat.hpp"
#include "gpm/nn/conv_transpose.hpp"

namespace gpm::nn {

struct SpectralNormOptions {
  /// Power iterations per forward in training mode (eval mode does none).
  TORCH_ARG(int64_t, power_iterations) = 1;
  /// Floor of the norms the iteration divides by.
  TORCH_ARG(double, eps) = 1e-12;
  /// Seed of the initial vectors u and v (a CPU generator independent of the global one).
  TORCH_ARG(uint64_t, seed) = 0;
};

namespace detail {

// The output dimension of each layer's weight, and the layer's operation with another weight.
// Linear [out, in] and Conv2d [out, in, kh, kw] keep outputs in dimension 0; ConvTranspose2d
// [in, out, kh, kw] in dimension 1, as torch.nn.utils.spectral_norm has it.
inline int64_t output_dimension(const torch::nn::LinearImpl&) { return 0; }
inline int64_t output_dimension(const torch::nn::Conv2dImpl&) { return 0; }
inline int64_t output_dimension(const torch::nn::ConvTranspose2dImpl&) { return 1; }

inline torch::Tensor apply_with_weight(torch::nn::LinearImpl& layer, const torch::Tensor& x, const torch::Tensor& w) {
  return torch::nn::functional::linear(x, w, layer.bias);
}
inline torch::Tensor apply_with_weight(torch::nn::Conv2dImpl& layer, const torch::Tensor& x, const torch::Tensor& w) {
  const auto& o = layer.options;
  return torch::nn::functional::conv2d(x, w, torch::nn::functional::Conv2dFuncOptions()
                                                 .bias(layer.bias)
                                                 .stride(o.stride())
                                                 .padding(o.padding())
                                                 .dilation(o.dilation())
                                                 .groups(o.groups()));
}
inline torch::Tensor apply_with_weight(torch::nn::ConvTranspose2dImpl& layer, const torch::Tensor& x,
                                       const torch::Tensor& w) {
  return gpm::nn::conv_transpose2d(x, w, layer.bias, layer.options);
}

inline void check_padding_mode(const torch::nn::LinearImpl&) {}
template <class Impl>
void check_padding_mode(const Impl& layer) {
  GPM_CHECK(compat::holds_alternative<torch::enumtype::kZeros>(layer.options.padding_mode()),
            "SpectralNorm: only convolutions with zero padding (padding_mode kZeros) are supported");
}

/// x / max(‖x‖, eps), as torch.nn.functional.normalize.
inline torch::Tensor unit(const torch::Tensor& x, double eps) { return x / x.norm().clamp_min(eps); }

}  // namespace detail

/// A Linear, Conv2d or ConvTranspose2d layer computing with W / σ, σ = uᵀ W v, W the weight viewed
/// as a matrix [outputs, inputs · kh · kw] (torch.nn.utils.spectral_norm's convention: dimension 0
/// for Linear and Conv2d, dimension 1 of ConvTranspose2d's [in, out, kh, kw] moved to the front).
/// Each forward in training mode first runs `power_iterations` steps u ← Wv/‖Wv‖, v ← Wᵀu/‖Wᵀu‖ on
/// the detached weight; eval mode uses u and v as they are. The gradient reaches W through both W
/// and σ (u, v are constants of the step), as in PyTorch. u and v are buffers, so checkpoints keep
/// them; construction runs 15 iterations, as PyTorch does.
///
/// σ normalises u and v before use: gpm::WeightAverage averages every floating-point buffer, and an
/// average of unit vectors is shorter than one. The averaged u and v still point along the top
/// singular pair of the averaged weights (the iterates track that pair while the weights drift
/// slowly), so their directions are the estimate to keep, and ûᵀWv̂ ≤ σ_max stays a valid one.
/// The wrapped layer is submodule `layer` (its `weight` and `bias` keep their names, so gpm::nn::init
/// reaches it).
/// Example: `SpectralNorm<torch::nn::Conv2d> conv(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 4)));`
template <class Layer>
class SpectralNormImpl : public torch::nn::Module {
 public:
  explicit SpectralNormImpl(Layer layer_to_wrap, SpectralNormOptions options = {})
      : layer(register_module("layer", std::move(layer_to_wrap))), options_(options) {
    GPM_CHECK(options_.power_iterations() >= 0, "SpectralNorm: power_iterations must be >= 0, got {}",
              options_.power_iterations());
    GPM_CHECK(options_.eps() > 0, "SpectralNorm: eps must be > 0, got {}", options_.eps());
    detail::check_padding_mode(*layer);
    const auto w = weight_matrix();
    auto gen = make_generator(options_.seed());
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    u = register_buffer("u", detail::unit(torch::randn({w.size(0)}, gen, f64), options_.eps()).to(w.options()));
    v = register_buffer("v", detail::unit(torch::randn({w.size(1)}, gen, f64), options_.eps()).to(w.options()));
    power_iterate(15);
  }

  /// The layer's weight as the matrix [outputs, rest] whose top singular value is normalised.
  torch::Tensor weight_matrix() const {
    const auto& w = layer->weight;
    return w.movedim(detail::output_dimension(*layer), 0).flatten(1);
  }

  /// Runs n power-iteration steps on the current weight, updating u and v in place (no gradient).
  void power_iterate(int64_t n) {
    torch::NoGradGuard no_grad;
    const auto w = weight_matrix();
    for (int64_t i = 0; i < n; ++i) {
      u.copy_(detail::unit(w.mv(v), options_.eps()));
      v.copy_(detail::unit(w.t().mv(u), options_.eps()));
    }
  }

  /// σ = ûᵀ W v̂ from the current vectors (no iteration); differentiable in W.
  torch::Tensor sigma() const {
    torch::Tensor u_hat, v_hat;
    {
      torch::NoGradGuard no_grad;  // clones: later iterations overwrite u and v in place
      u_hat = detail::unit(u, options_.eps());
      v_hat = detail::unit(v, options_.eps());
    }
    return torch::dot(u_hat, weight_matrix().mv(v_hat));
  }

  /// W / σ, after this forward's power iterations in training mode.
  torch::Tensor normalised_weight() {
    if (is_training()) power_iterate(options_.power_iterations());
    return layer->weight / sigma();
  }

  /// The wrapped layer's output with W / σ in place of W.
  torch::Tensor forward(const torch::Tensor& x) { return detail::apply_with_weight(*layer, x, normalised_weight()); }

  const SpectralNormOptions& options() const { return options_; }

  Layer layer;
  /// The left and right singular vector estimates, [outputs] and [rest].
  torch::Tensor u, v;

 private:
  SpectralNormOptions options_;
};

/// The module holder of SpectralNormImpl<Layer> (TORCH_MODULE for a template).
template <class Layer>
class SpectralNorm : public torch::nn::ModuleHolder<SpectralNormImpl<Layer>> {
 public:
  using torch::nn::ModuleHolder<SpectralNormImpl<Layer>>::ModuleHolder;
};

/// `layer` itself, or wrapped in SpectralNorm when `spectral_norm` is set: the weight layer of a
/// network whose spectral normalisation is an option.
/// Example: `auto conv = optionally_spectral_norm(torch::nn::Conv2d(opts), o.spectral_norm(), {});`
template <class Layer>
torch::nn::AnyModule optionally_spectral_norm(Layer layer, bool spectral_norm, SpectralNormOptions options = {}) {
  if (spectral_norm) return torch::nn::AnyModule(SpectralNorm<Layer>(std::move(layer), options));
  return torch::nn::AnyModule(std::move(layer));
}

}  // namespace gpm::nn
