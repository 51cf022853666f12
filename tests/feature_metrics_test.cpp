// Metrics on feature sets: the Fréchet distance against closed forms, identities and a general
// eigenvalue computation; k-NN precision and recall on constructed sets; the confident fraction and
// class histogram of hand-made logits; and their input checks.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gpm/metrics.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace metrics = gpm::metrics;

namespace {

/// A random orthogonal matrix [d, d] (the Q factor of a Gaussian matrix).
torch::Tensor random_rotation(int64_t d, at::Generator& gen, const torch::TensorOptions& opts) {
  return std::get<0>(torch::linalg_qr(torch::randn({d, d}, gen, opts)));
}

/// Σ (√a_i − √b_i)² + ‖μa − μb‖²: the Fréchet distance of Gaussians whose covariances share
/// eigenvectors, with eigenvalues a and b.
double commuting_fd(const torch::Tensor& mean_a, const torch::Tensor& mean_b, const torch::Tensor& a, const torch::Tensor& b) {
  return ((a.sqrt() - b.sqrt()).square().sum() + (mean_a - mean_b).square().sum()).item<double>();
}

/// The Fréchet distance by the general route: tr((Σa Σb)^{1/2}) = Σ √λ_i(Σa Σb), the eigenvalues
/// of the non-symmetric product taken from torch::linalg_eigvals (real and >= 0 in exact arithmetic).
double general_fd(const metrics::GaussianFit& a, const metrics::GaussianFit& b) {
  const auto lambda = torch::real(torch::linalg_eigvals(a.covariance.matmul(b.covariance))).clamp_min(0.0);
  return ((a.mean - b.mean).square().sum() + a.covariance.trace() + b.covariance.trace() - 2.0 * lambda.sqrt().sum())
      .item<double>();
}

/// `clusters` centres 100 apart on a line in 2-D, `per_cluster` points N(centre, 0.1² I) around each.
torch::Tensor clusters(int64_t count, int64_t per_cluster, at::Generator& gen, const torch::TensorOptions& opts,
                       int64_t first = 0) {
  std::vector<torch::Tensor> parts;
  for (int64_t c = first; c < first + count; ++c)
    parts.push_back(torch::randn({per_cluster, 2}, gen, opts) * 0.1 + torch::tensor({100.0 * static_cast<double>(c), 0.0}, opts));
  return torch::cat(parts);
}

}  // namespace

TEST_CASE("the Fréchet distance of diagonal and commuting covariances has its closed form", "[metrics][frechet][numeric]") {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(gpm::test::device());
  auto gen = gpm::test::generator(41);
  const int64_t d = 6;
  const auto mean_a = torch::randn({d}, gen, opts), mean_b = torch::randn({d}, gen, opts);
  // Eigenvalues with a zero in each (singular covariances: the square roots must clamp, not fail).
  const auto a = torch::tensor({0.0, 0.5, 1.0, 2.0, 3.0, 9.0}, opts), b = torch::tensor({4.0, 0.0, 1.0, 0.25, 5.0, 1.0}, opts);
  const double expected = commuting_fd(mean_a, mean_b, a, b);

  CHECK(metrics::frechet_distance({mean_a, torch::diag(a)}, {mean_b, torch::diag(b)}) == Approx(expected).epsilon(1e-12));
  const auto q = random_rotation(d, gen, opts);
  const metrics::GaussianFit fa{mean_a, q.matmul(torch::diag(a)).matmul(q.t())}, fb{mean_b, q.matmul(torch::diag(b)).matmul(q.t())};
  // Rotated, a zero eigenvalue comes out of the decomposition as ±1e-16, and its square root as
  // 1e-8: the square root amplifies rounding near singular covariances, whatever the method.
  CHECK(metrics::frechet_distance(fa, fb) == Approx(expected).margin(1e-6));
  CHECK(metrics::frechet_distance(fb, fa) == Approx(expected).margin(1e-6));
  // By hand in 1-D: N(0, 4) and N(3, 1): 3² + (2 − 1)² = 10.
  const auto one = [&](double mean, double variance) {
    return metrics::GaussianFit{torch::full({1}, mean, opts), torch::full({1, 1}, variance, opts)};
  };
  CHECK(metrics::frechet_distance(one(0, 4), one(3, 1)) == Approx(10.0).epsilon(1e-12));
}

