// Metrics: energy distance, MMD and sliced Wasserstein against brute force and closed forms,
// mode coverage on hand-made points, and the input checks.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "gpm/metrics.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace metrics = gpm::metrics;

namespace {

/// ‖x_i − y_j‖ by an explicit loop over coordinates (x, y: float64 CPU accessors).
template <class A>
double distance(const A& x, int64_t i, const A& y, int64_t j) {
  double sum = 0;
  for (int64_t d = 0; d < x.size(1); ++d) sum += (x[i][d] - y[j][d]) * (x[i][d] - y[j][d]);
  return std::sqrt(sum);
}

/// (1/count) Σ f(‖x_i − y_j‖) over all pairs, or over i ≠ j when `distinct`, by a double loop.
template <class F>
double pair_mean(const torch::Tensor& x, const torch::Tensor& y, F f, bool distinct) {
  const auto xd = x.to(torch::kFloat64).cpu().contiguous(), yd = y.to(torch::kFloat64).cpu().contiguous();
  const auto a = xd.accessor<double, 2>(), b = yd.accessor<double, 2>();
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < a.size(0); ++i)
    for (int64_t j = 0; j < b.size(0); ++j)
      if (!distinct || i != j) {
        sum += f(distance(a, i, b, j));
        ++count;
      }
  return sum / static_cast<double>(count);
}

double brute_energy_distance(const torch::Tensor& x, const torch::Tensor& y) {
  const auto id = [](double r) { return r; };
  return 2 * pair_mean(x, y, id, false) - pair_mean(x, x, id, true) - pair_mean(y, y, id, true);
}

double brute_squared_mmd(const torch::Tensor& x, const torch::Tensor& y, const std::vector<double>& bandwidths) {
  const auto k = [&](double r) {
    double sum = 0;
    for (const double h : bandwidths) sum += std::exp(-r * r / (2 * h * h));
    return sum;
  };
  return pair_mean(x, x, k, true) + pair_mean(y, y, k, true) - 2 * pair_mean(x, y, k, false);
}

/// The lower median of all pairwise distances of the rows of x and y pooled, by sorting.
double brute_median_distance(const torch::Tensor& x, const torch::Tensor& y) {
  const auto pool = torch::cat({x.to(torch::kFloat64), y.to(torch::kFloat64)}).cpu().contiguous();
  const auto p = pool.accessor<double, 2>();
  std::vector<double> distances;
  for (int64_t i = 0; i < p.size(0); ++i)
    for (int64_t j = i + 1; j < p.size(0); ++j) distances.push_back(distance(p, i, p, j));
  std::sort(distances.begin(), distances.end());
  return distances[(distances.size() - 1) / 2];
}

}  // namespace

TEMPLATE_TEST_CASE("energy distance equals its U-statistic computed by a double loop", "[metrics][energy][numeric]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  auto gen = gpm::test::generator(21);
  const auto x = torch::randn({7, 3}, gen, opts), y = torch::randn({5, 3}, gen, opts) + 0.5;
  CHECK(metrics::energy_distance(x, y) == Approx(brute_energy_distance(x, y)).margin(1e-12));
  CHECK(metrics::energy_distance(y, x) == Approx(metrics::energy_distance(x, y)).margin(1e-12));
  // By hand in 1-D: x = y = {0, 1}: 2·(2/4) − 2/2 − 2/2 = −1 (the U-statistic can be negative).
  const auto z = torch::tensor({0.0, 1.0}, opts).view({2, 1});
  CHECK(metrics::energy_distance(z, z) == Approx(-1.0).margin(1e-12));
}

