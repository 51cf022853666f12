// How the runner judges generated digits: gpm's MNIST classifier (trained once, cached beside the
// MNIST package) and the held-out validation digits, the yardstick of the image metrics
// (docs/images.md#metrics).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>

#include <gpm/data/mnist.hpp>
#include <gpm/metrics/image_classifier.hpp>
#include <gpm/metrics/image_metrics.hpp>

namespace gpm::runner {

/// The classifier of the image metrics and the real digits generated ones are compared with.
struct DigitJudge {
  nn::LeNet classifier{nullptr};
  /// The validation digits of MNIST's default split [M, 1024], which the classifier never saw.
  torch::Tensor validation;
};

/// Whether a --data spec names MNIST.
inline bool is_mnist_spec(const std::string& spec) { return spec.substr(0, spec.find(':')) == "mnist"; }

/// The judge of MNIST digits: the classifier trained on the training split of MNIST's default split
/// (about 30 s on one core the first time, then read from `<data dir>/mnist/gpm-lenet.pt`).
inline DigitJudge mnist_judge() {
  const data::Mnist train(data::MnistOptions().split(data::MnistSplit::train));
  const data::Mnist validation(data::MnistOptions().split(data::MnistSplit::validation));
  const auto cache = data::default_data_dir() / "mnist" / "gpm-lenet.pt";
  auto trained = metrics::cached_image_classifier(cache, {train.images(), train.labels()},
                                                  {validation.images(), validation.labels()}, data::Mnist::kImageShape);
  return {trained.network, validation.images()};
}

/// The judge for runs on `spec`: MNIST's for MNIST, none for other data.
inline std::optional<DigitJudge> digit_judge(const std::string& spec) {
  if (!is_mnist_spec(spec)) return std::nullopt;
  return mnist_judge();
}

}  // namespace gpm::runner
