// The multilayer perceptron of the GPM reference ("depth L, width W"), used as generator,
// discriminator and (with a time embedding) score network on flattened particles.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/linear_leaky_relu.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/activation.hpp"
#include "gpm/nn/batch_norm.hpp"
#include "gpm/nn/fourier_features.hpp"
#include "gpm/nn/linear.hpp"

namespace gpm::nn {

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

/// An Mlp's architecture. Models nest it (GanOptions::generator, TimeMlpOptions::mlp), so a
/// config sets a network's fields in one object: {"width": 256, "depth": 3}.
struct MlpOptions {
  /// Options of an Mlp whose sizes a model fills in (in, out: placement, not configuration).
  MlpOptions() = default;
  /// `in`: number of input features (the flattened size of one particle or latent);
  /// `out`: number of output features.
  MlpOptions(int64_t in, int64_t out) : in_(in), out_(out) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, width, Range::at_least(1), "W, the units of every hidden layer") = 512;
  GPM_OPTION(int64_t, depth, Range::at_least(0), "L, the hidden activations (L + 1 Linear layers; 0: one Linear)") = 4;
  GPM_OPTION(Activation, activation, Range::any(), "the hidden nonlinearity") = Activation::leaky_relu;
  GPM_OPTION(double, negative_slope, Range::at_least(0), "leaky_relu's slope for negative inputs") = 0.2;
  GPM_OPTION(bool, batch_norm, Range::any(), "BatchNorm1d at the start of each hidden block") = false;
  GPM_OPTION(int64_t, input_features, Range::at_least(0),
             "F, random Fourier features φ(x) of the input joined to it (0: none)") = 0;
  GPM_OPTION(double, input_feature_scale, Range::above(0),
             "std of the input features' angular frequencies, in radians per unit of x") = 1.0;
  GPM_OPTIONS_END

  TORCH_ARG(int64_t, in) = 0;
  TORCH_ARG(int64_t, out) = 0;
  /// The seed of the input features' frequencies (placement: models derive it from theirs).
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
    mlp->push_back(Linear(o.in() + o.input_features(), o.depth() > 0 ? o.width() : o.out()));
    for (int64_t i = 0; i < o.depth(); ++i) {
      detail::MlpBlock block;
      if (o.batch_norm()) block->push_back(BatchNorm(o.width()));
      block->push_back(make_activation(o.activation(), o.negative_slope()));
      block->push_back(Linear(o.width(), i + 1 < o.depth() ? o.width() : o.out()));
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
    GPM_CHECK(!(options_.batch_norm() && options_.depth() > 0 && is_training() && flat.size(0) < 2),
              "Mlp::forward: x has 1 row, but batch norm in training mode normalises each feature over the rows "
              "of a batch, which needs at least 2; give batches of 2 or more rows, or call eval() to use the "
              "running statistics");
    const auto& input_layer = mlp->at<LinearImpl>(0);
    if (input_features)
      return forward_layers(torch::cat({flat, input_features->forward(flat)}, 1), input_layer.weight, input_layer.bias);
    return forward_layers(flat, input_layer.weight, input_layer.bias);
  }

  /// forward(cat({x, row.expand({N, -1})}, 1)) for x [N, k] and one row [1, in − k] that every row
  /// of x shares, with the input layer's product over the row's columns made once instead of N
  /// times (equal up to rounding). Not with input_features: their φ would mix x and the row.
  torch::Tensor forward_with_shared_row(const torch::Tensor& x, const torch::Tensor& row) {
    GPM_CHECK(!input_features, "Mlp::forward_with_shared_row: the Mlp has input features, computed from the whole "
              "input row; call forward on the concatenation instead");
    GPM_CHECK(x.dim() == 2 && row.dim() == 2 && row.size(0) == 1 && x.size(1) + row.size(1) == options_.in(),
              "Mlp::forward_with_shared_row: x has shape {} and row {}; expected x [N, k] and row [1, {} − k]",
              shape_string(x), shape_string(row), options_.in());
    const auto& input_layer = mlp->at<LinearImpl>(0);
    const int64_t k = x.size(1);
    const torch::Tensor shared = gpm::linear(row, input_layer.weight.narrow(1, k, row.size(1)), input_layer.bias);
    return forward_layers(x, input_layer.weight.narrow(1, 0, k), shared.reshape({-1}));
  }

  /// Whether each row's output depends on that row alone (gpm::ReportsRowIndependence): not with
  /// batch norm in training mode, which normalises over the batch.
  bool rows_independent() const { return !(options_.batch_norm() && options_.depth() > 0 && is_training()); }

  const MlpOptions& options() const { return options_; }

  /// The layers: mlp[0] is the input Linear, mlp[1..L] the hidden blocks.
  torch::nn::Sequential mlp;
  /// Non-null when options().input_features() > 0.
  FourierFeatures input_features{nullptr};

 private:
  // The layers on x given the input layer's weight and bias. A Linear and the leaky ReLU or ReLU
  // that opens the next block (without batch norm) run as one gpm::linear_leaky_relu.
  torch::Tensor forward_layers(torch::Tensor h, torch::Tensor weight, torch::Tensor bias) {
    const auto activation = options_.activation();
    const bool fused = !options_.batch_norm() && (activation == Activation::leaky_relu || activation == Activation::relu);
    const double slope = activation == Activation::leaky_relu ? options_.negative_slope() : 0.0;
    for (size_t i = 1; i < mlp->size(); ++i) {
      auto& block = mlp->at<detail::MlpBlockImpl>(i);
      if (fused) {
        h = linear_leaky_relu(h, weight, bias, slope);
      } else {
        h = gpm::linear(h, weight, bias);
        for (auto module = block.begin(); module + 1 != block.end(); ++module) h = module->forward(h);
      }
      const auto& layer = block.at<LinearImpl>(block.size() - 1);
      weight = layer.weight;
      bias = layer.bias;
    }
    return gpm::linear(h, weight, bias);
  }

  MlpOptions options_;
};
TORCH_MODULE(Mlp);

}  // namespace gpm::nn
