// Image metrics: the classifier's training (augmentation shifts, accuracy, the cache keyed by its
// options and data), the entry point that composes the feature metrics, and their input checks.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "gpm/metrics.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace metrics = gpm::metrics;
namespace t = gpm::test;

namespace {

const gpm::ImageShape kSmall{1, 16, 16};

/// Two classes of 16×16 images in [−1, 1]: a horizontal bar (label 0) or a vertical bar (label 1)
/// three pixels thick at a random place, plus a little noise.
metrics::LabelledImages bars(int64_t n, at::Generator& gen) {
  const auto opts = t::options<float>();
  auto images = torch::full({n, 16, 16}, -1.0, opts);
  const auto labels = torch::randint(0, 2, {n}, gen, opts.dtype(torch::kLong));
  const auto where = torch::randint(2, 12, {n}, gen, opts.dtype(torch::kLong)).cpu();
  const auto label = labels.cpu();
  for (int64_t i = 0; i < n; ++i) {
    const auto bar = images[i].narrow(label[i].item<int64_t>() == 0 ? 0 : 1, where[i].item<int64_t>(), 3);
    bar.fill_(1.0);
  }
  return {(images + 0.1 * torch::randn({n, 16, 16}, gen, opts)).flatten(1), labels};
}

/// A path for a cache file inside a fresh temporary directory, removed with it at scope exit.
class ScratchDirectory {
 public:
  ScratchDirectory()
      : root_(std::filesystem::temp_directory_path() / fmt::format("gpm_image_metrics_test_{}", std::random_device{}())) {}
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  std::filesystem::path path(const std::string& name) const { return root_ / name; }

 private:
  std::filesystem::path root_;
};

metrics::ImageClassifierOptions quick_options() {
  return metrics::ImageClassifierOptions().epochs(4).batch_size(16).optimizer(gpm::AdamOptions().lr(3e-3)).network(
      gpm::nn::LeNetOptions().conv1_channels(4).conv2_channels(8).hidden(16).features(8));
}

}  // namespace

TEST_CASE("random shifts move each image by a whole number of pixels within the bound, edges replicated",
          "[metrics][classifier]") {
  const auto opts = t::options<double>();
  const auto image = torch::arange(256, opts).view({1, 256});  // every pixel distinct
  const int64_t s = 2;
  auto padded = torch::nn::functional::pad(image.view({1, 1, 16, 16}),
                                           torch::nn::functional::PadFuncOptions({s, s, s, s}).mode(torch::kReplicate));
  auto gen = t::generator(51);
  const auto shifted = metrics::detail::random_shifts(image.expand({300, 256}), kSmall, s, gen);
  REQUIRE(shifted.sizes() == torch::IntArrayRef({300, 256}));
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t i = 0; i < 300; ++i) {
    int64_t matches = 0;
    for (int64_t dy = 0; dy <= 2 * s; ++dy)
      for (int64_t dx = 0; dx <= 2 * s; ++dx)
        if (shifted[i].equal(padded.narrow(2, dy, 16).narrow(3, dx, 16).flatten())) {
          ++matches;
          seen.emplace(dy, dx);
        }
    CHECK(matches == 1);
  }
  CHECK(seen.size() == 25);  // each of the 25 shifts among 300 draws (missing one: probability < 1e-4)
}

TEST_CASE("the image classifier learns a separable task and is cached, keyed by its options and data",
          "[metrics][classifier]") {
  auto gen = t::generator(52);
  const auto train = bars(400, gen), validation = bars(100, gen);
  const ScratchDirectory scratch;
  const auto cache = scratch.path("nested/lenet.pt");  // the directory is created
  const auto options = quick_options();

  auto first = metrics::cached_image_classifier(cache, train, validation, kSmall, 2, options);
  CHECK(first.trained);
  CHECK(first.validation_accuracy >= 0.97);
  REQUIRE(std::filesystem::exists(cache));
  const auto logits = first.network->forward(validation.images);
  CHECK(metrics::classification_accuracy(first.network, validation) == first.validation_accuracy);

  // Read back: the same network. Trained anew with the same seed: the same network too (the cache
  // rounds weights to float32, which these already are).
  auto again = metrics::cached_image_classifier(cache, train, validation, kSmall, 2, options);
  CHECK_FALSE(again.trained);
  CHECK(again.network->forward(validation.images).equal(logits));
  CHECK(again.validation_accuracy == first.validation_accuracy);
  auto fresh = metrics::train_image_classifier(train, validation, kSmall, 2, options);
  CHECK(fresh.trained);
  CHECK(fresh.network->forward(validation.images).equal(logits));

  // Other options, another seed or other training data: trained again (and the file replaced).
  CHECK(metrics::cached_image_classifier(cache, train, validation, kSmall, 2, quick_options().epochs(2)).trained);
  CHECK(metrics::cached_image_classifier(cache, train, validation, kSmall, 2, options).trained);
  CHECK(metrics::cached_image_classifier(cache, train, validation, kSmall, 2, quick_options().seed(1)).trained);
  CHECK(metrics::cached_image_classifier(cache, train, validation, kSmall, 2, options).trained);
  auto flipped = train;
  flipped.labels = train.labels.clone();
  flipped.labels[0].fill_(1 - flipped.labels[0].item<int64_t>());
  CHECK(metrics::cached_image_classifier(cache, flipped, validation, kSmall, 2, options).trained);
  CHECK(metrics::cached_image_classifier(cache, flipped, validation, kSmall, 2, options).trained == false);
  // A damaged file is trained over, not an error.
  std::ofstream(cache, std::ios::binary | std::ios::trunc) << "not an archive";
  CHECK(metrics::cached_image_classifier(cache, train, validation, kSmall, 2, options).trained);
  CHECK_FALSE(metrics::cached_image_classifier(cache, train, validation, kSmall, 2, options).trained);
}