TEST_CASE("the Fréchet distance agrees with the eigenvalues of Σa Σb on random SPD matrices", "[metrics][frechet][numeric]") {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(gpm::test::device());
  auto gen = gpm::test::generator(42);
  for (const int64_t d : {1, 2, 5, 20}) {
    const auto ga = torch::randn({d, d}, gen, opts), gb = torch::randn({d, d}, gen, opts);
    const metrics::GaussianFit a{torch::randn({d}, gen, opts), ga.matmul(ga.t()) + 0.1 * torch::eye(d, opts)};
    const metrics::GaussianFit b{torch::randn({d}, gen, opts), gb.matmul(gb.t()) + 0.1 * torch::eye(d, opts)};
    INFO("d = " << d);
    CHECK(metrics::frechet_distance(a, b) == Approx(general_fd(a, b)).epsilon(1e-8));
    CHECK(metrics::frechet_distance(b, a) == Approx(general_fd(a, b)).epsilon(1e-8));
  }
}

TEMPLATE_TEST_CASE("the Fréchet distance of sample sets: zero for one set, symmetric, invariant to a common rotation",
                   "[metrics][frechet][numeric]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  auto gen = gpm::test::generator(43);
  const auto x = torch::randn({300, 8}, gen, opts) * torch::linspace(0.5, 2.0, 8, opts);
  const auto y = torch::randn({200, 8}, gen, opts) + 0.3;
  const double fd = metrics::frechet_distance(x, y);
  CHECK(fd > 0.5);
  CHECK(metrics::frechet_distance(x, x) == Approx(0.0).margin(1e-9));
  CHECK(metrics::frechet_distance(y, x) == Approx(fd).epsilon(1e-9));
  const auto rotation = random_rotation(8, gen, opts);
  const auto shift = torch::randn({8}, gen, opts);
  const double tolerance = std::is_same_v<TestType, double> ? 1e-9 : 1e-4;
  CHECK(metrics::frechet_distance(x.matmul(rotation) + shift, y.matmul(rotation) + shift) == Approx(fd).epsilon(tolerance));
  // The sets' fits: the mean and the unbiased covariance.
  const auto x64 = x.to(torch::kFloat64), centred = x64 - x64.mean(0);
  const auto fit = metrics::gaussian_fit(x);
  CHECK(fit.covariance.scalar_type() == torch::kFloat64);
  CHECK(gpm::test::max_abs(fit.mean - x64.mean(0)) < 1e-12);
  CHECK(gpm::test::max_abs(fit.covariance - centred.t().matmul(centred) / 299.0) < 1e-12);
  CHECK(metrics::frechet_distance(metrics::gaussian_fit(x), metrics::gaussian_fit(y)) == fd);
}

TEST_CASE("k-NN radii are the distance to the k-th other point", "[metrics][precision_recall][numeric]") {
  const auto opts = gpm::test::options<double>();
  // Points on a line at 0, 1, 3, 7, 15: neighbours of 3 at distances 2, 3, 4, 12 -> r_1 = 2, r_3 = 4.
  const auto x = torch::tensor({0.0, 1.0, 3.0, 7.0, 15.0}, opts).view({5, 1});
  const auto r1 = metrics::squared_knn_radii(x, 1).cpu(), r3 = metrics::squared_knn_radii(x, 3).cpu();
  CHECK(gpm::test::max_abs(r1 - torch::tensor({1.0, 1.0, 4.0, 16.0, 64.0}, torch::kFloat64)) < 1e-12);
  CHECK(gpm::test::max_abs(r3 - torch::tensor({49.0, 36.0, 16.0, 49.0, 196.0}, torch::kFloat64)) < 1e-12);
  // Blocks of rows give the same radii as one distance matrix with sorting.
  auto gen = gpm::test::generator(44);
  const auto many = torch::randn({1500, 3}, gen, opts);
  auto full = gpm::pairwise_squared_distances(many, many);
  full.fill_diagonal_(0.0);
  const auto sorted = std::get<0>(full.sort(1));
  CHECK(gpm::test::max_abs(metrics::squared_knn_radii(many, 3) - sorted.select(1, 3)) < 1e-12);
  // Inside a manifold: within the radius of some reference point, the boundary included.
  // Balls [−1, 1], [0, 2], [1, 5], [3, 11], [7, 23].
  const auto points = torch::tensor({2.0, 5.0, 24.0, 20.0, -1.5}, opts).view({5, 1});
  const auto inside = metrics::inside_manifold(points, x, r1).cpu();
  CHECK(inside.equal(torch::tensor({true, true, false, true, false})));
}

