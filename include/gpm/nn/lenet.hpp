// A small LeNet-style convolutional classifier (LeCun et al. 1998) on flat image particles. gpm
// trains it on MNIST to get the features and class probabilities of its image metrics
// (gpm/metrics/image_metrics.hpp), since no pretrained Inception weights are available.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/arg.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::nn {

/// A LeNet's architecture: two 5×5 convolutions, each followed by ReLU and 2×2 max pooling, then
/// three Linear layers (hidden, features, classes).
struct LeNetOptions {
  /// Options of a LeNet whose placement a caller fills in.
  LeNetOptions() = default;
  /// `image`: the C × H × W of one input image (flat inputs [N, C·H·W]); `classes`: the logits.
  LeNetOptions(ImageShape image, int64_t classes) : image_(image), classes_(classes) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, conv1_channels, Range::at_least(1), "channels of the first 5×5 convolution") = 16;
  GPM_OPTION(int64_t, conv2_channels, Range::at_least(1), "channels of the second 5×5 convolution") = 32;
  GPM_OPTION(int64_t, hidden, Range::at_least(1), "units of the first Linear layer") = 128;
  GPM_OPTION(int64_t, features, Range::at_least(1), "units of the penultimate layer, the metrics' features") = 84;
  GPM_OPTIONS_END

  TORCH_ARG(ImageShape, image) = ImageShape{1, 32, 32};
  TORCH_ARG(int64_t, classes) = 10;
};

/// x [N, C·H·W] → conv 5×5 (conv1_channels) → ReLU → max-pool 2 → conv 5×5 (conv2_channels) → ReLU
/// → max-pool 2 → flatten → Linear(hidden) → ReLU → Linear(features) → ReLU → Linear(classes).
/// `features(x)` [N, features] is the output of the second ReLU, `forward(x)` [N, classes] the
/// logits. The image needs H, W >= 16 (two valid convolutions and two poolings leave ≥ 1 pixel).
/// Example: `LeNet net(LeNetOptions(ImageShape{1, 32, 32}, 10)); auto logits = net->forward(images);`
class LeNetImpl : public torch::nn::Module {
 public:
  explicit LeNetImpl(LeNetOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    const auto& image = o.image();
    GPM_CHECK(image.channels >= 1 && image.height >= 16 && image.width >= 16, "LeNet: the image is {}, expected "
              "at least 1 channel and 16×16 pixels (two 5×5 convolutions and two 2×2 poolings)", image.describe());
    GPM_CHECK(o.classes() >= 2, "LeNet: classes must be >= 2, got {}", o.classes());
    GPM_CHECK(o.conv1_channels() >= 1 && o.conv2_channels() >= 1 && o.hidden() >= 1 && o.features() >= 1,
              "LeNet: conv1_channels, conv2_channels, hidden and features must be >= 1, got {}, {}, {}, {}",
              o.conv1_channels(), o.conv2_channels(), o.hidden(), o.features());
    const auto pooled = [](int64_t size) { return ((size - 4) / 2 - 4) / 2; };
    const int64_t flat = o.conv2_channels() * pooled(image.height) * pooled(image.width);
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(image.channels, o.conv1_channels(), 5)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.conv1_channels(), o.conv2_channels(), 5)));
    fc1 = register_module("fc1", torch::nn::Linear(flat, o.hidden()));
    fc2 = register_module("fc2", torch::nn::Linear(o.hidden(), o.features()));
    fc3 = register_module("fc3", torch::nn::Linear(o.features(), o.classes()));
  }

  /// The penultimate activations: x [N, C·H·W] → [N, features] (non-negative, after ReLU).
  torch::Tensor features(const torch::Tensor& x) {
    namespace F = torch::nn::functional;
    check_particles(x, "LeNet::features");
    auto h = options_.image().unflatten(x, "LeNet::features");
    // ReLU after pooling: the same values (both are monotone), on a quarter of the elements.
    h = torch::relu(F::max_pool2d(conv1->forward(h), F::MaxPool2dFuncOptions(2)));
    h = torch::relu(F::max_pool2d(conv2->forward(h), F::MaxPool2dFuncOptions(2)));
    h = torch::relu(fc1->forward(h.flatten(1)));
    return torch::relu(fc2->forward(h));
  }

  /// The class logits: x [N, C·H·W] → [N, classes].
  torch::Tensor forward(const torch::Tensor& x) { return fc3->forward(features(x)); }

  const LeNetOptions& options() const { return options_; }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};

 private:
  LeNetOptions options_;
};
TORCH_MODULE(LeNet);

}  // namespace gpm::nn