TEMPLATE_TEST_CASE("image_metrics composes the feature metrics on the classifier's outputs", "[metrics][image_metrics]",
                   float, double) {
  const auto opts = t::options<TestType>();
  auto gen = t::generator(53);
  gpm::nn::LeNet net = [] {
    gpm::ScopedGlobalSeed seeded(3);
    return gpm::nn::LeNet(gpm::nn::LeNetOptions(gpm::ImageShape{1, 32, 32}, 10));
  }();
  net->to(t::device(), t::dtype<TestType>());
  const auto generated = torch::rand({40, 1024}, gen, opts) * 2 - 1;
  const auto real = torch::rand({30, 1024}, gen, opts) * 1.5 - 0.5;

  const auto m = metrics::image_metrics(net, generated, real);  // one batch of 500 holds each set
  torch::NoGradGuard no_grad;
  const auto fake = net->features(generated), truth = net->features(real);
  const auto logits = net->forward(generated);
  CHECK(m.fd_lenet == metrics::frechet_distance(fake, truth));
  CHECK(m.fd_lenet == metrics::fd_lenet(net, generated, real));
  const auto batched = metrics::image_metrics(net, generated, real, metrics::ImageMetricsOptions().batch_size(7));
  // Other batches round the features differently; 30 points in 84 dimensions give singular
  // covariances, whose near-zero eigenvalues pass rounding on through their square roots.
  CHECK(batched.fd_lenet == Approx(m.fd_lenet).margin(1e-5));
  CHECK(m.confident_fraction == Approx(metrics::confident_fraction(logits)).margin(1e-12));
  CHECK(m.class_histogram == metrics::class_histogram(logits));
  const auto pr = metrics::precision_recall(truth, fake);
  CHECK(m.precision == pr.precision);
  CHECK(m.recall == pr.recall);
  const auto same = metrics::image_metrics(net, real, real);
  CHECK(same.fd_lenet == Approx(0.0).margin(1e-9));
  CHECK(same.precision == 1.0);
  CHECK(same.recall == 1.0);

  const auto json = m.to_json();
  CHECK(json["fd_lenet"].template get<double>() == m.fd_lenet);
  CHECK(json["class_histogram"].size() == 10);
  const auto flat = m.stats();
  REQUIRE(flat.size() == 14);
  CHECK(flat[0] == std::pair<std::string, double>{"fd_lenet", m.fd_lenet});
  CHECK(flat[13] == std::pair<std::string, double>{"class_9", m.class_histogram[9]});

  // The real yardstick: validation.size(0) distinct training images, seeded.
  const auto yardstick = metrics::real_image_metrics(net, generated, real, 5);
  auto pick_gen = gpm::make_generator(5, t::device());
  const auto pick = torch::randperm(40, pick_gen, opts.dtype(torch::kLong)).narrow(0, 0, 30);
  CHECK(yardstick.to_json() == metrics::image_metrics(net, generated.index_select(0, pick), real).to_json());
}

TEST_CASE("the image classifier and metrics refuse bad input with a message naming it", "[metrics][classifier][errors]") {
  auto gen = t::generator(54);
  const auto data = bars(20, gen);
  const auto options = quick_options();
  auto wrong = data;
  wrong.labels = data.labels.to(torch::kInt);
  REQUIRE_THROWS_WITH(metrics::train_image_classifier(wrong, data, kSmall, 2, options),
                      Contains("the training labels are Int [20], expected int64 [20]"));
  wrong.labels = data.labels + 1;
  REQUIRE_THROWS_WITH(metrics::train_image_classifier(data, wrong, kSmall, 2, options),
                      Contains("the validation labels span [1, 2], expected classes in [0, 2)"));
  REQUIRE_THROWS_WITH(metrics::train_image_classifier(data, data, gpm::ImageShape{1, 32, 32}, 2, options),
                      Contains("the training images have shape [20, 256], expected flat images [N, 1024] of 1×32×32"));
  REQUIRE_THROWS_WITH(metrics::train_image_classifier(data, data, kSmall, 2, quick_options().epochs(0)),
                      Contains("epochs and batch_size must be >= 1"));
  gpm::nn::LeNet net(gpm::nn::LeNetOptions(kSmall, 2));
  REQUIRE_THROWS_WITH(metrics::image_metrics(net, data.images, data.images.narrow(0, 0, 3)),
                      Contains("expected at least 4 points"));
  REQUIRE_THROWS_WITH(metrics::real_image_metrics(net, data.images.narrow(0, 0, 5), data.images),
                      Contains("train holds 5 images, fewer than the 20 validation images"));
}
