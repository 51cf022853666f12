// Metrics of generated images against held-out real ones, through the classifier of
// gpm/metrics/image_classifier.hpp: the Fréchet distance of its penultimate features (fd_lenet),
// the share of confidently classified samples, the histogram of predicted classes, and k-NN
// precision and recall on the features.
//
// fd_lenet is NOT comparable to published FID values: it uses a small LeNet trained here on
// MNIST (84 features), not Inception-v3 trained on ImageNet (2048 features); its scale and its
// sensitivity differ. Compare it only with itself, at one sample size, with the same classifier.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/metrics/class_predictions.hpp"
#include "gpm/metrics/frechet_distance.hpp"
#include "gpm/metrics/precision_recall.hpp"
#include "gpm/nn/lenet.hpp"

namespace gpm::metrics {

struct ImageMetricsOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, k, Range::at_least(1), "neighbours of the k-NN manifolds of precision and recall") = 3;
  GPM_OPTION(double, confidence, Range::between(0, 1),
             "a sample is confidently classified when its largest class probability reaches this") = 0.9;
  GPM_OPTION(int64_t, batch_size, Range::at_least(1), "images per classifier pass") = 500;
  GPM_OPTIONS_END
};

/// The image metrics of a generated set against a real one.
struct ImageMetrics {
  /// Fréchet distance between Gaussian fits of the classifier's features, generated vs real
  /// (not comparable to Inception FID).
  double fd_lenet = 0.0;
  /// Share of generated samples whose largest class probability is >= the confidence threshold.
  double confident_fraction = 0.0;
  /// Share of generated samples predicted as each class.
  std::vector<double> class_histogram;
  /// Share of generated samples inside the real k-NN feature manifold.
  double precision = 0.0;
  /// Share of real samples inside the generated k-NN feature manifold.
  double recall = 0.0;

  /// {"fd_lenet": ..., "confident_fraction": ..., "class_histogram": [...], "precision": ..., "recall": ...}.
  nlohmann::json to_json() const {
    return {{"fd_lenet", fd_lenet}, {"confident_fraction", confident_fraction}, {"class_histogram", class_histogram},
            {"precision", precision}, {"recall", recall}};
  }

  /// The same figures as flat (name, value) pairs for logs: the histogram as class_0, class_1, ...
  std::vector<std::pair<std::string, double>> stats() const {
    std::vector<std::pair<std::string, double>> flat{{"fd_lenet", fd_lenet}, {"confident_fraction", confident_fraction},
                                                     {"precision", precision}, {"recall", recall}};
    for (size_t c = 0; c < class_histogram.size(); ++c) flat.emplace_back(fmt::format("class_{}", c), class_histogram[c]);
    return flat;
  }
};

/// The classifier's penultimate features [N, features] and logits [N, classes] of images.
struct ClassifierOutputs {
  torch::Tensor features;
  torch::Tensor logits;
};

/// Runs `classifier` (in eval mode, without gradients) on flat images [N, C·H·W] in batches of
/// `batch_size`. The images are converted to the classifier's dtype and device.
/// Example: `auto out = gpm::metrics::classifier_outputs(classifier, images);`
inline ClassifierOutputs classifier_outputs(nn::LeNet& classifier, const torch::Tensor& images, int64_t batch_size = 500) {
  torch::NoGradGuard no_grad;
  GPM_CHECK(batch_size >= 1, "classifier_outputs: batch_size must be >= 1, got {}", batch_size);
  check_particles(images, "classifier_outputs", "images");
  classifier->eval();
  const auto weight = classifier->fc3->weight;
  const auto x = images.detach().to(weight.device(), weight.scalar_type());
  std::vector<torch::Tensor> features, logits;
  for (int64_t start = 0; start < x.size(0); start += batch_size) {
    auto f = classifier->features(x.narrow(0, start, std::min(batch_size, x.size(0) - start)));
    logits.push_back(classifier->fc3->forward(f));
    features.push_back(std::move(f));
  }
  return {torch::cat(features), torch::cat(logits)};
}

/// fd_lenet: the Fréchet distance between Gaussian fits of the classifier's penultimate features of
/// `generated` and `real` flat images (frechet_distance). Not comparable to Inception FID.
/// Example: `double fd = gpm::metrics::fd_lenet(classifier, samples, validation_images);`
inline double fd_lenet(nn::LeNet& classifier, const torch::Tensor& generated, const torch::Tensor& real) {
  return frechet_distance(classifier_outputs(classifier, generated).features, classifier_outputs(classifier, real).features);
}

/// All image metrics of `generated` against `real` flat images [N, C·H·W] (more than k of each):
/// fd_lenet, the confident fraction and class histogram of the generated samples, and precision
/// and recall of the k-NN manifolds of the features. Computed in float64 from the classifier's
/// outputs.
/// Example: `auto m = gpm::metrics::image_metrics(classifier, samples, validation_images); log(m.to_json());`
inline ImageMetrics image_metrics(nn::LeNet& classifier, const torch::Tensor& generated, const torch::Tensor& real,
                                  const ImageMetricsOptions& options = {}) {
  GPM_CHECK(options.k() >= 1 && options.batch_size() >= 1, "image_metrics: k and batch_size must be >= 1, got {} and {}",
            options.k(), options.batch_size());
  const auto fake = classifier_outputs(classifier, generated, options.batch_size());
  const auto truth = classifier_outputs(classifier, real, options.batch_size());
  ImageMetrics m;
  m.fd_lenet = frechet_distance(fake.features, truth.features);
  m.confident_fraction = confident_fraction(fake.logits, options.confidence());
  m.class_histogram = class_histogram(fake.logits);
  const auto pr = precision_recall(truth.features, fake.features, options.k());
  m.precision = pr.precision;
  m.recall = pr.recall;
  return m;
}

/// The yardstick for image_metrics: the same metrics for real digits in the place of generated
/// ones, namely validation.size(0) images drawn without replacement (seeded) from `train`,
/// against `validation`. A generator that reproduced its training distribution perfectly would
/// score about this: its fd_lenet near these values, its confident fraction near this one.
/// (The classifier saw the training images, so their confident fraction is a little higher than
/// that of the held-out validation images.)
/// Example: `auto yardstick = gpm::metrics::real_image_metrics(classifier, train_images, validation_images);`
inline ImageMetrics real_image_metrics(nn::LeNet& classifier, const torch::Tensor& train, const torch::Tensor& validation,
                                       uint64_t seed = 0, const ImageMetricsOptions& options = {}) {
  check_particles(train, "real_image_metrics", "train");
  check_particles(validation, "real_image_metrics", "validation");
  GPM_CHECK(train.size(0) >= validation.size(0), "real_image_metrics: train holds {} images, fewer than the {} "
            "validation images it must match", train.size(0), validation.size(0));
  auto gen = make_generator(seed, train.device());
  const auto pick = torch::randperm(train.size(0), gen, train.options().dtype(torch::kLong)).narrow(0, 0, validation.size(0));
  return image_metrics(classifier, train.index_select(0, pick), validation, options);
}

}  // namespace gpm::metrics
