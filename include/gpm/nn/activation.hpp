// The hidden nonlinearities of gpm's networks (MLPs and convolutional networks), by config name.
#pragma once

#include <array>
#include <string_view>
#include <utility>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/any.h>

namespace gpm::nn {

/// A hidden nonlinearity. `leaky_relu` uses its network's `negative_slope` option (0.2).
enum class Activation { relu, leaky_relu, silu };

/// Every activation with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<Activation, std::string_view>, 3> option_names(Activation) {
  return {{{Activation::relu, "relu"}, {Activation::leaky_relu, "leaky_relu"}, {Activation::silu, "silu"}}};
}

/// The activation as a module, to push into a Sequential or register in a network.
/// Example: `block->push_back(make_activation(Activation::leaky_relu, 0.2));`
inline torch::nn::AnyModule make_activation(Activation activation, double negative_slope) {
  switch (activation) {
    case Activation::relu: return torch::nn::AnyModule(torch::nn::ReLU());
    case Activation::leaky_relu:
      return torch::nn::AnyModule(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(negative_slope)));
    case Activation::silu: break;
  }
  return torch::nn::AnyModule(torch::nn::SiLU());
}

}  // namespace gpm::nn
