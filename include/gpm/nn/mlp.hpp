// The multilayer perceptron of the GPM reference ("depth L, width W"), used as generator,
// discriminator and (with a time embedding) score network on flattened particles.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/fourier_features.hpp"

namespace gpm::nn {

/// The hidden nonlinearity of an Mlp. `leaky_relu` uses MlpOptions::negative_slope (0.2).
enum class Activation { relu, leaky_relu, silu };

/// The config name of an activation: "relu", "leaky_relu" or "silu".
inline std::string to_string(Activation activation) {
  switch (activation) {
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::silu: return "silu";
  }
  return "unknown";
}

/// Reads an activation from its config name ("relu", "leaky_relu", "silu"); throws
/// gpm::InvalidArgument listing the valid names otherwise.
/// Example: `auto a = gpm::nn::parse_activation(config["activation"]);`
inline Activation parse_activation(std::string_view name) {
  for (auto a : {Activation::relu, Activation::leaky_relu, Activation::silu})
    if (name == to_string(a)) return a;
  throw InvalidArgument(fmt::format("gpm::nn::parse_activation: unknown activation \"{}\"; valid names "
                                    "are relu, leaky_relu, silu", name));
}

namespace detail {
/// One hidden block [BatchNorm1d, activation, Linear] as a Sequential that can be nested in another
/// (LibTorch cannot nest a plain Sequential: its forward is a template).
class MlpBlockImpl : public torch::nn::SequentialImpl {
 public:
  using torch::nn::SequentialImpl::SequentialImpl;
  torch::Tensor forward(const torch::Tensor& x) { return torch::nn::SequentialImpl::forward(x); }
};
TORCH_MODULE(MlpBlock);
}  // namespace detail

struct MlpOptions {
  /// `in`: number of input features (the flattened size of one particle or latent);
  /// `out`: number of output features.
  MlpOptions(int64_t in, int64_t out) : in_(in), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  /// W: the width of every hidden layer.
  TORCH_ARG(int64_t, width) = 512;
  /// L: the number of hidden activations (L + 1 Linear layers). 0 gives one Linear(in, out).
  TORCH_ARG(int64_t, depth) = 4;
  TORCH_ARG(Activation, activation) = Activation::leaky_relu;
  /// Slope of leaky_relu for negative inputs.
  TORCH_ARG(double, negative_slope) = 0.2;
  /// Whether each hidden block starts with BatchNorm1d(W).
  TORCH_ARG(bool, batch_norm) = false;
  /// F > 0 joins random Fourier features φ(x) of the input to it (FourierFeatures, F features with
  /// angular frequencies of standard deviation input_feature_scale, drawn from input_feature_seed).
  TORCH_ARG(int64_t, input_features) = 0;
  TORCH_ARG(double, input_feature_scale) = 1.0;
  TORCH_ARG(uint64_t, input_feature_seed) = 0;
};

/// The reference MLP: Linear(in, W), then L blocks [BatchNorm1d(W) (optional), activation,
/// Linear(W, W)] whose last Linear maps to `out` — L hidden activations, L + 1 Linear layers,
/// (in + 1) W + (L − 1)(W + 1) W + (W + 1) out parameters without batch norm (+ 2 W L with it).
/// Inputs [N, ...] are flattened to [N, in]; the output is [N, out]. Parameter names follow the
/// reference (`mlp.0.weight`, `mlp.1.1.weight`, ...; Franceschi et al. 2023, arXiv:2305.16150).
/// With input_features F > 0 the layers see [x, φ(x)] (in + F features), submodule `input_features`.
/// Example: `Mlp disc(MlpOptions(2, 1).width(512).depth(4).activation(Activation::leaky_relu));`
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(MlpOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    GPM_CHECK(o.in() > 0 && o.out() > 0, "Mlp: in and out must be > 0, got in = {}, out = {}", o.in(), o.out());
    GPM_CHECK(o.width() > 0, "Mlp: width must be > 0, got {}", o.width());
    GPM_CHECK(o.depth() >= 0, "Mlp: depth must be >= 0 (the number of hidden activations), got {}", o.depth());
    GPM_CHECK(o.negative_slope() >= 0, "Mlp: negative_slope must be >= 0, got {}", o.negative_slope());
    GPM_CHECK(o.input_features() >= 0, "Mlp: input_features must be >= 0, got {}", o.input_features());
    if (o.input_features() > 0)
      input_features = register_module("input_features", FourierFeatures(FourierFeaturesOptions(o.in(), o.input_features())
                                                                             .scale(o.input_feature_scale())
                                                                             .seed(o.input_feature_seed())));
    mlp->push_back(torch::nn::Linear(o.in() + o.input_features(), o.depth() > 0 ? o.width() : o.out()));
    for (int64_t i = 0; i < o.depth(); ++i) {
      detail::MlpBlock block;
      if (o.batch_norm()) block->push_back(torch::nn::BatchNorm1d(o.width()));
      switch (o.activation()) {
        case Activation::relu: block->push_back(torch::nn::ReLU()); break;
        case Activation::leaky_relu:
          block->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(o.negative_slope())));
          break;
        case Activation::silu: block->push_back(torch::nn::SiLU()); break;
      }
      block->push_back(torch::nn::Linear(o.width(), i + 1 < o.depth() ? o.width() : o.out()));
      mlp->push_back(block);
    }
    register_module("mlp", mlp);
  }
  MlpImpl(int64_t in, int64_t out) : MlpImpl(MlpOptions(in, out)) {}

  /// x [N, ...] with in features per row -> [N, out].
  torch::Tensor forward(const torch::Tensor& x) {
    check_particles(x, "Mlp::forward");
    const auto flat = x.flatten(1);
    GPM_CHECK(flat.size(1) == options_.in(), "Mlp::forward: x has shape {} ({} features per row once "
              "flattened), but the Mlp was built with in = {}", shape_string(x), flat.size(1), options_.in());
    if (input_features) return mlp->forward(torch::cat({flat, input_features->forward(flat)}, 1));
    return mlp->forward(flat);
  }

  const MlpOptions& options() const { return options_; }

  /// The layers: mlp[0] is the input Linear, mlp[1..L] the hidden blocks.
  torch::nn::Sequential mlp;
  /// Non-null when options().input_features() > 0.
  FourierFeatures input_features{nullptr};

 private:
  MlpOptions options_;
};
TORCH_MODULE(Mlp);

}  // namespace gpm::nn
