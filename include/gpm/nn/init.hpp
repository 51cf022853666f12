// Weight initialisations of the GPM reference (normal, orthogonal, LibTorch's default), applied
// recursively to every linear, convolution and normalisation layer of a module.
#pragma once

#include <array>
#include <string_view>
#include <utility>

#include <ATen/core/Generator.h>
#include <c10/util/Optional.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/nn/batch_norm.hpp"

namespace gpm::nn {

/// An initialisation scheme, by config name: "default" (LibTorch's own, untouched), "normal",
/// "orthogonal".
enum class Init { libtorch_default, normal, orthogonal };

/// Every initialisation scheme with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<Init, std::string_view>, 3> option_names(Init) {
  return {{{Init::libtorch_default, "default"}, {Init::normal, "normal"}, {Init::orthogonal, "orthogonal"}}};
}

namespace detail {

/// The weight and bias of a weight layer (Linear, Conv, ConvTranspose) or a normalisation layer
/// (BatchNorm, GroupNorm, LayerNorm); undefined tensors where the layer has none.
struct AffineParameters {
  torch::Tensor weight, bias;
  bool weight_layer = false;
  bool normalisation_layer = false;
};

template <class Impl>
bool find_affine(torch::nn::Module& m, AffineParameters& out) {
  auto* layer = dynamic_cast<Impl*>(&m);
  if (layer == nullptr) return false;
  out.weight = layer->weight;
  out.bias = layer->bias;
  return true;
}

inline AffineParameters affine_parameters(torch::nn::Module& m) {
  namespace tn = torch::nn;
  AffineParameters p;
  p.weight_layer = find_affine<tn::LinearImpl>(m, p) || find_affine<tn::Conv1dImpl>(m, p) ||
                   find_affine<tn::Conv2dImpl>(m, p) || find_affine<tn::Conv3dImpl>(m, p) ||
                   find_affine<tn::ConvTranspose1dImpl>(m, p) || find_affine<tn::ConvTranspose2dImpl>(m, p) ||
                   find_affine<tn::ConvTranspose3dImpl>(m, p);
  if (!p.weight_layer)
    p.normalisation_layer = find_affine<BatchNormImpl>(m, p) || find_affine<tn::BatchNorm1dImpl>(m, p) ||
                            find_affine<tn::BatchNorm2dImpl>(m, p) || find_affine<tn::BatchNorm3dImpl>(m, p) ||
                            find_affine<tn::GroupNormImpl>(m, p) ||
                            find_affine<tn::LayerNormImpl>(m, p);
  return p;
}

/// Fills `w` (viewed as [rows, numel/rows]) with a (semi-)orthogonal matrix times `gain`: the QR
/// factor of a Gaussian matrix with the signs of R's diagonal (Saxe et al. 2014), as
/// torch.nn.init.orthogonal_ but drawn from `gen`.
inline void orthogonal_fill(torch::Tensor& w, double gain, c10::optional<at::Generator> gen) {
  const int64_t rows = w.size(0);
  const int64_t cols = w.numel() / rows;
  auto flat = torch::randn({rows, cols}, gen, w.options());
  if (rows < cols) flat = flat.t();
  auto [q, r] = torch::linalg_qr(flat);
  q = q * torch::diagonal(r).sign().unsqueeze(0);
  if (rows < cols) q = q.t();
  w.copy_(q.reshape(w.sizes()) * gain);
}

inline void init_layers(torch::nn::Module& module, Init init, double scale, c10::optional<at::Generator> gen) {
  if (init == Init::libtorch_default) return;
  torch::NoGradGuard no_grad;
  module.apply([&](torch::nn::Module& m) {
    auto p = affine_parameters(m);
    if (p.normalisation_layer) {
      if (p.weight.defined()) p.weight.normal_(1.0, scale, gen);
      if (p.bias.defined()) p.bias.zero_();
    } else if (p.weight_layer) {
      if (p.weight.defined()) {
        if (init == Init::normal) p.weight.normal_(0.0, scale, gen);
        else orthogonal_fill(p.weight, scale, gen);
      }
      if (p.bias.defined()) p.bias.zero_();
    }
  });
}

}  // namespace detail

/// The reference's "normal" init, recursively: Linear/Conv/ConvTranspose weights ~ N(0, stddev²),
/// their biases 0; BatchNorm/GroupNorm/LayerNorm weights ~ N(1, stddev²), biases 0 (DCGAN,
/// Radford et al. 2016). Draws from `gen` (the global generator when omitted).
/// Example: `init_normal(*discriminator, 0.02, gen);`
inline void init_normal(torch::nn::Module& module, double stddev = 0.02, c10::optional<at::Generator> gen = c10::nullopt) {
  GPM_CHECK(stddev >= 0, "gpm::nn::init_normal: stddev must be >= 0, got {}", stddev);
  detail::init_layers(module, Init::normal, stddev, std::move(gen));
}
template <class M>
void init_normal(torch::nn::ModuleHolder<M>& module, double stddev = 0.02, c10::optional<at::Generator> gen = c10::nullopt) {
  init_normal(*module, stddev, std::move(gen));
}

/// The reference's "orthogonal" init, recursively: Linear/Conv/ConvTranspose weights (flattened to
/// [out, rest]) orthogonal times `gain` (Saxe et al. 2014, arXiv:1312.6120), biases 0; normalisation
/// weights ~ N(1, gain²), biases 0 — the reference applies its gain as that std too.
/// Example: `init_orthogonal(*generator, 1.41, gen);`
inline void init_orthogonal(torch::nn::Module& module, double gain = 1.0,
                            c10::optional<at::Generator> gen = c10::nullopt) {
  GPM_CHECK(gain >= 0, "gpm::nn::init_orthogonal: gain must be >= 0, got {}", gain);
  detail::init_layers(module, Init::orthogonal, gain, std::move(gen));
}
template <class M>
void init_orthogonal(torch::nn::ModuleHolder<M>& module, double gain = 1.0,
                     c10::optional<at::Generator> gen = c10::nullopt) {
  init_orthogonal(*module, gain, std::move(gen));
}

/// Applies `init` with `scale` (the std of "normal", the gain of "orthogonal"; ignored by
/// "default", which leaves LibTorch's initialisation in place).
/// Example: `init_module(*net, Init::orthogonal, 1.41);`
inline void init_module(torch::nn::Module& module, Init init, double scale,
                        c10::optional<at::Generator> gen = c10::nullopt) {
  switch (init) {
    case Init::libtorch_default: return;
    case Init::normal: init_normal(module, scale, std::move(gen)); return;
    case Init::orthogonal: init_orthogonal(module, scale, std::move(gen)); return;
  }
}
template <class M>
void init_module(torch::nn::ModuleHolder<M>& module, Init init, double scale,
                 c10::optional<at::Generator> gen = c10::nullopt) {
  init_module(*module, init, scale, std::move(gen));
}

}  // namespace gpm::nn