TEST_CASE("energy distance is near zero for one distribution and clearly positive for a shifted one", "[metrics][energy][numeric]") {
  const auto opts = gpm::test::options<float>();
  auto gen = gpm::test::generator(22);
  const auto x = torch::randn({2000, 2}, gen, opts), y = torch::randn({2000, 2}, gen, opts);
  const auto shift = torch::tensor({1.0f, 0.0f}, opts);
  // Standard deviations of the estimate at n = 2000, measured over 30 seeds: 0.0007 (same
  // distribution) and 0.025 (shifted); margins about 4 sd.
  CHECK(std::abs(metrics::energy_distance(x, y)) < 0.005);
  // N(0, I) against N((1, 0), I): 2·E‖N(s, 2I)‖ − 2·E‖N(0, 2I)‖ = 2·1.9873 − 2·√π = 0.4298 (Rice mean).
  CHECK(metrics::energy_distance(x, y + shift) == Approx(0.4298).margin(0.1));
}

TEST_CASE("blocked pair sums agree with one full distance matrix", "[metrics][energy][numeric]") {
  // Thousands of points span many blocks of rows (a block holds 2^18 pairs on the CPU).
  const auto opts = gpm::test::options<double>();
  auto gen = gpm::test::generator(23);
  const auto x = torch::randn({3000, 2}, gen, opts), y = torch::randn({2500, 2}, gen, opts) * 1.5;
  const auto full = [](const torch::Tensor& a, const torch::Tensor& b, bool distinct) {
    auto d = gpm::pairwise_squared_distances(a, b).sqrt();
    if (distinct) d.fill_diagonal_(0);
    const double count = static_cast<double>(a.size(0)) * static_cast<double>(distinct ? b.size(0) - 1 : b.size(0));
    return d.sum().item<double>() / count;
  };
  const double expected = 2 * full(x, y, false) - full(x, x, true) - full(y, y, true);
  CHECK(metrics::energy_distance(x, y) == Approx(expected).epsilon(1e-12));
}

TEMPLATE_TEST_CASE("squared MMD equals its unbiased U-statistic, with given and median-heuristic bandwidths",
                   "[metrics][mmd][numeric]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  auto gen = gpm::test::generator(24);
  const auto x = torch::randn({6, 2}, gen, opts), y = torch::randn({9, 2}, gen, opts) * 2.0;
  CHECK(metrics::squared_mmd(x, y, {0.5, 1.5}) == Approx(brute_squared_mmd(x, y, {0.5, 1.5})).margin(1e-12));

  const double median = brute_median_distance(x, y);
  CHECK(metrics::median_distance(x, y) == Approx(median).epsilon(1e-12));
  const auto bandwidths = metrics::default_mmd_bandwidths(x, y);
  REQUIRE(bandwidths.size() == 6);
  CHECK(bandwidths[0] == Approx(0.1 * median).epsilon(1e-12));
  CHECK(bandwidths[5] == Approx(5.0 * median).epsilon(1e-12));
  CHECK(metrics::squared_mmd(x, y) == Approx(brute_squared_mmd(x, y, bandwidths)).margin(1e-12));

  // Identical points: every kernel value is 1 and MMD² = 6 + 6 − 2·6 = 0; the median falls back to 1.
  const auto same = torch::zeros({4, 2}, opts);
  CHECK(metrics::median_distance(same, same) == 1.0);
  CHECK(metrics::squared_mmd(same, same) == Approx(0.0).margin(1e-12));
}

TEST_CASE("squared MMD is near zero for one distribution and clearly positive for a shifted one", "[metrics][mmd][numeric]") {
  const auto opts = gpm::test::options<float>();
  auto gen = gpm::test::generator(25);
  const auto x = torch::randn({1500, 2}, gen, opts), y = torch::randn({1500, 2}, gen, opts);
  const auto shift = torch::tensor({1.0f, 0.0f}, opts);
  const double same = metrics::squared_mmd(x, y), shifted = metrics::squared_mmd(x, y + shift);
  // Standard deviations at n = 1500, measured over 30 seeds: 0.0015 (same distribution, mean 0) and
  // 0.026 (shifted, mean 0.305); thresholds about 4 sd away.
  CHECK(std::abs(same) < 0.008);
  CHECK(shifted > 0.2);
  CHECK(metrics::squared_mmd(x, y + 2.0 * shift) > shifted);
  // The pool of 3000 points is thinned to 1000 for the median; the distance between two independent
  // N(0, I) points in 2-D has median √2 · √(2 ln 2) = 1.6651.
  CHECK(metrics::median_distance(x, y) == Approx(1.6651).margin(0.1));
}