TEMPLATE_TEST_CASE("precision and recall: identical sets 1 and 1, far sets 0 and 0, half the clusters recall 1/2",
                   "[metrics][precision_recall][numeric]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  auto gen = gpm::test::generator(45);
  const auto real = clusters(10, 60, gen, opts);
  const auto same = metrics::precision_recall(real, real);
  CHECK(same.precision == 1.0);
  CHECK(same.recall == 1.0);
  const auto far = metrics::precision_recall(real, real + 1e4);
  CHECK(far.precision == 0.0);
  CHECK(far.recall == 0.0);
  // The real points of clusters 0..4 as the generated set: each lies on a real point (precision
  // 1) and each real point of those clusters on a generated one, while clusters 5..9 are 100 away
  // (recall 300/600 exactly).
  const auto half = metrics::precision_recall(real, real.narrow(0, 0, 300));
  CHECK(half.precision == 1.0);
  CHECK(half.recall == 0.5);
  // Fresh samples of clusters 0..4: a sample escapes the other set's k-NN balls only in the tails.
  // Over 30 seeds the precision was >= 0.89 and the recall within [0.458, 0.488].
  const auto sampled = metrics::precision_recall(real, clusters(5, 60, gen, opts));
  CHECK(sampled.precision > 0.85);
  CHECK(sampled.recall == Approx(0.47).margin(0.04));
  CHECK(sampled.recall <= 0.5);
  // Generated samples that all fall on one real cluster: precise but not diverse (recall at most
  // 60/600, that cluster's share; precision >= 0.90 over 30 seeds).
  const auto collapsed = metrics::precision_recall(real, clusters(1, 300, gen, opts, 3));
  CHECK(collapsed.precision > 0.85);
  CHECK(collapsed.recall <= 0.1);
}

TEST_CASE("confident fraction and class histogram of hand-made logits", "[metrics][predictions]") {
  const auto opts = gpm::test::options<float>();
  // Probabilities (0.95, 0.05), (0.6, 0.4), (0.08, 0.92), (0.3, 0.7) as logits log p + 3.
  const auto logits = torch::tensor({0.95, 0.05, 0.6, 0.4, 0.08, 0.92, 0.3, 0.7}, opts).view({4, 2}).log() + 3.0;
  CHECK(metrics::confident_fraction(logits) == Approx(0.5));
  CHECK(metrics::confident_fraction(logits, 0.65) == Approx(0.75));
  CHECK(metrics::confident_fraction(logits, 0.0) == 1.0);
  CHECK(metrics::class_histogram(logits) == std::vector<double>{0.5, 0.5});
  const auto three = torch::tensor({0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 5.0, 0.0, 1.0, 0.0, 0.0, 3.0, 0.0, 1.0, 0.0}, opts).view({5, 3});
  CHECK(metrics::class_histogram(three) == std::vector<double>{0.2, 0.6, 0.2});
}

TEST_CASE("feature metrics refuse bad input with a message naming it", "[metrics][errors]") {
  const auto x = torch::zeros({5, 2});
  REQUIRE_THROWS_WITH(metrics::frechet_distance(x, torch::zeros({5, 3})), Contains("x has 2 coordinates per point but y has 3"));
  REQUIRE_THROWS_WITH(metrics::frechet_distance(x, torch::zeros({1, 2})), Contains("expected at least 2 points"));
  REQUIRE_THROWS_WITH(metrics::frechet_distance(metrics::GaussianFit{torch::zeros({2}), torch::zeros({3, 3})},
                                                metrics::GaussianFit{torch::zeros({2}), torch::zeros({2, 2})}),
                      Contains("the fit a has mean [2] and covariance [3, 3], expected [D] and [D, D]"));
  REQUIRE_THROWS_WITH(metrics::precision_recall(x, torch::zeros({3, 2})), Contains("y has shape [3, 2], expected at least 4 points"));
  REQUIRE_THROWS_WITH(metrics::precision_recall(x, x, 0), Contains("k must be >= 1, got 0"));
  REQUIRE_THROWS_WITH(metrics::inside_manifold(x, x, torch::zeros({4})), Contains("one radius per reference point [5]"));
  REQUIRE_THROWS_WITH(metrics::confident_fraction(torch::zeros({4, 1})), Contains("at least 2 classes"));
  REQUIRE_THROWS_WITH(metrics::confident_fraction(x, 1.5), Contains("threshold must be in [0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(metrics::class_histogram(torch::zeros({4, 2}, torch::kLong)), Contains("floating-point"));
}
