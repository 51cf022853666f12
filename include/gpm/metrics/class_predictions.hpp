// What a classifier's logits say about a set of samples: how many it recognises with confidence
// (a proxy for sample quality) and how the predicted classes are spread (mode coverage).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::metrics {

namespace detail {
inline torch::Tensor checked_logits(const torch::Tensor& logits, const char* where) {
  GPM_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) >= 1 && logits.size(1) >= 2,
            "{}: logits have shape {}, expected [N, classes] with N >= 1 and at least 2 classes", where,
            logits.defined() ? shape_string(logits) : "undefined");
  GPM_CHECK(logits.is_floating_point(), "{}: logits have dtype {}, expected a floating-point dtype", where,
            std::string(c10::toString(logits.scalar_type())));
  return logits.detach().to(torch::kFloat64);
}
}  // namespace detail

/// The share of samples whose largest softmax probability max_c softmax(logits_i)_c is >= `threshold`
/// (0.9 by default), for logits [N, classes].
/// Example: `double confident = gpm::metrics::confident_fraction(classifier->forward(images));`
inline double confident_fraction(const torch::Tensor& logits, double threshold = 0.9) {
  torch::NoGradGuard no_grad;
  GPM_CHECK(threshold >= 0 && threshold <= 1, "confident_fraction: threshold must be in [0, 1], got {}", threshold);
  const auto l = detail::checked_logits(logits, "confident_fraction");
  return l.softmax(1).amax(1).ge(threshold).to(torch::kFloat64).mean().item<double>();
}

/// The share of samples predicted as each class (argmax of the logits [N, classes]): `classes`
/// fractions summing to 1. A generator that drops a digit leaves its bin near 0.
/// Example: `auto histogram = gpm::metrics::class_histogram(classifier->forward(images));`
inline std::vector<double> class_histogram(const torch::Tensor& logits) {
  torch::NoGradGuard no_grad;
  const auto l = detail::checked_logits(logits, "class_histogram");
  const int64_t classes = l.size(1);
  const auto counts = torch::bincount(l.argmax(1), {}, classes).to(torch::kCPU, torch::kFloat64).contiguous();
  const auto* c = counts.data_ptr<double>();
  std::vector<double> fractions(static_cast<size_t>(classes));
  for (int64_t i = 0; i < classes; ++i) fractions[static_cast<size_t>(i)] = c[i] / static_cast<double>(l.size(0));
  return fractions;
}

}  // namespace gpm::metrics