TEMPLATE_TEST_CASE("sliced W2 of a shifted copy is |s|/√2 in 2-D, exactly for evenly spaced angles",
                   "[metrics][sliced][numeric]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  auto gen = gpm::test::generator(26);
  const auto x = torch::randn({500, 2}, gen, opts);
  const auto y = x + 2.0 * torch::tensor({0.6, -0.8}, opts);  // ‖s‖ = 2
  // Mean of cos²(θ_l − φ) over L >= 2 evenly spaced angles is exactly 1/2.
  const double tolerance = 10 * gpm::test::eps<TestType>();
  CHECK(metrics::sliced_wasserstein(x, y) == Approx(std::sqrt(2.0)).epsilon(tolerance));
  CHECK(metrics::sliced_wasserstein(x, y, metrics::SlicedWassersteinOptions().projections(7)) ==
        Approx(std::sqrt(2.0)).epsilon(tolerance));
  // p = 1: mean over angles of 2|cos(θ_l − φ)| → 2·(2/π) for many angles.
  CHECK(metrics::sliced_wasserstein(x, y, metrics::SlicedWassersteinOptions().projections(1000).p(1)) ==
        Approx(4.0 / std::numbers::pi).epsilon(1e-3));
  CHECK(metrics::sliced_wasserstein(x, x) == Approx(0.0).margin(1e-12));
}

TEST_CASE("sliced W2 in 3-D uses seeded Gaussian directions, with E cos² = 1/3", "[metrics][sliced][numeric]") {
  const auto opts = gpm::test::options<double>();
  auto gen = gpm::test::generator(27);
  const auto x = torch::randn({400, 3}, gen, opts);
  const auto y = x + torch::tensor({3.0, 0.0, 0.0}, opts);
  const auto options = metrics::SlicedWassersteinOptions().projections(1000).seed(4);
  const auto directions = metrics::slicing_directions(3, options);
  REQUIRE(directions.sizes() == torch::IntArrayRef({1000, 3}));
  CHECK(gpm::test::max_abs(directions.norm(2, {1}) - 1.0) < 1e-12);
  // Exactly: SW2² = 9 · mean_l θ_{l,1}²; statistically ≈ 9/3 (standard error 9 · 0.0094 = 0.085).
  const double exact = std::sqrt(9.0 * directions.select(1, 0).square().mean().item<double>());
  const double sw = metrics::sliced_wasserstein(x, y, options);
  CHECK(sw == Approx(exact).epsilon(1e-12));
  CHECK(sw == Approx(std::sqrt(3.0)).margin(0.1));
  // Same seed, same value; another seed, other directions.
  const auto z = torch::randn({400, 3}, gen, opts);
  CHECK(metrics::sliced_wasserstein(x, z, options) == metrics::sliced_wasserstein(x, z, options));
  CHECK(metrics::sliced_wasserstein(x, z, options) != metrics::sliced_wasserstein(x, z, metrics::SlicedWassersteinOptions(options).seed(5)));
}

TEST_CASE("sliced Wasserstein is the 1-D optimal-transport cost, with quantiles when sizes differ", "[metrics][sliced][numeric]") {
  const auto opts = gpm::test::options<double>();
  const auto column = [&](std::vector<double> v) { return torch::tensor(v, opts).view({-1, 1}); };
  // Equal sizes: sorted pairs (0, 2), (1, 3): W2 = 2.
  CHECK(metrics::sliced_wasserstein(column({1, 0}), column({3, 2})) == Approx(2.0));
  // m = 4, n = 2: K = 4, q = 1/8, 3/8, 5/8, 7/8; quantiles a = 0, 1, 2, 3 and b = 0, 0, 1, 1;
  // W2² = (0 + 1 + 1 + 4)/4 = 1.5 and W1 = (0 + 1 + 1 + 2)/4 = 1.
  CHECK(metrics::sliced_wasserstein(column({3, 1, 0, 2}), column({1, 0})) == Approx(std::sqrt(1.5)));
  CHECK(metrics::sliced_wasserstein(column({1, 0}), column({3, 1, 0, 2})) == Approx(std::sqrt(1.5)));
  CHECK(metrics::sliced_wasserstein(column({3, 1, 0, 2}), column({1, 0}), metrics::SlicedWassersteinOptions().p(1)) ==
        Approx(1.0));
  // N(0, 1) against N(1, 1): W2 = 1; the estimate's standard deviation is 0.021 (30 seeds); margin 5 sd.
  auto gen = gpm::test::generator(28);
  const auto x = torch::randn({4000, 1}, gen, opts), y = torch::randn({3000, 1}, gen, opts) + 1.0;
  CHECK(metrics::sliced_wasserstein(x, y) == Approx(1.0).margin(0.1));
}

TEMPLATE_TEST_CASE("mode coverage assigns samples to the nearest centre and counts those within 3 std",
                   "[metrics][modes]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  const auto centers = torch::tensor({0.0, 0.0, 10.0, 0.0, 0.0, 10.0}, opts).view({3, 2});
  // Nearest centres 0, 0, 0, 1, 0; within 3·std = 3: yes, yes, no, yes, no.
  const auto x = torch::tensor({0.5, 0.0, 2.9, 0.0, 3.1, 0.0, 10.0, 1.0, 0.0, -4.0}, opts).view({5, 2});
  const auto coverage = metrics::mode_coverage(x, centers, 1.0);
  CHECK(coverage.counts == std::vector<int64_t>{2, 1, 0});
  CHECK(coverage.modes_covered == 2);
  CHECK(coverage.high_quality_fraction == Approx(0.6));
  CHECK(metrics::mode_coverage(x, centers, 1.0, /*min_count=*/2).modes_covered == 1);
  CHECK(metrics::mode_coverage(x, centers, 2.0).high_quality_fraction == Approx(1.0));
}

TEST_CASE("metrics refuse bad sample sets with a message naming the argument", "[metrics][errors]") {
  const auto x = torch::zeros({5, 2});
  REQUIRE_THROWS_WITH(metrics::energy_distance(torch::zeros({5}), x),
                      Contains("energy_distance: x has shape [5], expected a sample set [N, D]"));
  REQUIRE_THROWS_WITH(metrics::energy_distance(x, torch::zeros({5, 3})),
                      Contains("x has 2 coordinates per point but y has 3"));
  REQUIRE_THROWS_WITH(metrics::energy_distance(x, torch::zeros({1, 2})),
                      Contains("y has shape [1, 2], expected at least 2 points"));
  REQUIRE_THROWS_WITH(metrics::squared_mmd(x, torch::zeros({5, 2}, torch::kLong)), Contains("floating-point"));
  REQUIRE_THROWS_WITH(metrics::squared_mmd(x, x, {1.0, -1.0}),
                      Contains("every bandwidth must be a finite number > 0, got -1"));
  REQUIRE_THROWS_WITH(metrics::sliced_wasserstein(x, x, metrics::SlicedWassersteinOptions().projections(0)),
                      Contains("projections must be >= 1, got 0"));
  REQUIRE_THROWS_WITH(metrics::sliced_wasserstein(x, x, metrics::SlicedWassersteinOptions().p(0.5)),
                      Contains("p must be a finite number >= 1, got 0.5"));
  REQUIRE_THROWS_WITH(metrics::sliced_wasserstein(torch::Tensor(), x), Contains("x is an undefined tensor"));
  REQUIRE_THROWS_WITH(metrics::mode_coverage(x, x, 0.0), Contains("std must be a finite number > 0, got 0"));
  REQUIRE_THROWS_WITH(metrics::mode_coverage(x, torch::zeros({4, 3}), 1.0),
                      Contains("x has 2 coordinates per point but the centers have 3"));
  REQUIRE_THROWS_WITH(metrics::mode_coverage(x, x, 1.0, 0), Contains("min_count must be >= 1, got 0"));
}
