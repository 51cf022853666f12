// Latent interpolations: endpoints, the closed forms of the linear and spherical paths, the identities
// that define the Cauchy-linear and spherical Cauchy-linear ones, the χ² distribution functions
// against closed forms and known quantiles, names, and errors.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;
using gpm::Interpolation;

namespace {

torch::Tensor f64(const std::vector<double>& values) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64).device(t::device()));
}

/// The time of each step, shaped [1, steps, 1] to broadcast against paths [B, steps, d].
torch::Tensor times(int64_t steps, const torch::TensorOptions& options) {
  return torch::linspace(0, 1, steps, options).view({1, steps, 1});
}

/// max |a − b| / max(1, |b|), elementwise: relative error for large values, absolute for small ones.
double scaled_error(const torch::Tensor& a, const torch::Tensor& b) {
  const auto b64 = b.to(torch::kFloat64);
  return ((a.to(torch::kFloat64) - b64).abs() / b64.abs().clamp_min(1)).max().item<double>();
}

bool all_finite(const torch::Tensor& x) { return torch::isfinite(x).all().item<bool>(); }

double value(const torch::Tensor& x) { return x.item<double>(); }

}  // namespace

TEST_CASE("interpolations are named in configs and listed", "[generators][interpolation]") {
  CHECK(gpm::option_name(Interpolation::linear) == "linear");
  CHECK(gpm::option_name(Interpolation::spherical) == "spherical");
  CHECK(gpm::option_name(Interpolation::cauchy_linear) == "cauchy_linear");
  CHECK(gpm::option_name(Interpolation::spherical_cauchy_linear) == "spherical_cauchy_linear");
  CHECK(gpm::option_value<Interpolation>("spherical_cauchy_linear") == Interpolation::spherical_cauchy_linear);
  CHECK_FALSE(gpm::option_value<Interpolation>("cauchy").has_value());
  REQUIRE(gpm::all_interpolations.size() == 4);
  const auto names = gpm::option_names_of<Interpolation>();
  for (size_t i = 0; i < gpm::all_interpolations.size(); ++i)
    CHECK(gpm::option_name(gpm::all_interpolations[i]) == names[i]);
}

TEMPLATE_TEST_CASE("every interpolation starts at start and ends at end", "[generators][interpolation][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  const auto start = torch::randn({5, 16}, t::generator(1), o);
  const auto end = torch::randn({5, 16}, t::generator(2), o) * 3;
  for (const auto kind : gpm::all_interpolations) {
    INFO(gpm::option_name(kind));
    const auto path = gpm::interpolate_latents(start, end, 7, kind);
    REQUIRE(path.sizes() == torch::IntArrayRef({5, 7, 16}));
    CHECK(path.scalar_type() == start.scalar_type());
    CHECK(path.device() == start.device());
    CHECK(all_finite(path));
    CHECK(scaled_error(path.select(1, 0), start) < t::eps<TestType>());
    CHECK(scaled_error(path.select(1, 6), end) < t::eps<TestType>());
  }
}

TEMPLATE_TEST_CASE("the linear path is (1 − t) a + t b; its midpoint is the mean",
                   "[generators][interpolation][numeric]", float, double) {
  const auto o = t::options<TestType>();
  const auto a = torch::randn({4, 8}, t::generator(3), o);
  const auto b = torch::randn({4, 8}, t::generator(4), o);
  const auto midpoint = gpm::interpolate_latents(a, b, 3, Interpolation::linear).select(1, 1);
  CHECK(t::max_abs(midpoint - (a + b) / 2) < t::eps<TestType>());
  const auto s = times(5, o);
  const auto path = gpm::interpolate_latents(a, b, 5, Interpolation::linear);
  CHECK(t::max_abs(path - ((1 - s) * a.unsqueeze(1) + s * b.unsqueeze(1))) < t::eps<TestType>());
}

TEMPLATE_TEST_CASE("the spherical path of orthogonal unit vectors is the quarter circle at angle t·π/2",
                   "[generators][interpolation][numeric]", float, double) {
  const auto o = t::options<TestType>();
  // Two orthonormal vectors of R^6 per row, from a QR decomposition.
  const auto q = std::get<0>(torch::linalg_qr(torch::randn({3, 6, 2}, t::generator(5), o)));
  const auto a = q.select(2, 0);
  const auto b = q.select(2, 1);
  const int64_t steps = 9;
  const auto path = gpm::interpolate_latents(a, b, steps, Interpolation::spherical);
  CHECK(t::max_abs(path.norm(2, -1) - 1) < t::eps<TestType>());
  const auto angle = times(steps, o) * (std::numbers::pi / 2);
  CHECK(t::max_abs((path * a.unsqueeze(1)).sum(-1, true) - angle.cos()) < t::eps<TestType>());
  CHECK(t::max_abs(path - (angle.cos() * a.unsqueeze(1) + angle.sin() * b.unsqueeze(1))) < t::eps<TestType>());
}

TEMPLATE_TEST_CASE("the spherical path is sin((1 − t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, linear when Ω = 0",
                   "[generators][interpolation][numeric]", float, double) {
  const auto o = t::options<TestType>();
  const auto a = torch::randn({4, 5}, t::generator(6), o) * 2;
  const auto b = torch::randn({4, 5}, t::generator(7), o);
  const auto s = times(6, o);
  const auto cosine = (a * b).sum(-1) / (a.norm(2, -1) * b.norm(2, -1));
  const auto omega = torch::acos(cosine).view({-1, 1, 1});
  const auto expected = (((1 - s) * omega).sin() * a.unsqueeze(1) + (s * omega).sin() * b.unsqueeze(1)) / omega.sin();
  CHECK(t::max_abs(gpm::interpolate_latents(a, b, 6, Interpolation::spherical) - expected) < 10 * t::eps<TestType>());
  // Same direction: no angle, the linear path.
  const auto along = gpm::interpolate_latents(a, 3 * a, 6, Interpolation::spherical);
  CHECK(t::max_abs(along - gpm::interpolate_latents(a, 3 * a, 6, Interpolation::linear)) < 10 * t::eps<TestType>());
}

TEST_CASE("gaussian_to_cauchy is tan(π(Φ(x) − ½)) and cauchy_to_gaussian inverts it",
          "[generators][interpolation][numeric]") {
  const auto z = f64({-10, -3, -1, -0.25, 0, 0.5, 1, 4, 8});
  const auto cauchy = gpm::gaussian_to_cauchy(z);
  const auto phi = 0.5 * torch::erfc(-z / std::numbers::sqrt2);
  const auto moderate = z.abs() <= 4;  // where tan(π(Φ − ½)) itself is still accurate in float64
  CHECK(scaled_error(cauchy.masked_select(moderate), torch::tan(std::numbers::pi * (phi - 0.5)).masked_select(moderate))
        < 1e-12);
  CHECK(std::abs(gpm::gaussian_to_cauchy(f64({1})).item<double>() - 1.8373372014715831) < 1e-12);
  // The lower tail keeps its digits: g(−10) = F_Cauchy⁻¹(7.6e-24) (value from 60-digit arithmetic).
  CHECK(value(cauchy[0]) == Approx(-4.1773756681987793511e22).epsilon(1e-12));
  CHECK(t::max_abs(cauchy + gpm::gaussian_to_cauchy(-z)) < 1e-12 * t::max_abs(cauchy));  // odd
  // Both maps keep their digits in the tails, so the round trip holds far out.
  const auto wide = torch::linspace(-30, 30, 121, z.options());
  CHECK(t::max_abs(gpm::cauchy_to_gaussian(gpm::gaussian_to_cauchy(wide)) - wide) < 1e-12);
  // Finite far out in every dtype: float32 clamps to its largest values.
  const auto far = gpm::gaussian_to_cauchy(torch::tensor({-40.0f, 40.0f}, t::options<float>()));
  CHECK(torch::isfinite(far).all().item<bool>());
  CHECK(torch::isfinite(gpm::cauchy_to_gaussian(f64({-1e300, 1e300}))).all().item<bool>());
}

TEMPLATE_TEST_CASE("the Cauchy-linear path is linear after cauchy_to_gaussian", "[generators][interpolation][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  const auto a = torch::randn({3, 10}, t::generator(8), o) * 2;
  const auto b = torch::randn({3, 10}, t::generator(9), o) * 2;
  const int64_t steps = 6;
  const auto path = gpm::interpolate_latents(a, b, steps, Interpolation::cauchy_linear);
  const auto s = times(steps, torch::TensorOptions().dtype(torch::kFloat64).device(t::device()));
  const auto ga = gpm::cauchy_to_gaussian(a.to(torch::kFloat64)).unsqueeze(1);
  const auto gb = gpm::cauchy_to_gaussian(b.to(torch::kFloat64)).unsqueeze(1);
  CHECK(scaled_error(gpm::cauchy_to_gaussian(path.to(torch::kFloat64)), (1 - s) * ga + s * gb) < t::eps<TestType>());
  // Values from 30-digit arithmetic of g(¾ g⁻¹(a) + ¼ g⁻¹(b)) and the midpoint, g = F_Cauchy⁻¹ ∘ Φ.
  const auto pair = gpm::interpolate_latents(torch::tensor({{-2.0, 1.0}}, o), torch::tensor({{5.0, 3.0}}, o), 5,
                                             Interpolation::cauchy_linear);
  CHECK(std::abs(value(pair[0][1][0]) - -0.5345634767301608) < t::eps<TestType>());
  CHECK(std::abs(value(pair[0][2][1]) - 1.7439411941353304) < t::eps<TestType>());
}

TEST_CASE("chi_squared_cdf matches the closed forms for 1, 2 and 4 degrees of freedom",
          "[generators][interpolation][numeric]") {
  const auto x = torch::linspace(0, 40, 81, torch::TensorOptions().dtype(torch::kFloat64).device(t::device()));
  CHECK(t::max_abs(gpm::chi_squared_cdf(x, 1) - torch::erf((x / 2).sqrt())) < 1e-13);
  CHECK(t::max_abs(gpm::chi_squared_cdf(x, 2) - (1 - (-x / 2).exp())) < 1e-13);
  CHECK(t::max_abs(gpm::chi_squared_cdf(x, 4) - (1 - (-x / 2).exp() * (1 + x / 2))) < 1e-13);
  CHECK(gpm::chi_squared_cdf(f64({-1}), 3).item<double>() == 0);
}

TEST_CASE("chi_squared_quantile matches known quantiles", "[generators][interpolation][numeric]") {
  const auto quantile = [](double p, double dof) { return gpm::chi_squared_quantile(f64({p}), dof).item<double>(); };
  CHECK(std::abs(quantile(0.5, 2) - 2 * std::log(2.0)) < 1e-12);
  CHECK(std::abs(quantile(0.95, 1) - 3.841459) < 1e-6);
  // Values from 30-digit arithmetic.
  CHECK(quantile(0.95, 1) == Approx(3.8414588206941260).epsilon(1e-12));
  CHECK(quantile(0.5, 10) == Approx(9.3418177655919674).epsilon(1e-12));
  CHECK(quantile(0.99, 100) == Approx(135.80672317102678).epsilon(1e-12));
  CHECK(quantile(0.05, 3) == Approx(0.35184631774927140).epsilon(1e-12));
  // LibTorch's incomplete gamma is good to about 1e-10 at large shapes, which bounds this one.
  CHECK(quantile(0.5, 512) == Approx(511.33348787447402).epsilon(1e-10));
  CHECK(quantile(1e-10, 64) == Approx(15.814027614557527).epsilon(1e-10));
  // Closed forms over the whole range: −2 ln(1 − p) for 2 degrees of freedom, 2 erfinv(p)² for 1.
  const auto p = f64({1e-12, 1e-6, 0.001, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999});
  CHECK(scaled_error(gpm::chi_squared_quantile(p, 2), -2 * torch::log1p(-p)) < 1e-12);
  CHECK(scaled_error(gpm::chi_squared_quantile(p, 1) / (2 * torch::erfinv(p).square()), torch::ones_like(p)) < 1e-10);
}

TEST_CASE("chi_squared_quantile inverts chi_squared_cdf across dimensions and tails",
          "[generators][interpolation][numeric]") {
  const auto p = f64({1e-12, 1e-6, 1e-3, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999, 1 - 1e-6, 1 - 1e-10});
  const auto tail = torch::minimum(p, 1 - p);
  for (const double dof : {1.0, 2.0, 3.0, 7.0, 64.0, 512.0, 4096.0}) {
    INFO("dof " << dof);
    const auto x = gpm::chi_squared_quantile(p, dof);
    CHECK(((gpm::chi_squared_cdf(x, dof) - p).abs() / tail).max().item<double>() < 1e-6);
    // Values away from where the CDF rounds to 0 or 1: within 5 standard deviations √(2·dof) of the mean.
    const double spread = 5 * std::sqrt(2 * dof);
    const auto y = torch::linspace(std::max(0.05 * dof, dof - spread), std::min(3 * dof, dof + spread), 40, x.options());
    CHECK(scaled_error(gpm::chi_squared_quantile(gpm::chi_squared_cdf(y, dof), dof) / y, torch::ones_like(y)) < 1e-6);
  }
  // Certain events still give finite quantiles, and float32 probabilities are served in float32.
  CHECK(torch::isfinite(gpm::chi_squared_quantile(f64({0, 1}), 5)).all().item<bool>());
  const auto single = gpm::chi_squared_quantile(torch::tensor({0.5f}, t::options<float>()), 2);
  CHECK(single.scalar_type() == torch::kFloat32);
  CHECK(std::abs(single.item<double>() - 2 * std::log(2.0)) < 1e-6);
}

TEST_CASE("the radial maps of spherical Cauchy-linear interpolation are inverse and match closed forms",
          "[generators][interpolation][numeric]") {
  const auto r = f64({0, 0.1, 1, 5, 30, 1e3, 1e6});
  for (const int64_t dim : {1, 2, 16, 512}) {
    INFO("dim " << dim);
    CHECK(scaled_error(gpm::chi_radius_to_cauchy(gpm::cauchy_to_chi_radius(r, dim), dim), r) < 1e-9);
  }
  // Dimension 2: F_χ²(s²) = 1 − e^(−s²/2), so h(s) = tan(π(½ − e^(−s²/2))); values from 30-digit arithmetic.
  CHECK(std::abs(gpm::chi_radius_to_cauchy(f64({1}), 2).item<double>() - -0.34775782123186748) < 1e-12);
  CHECK(std::abs(gpm::chi_radius_to_cauchy(f64({3}), 2).item<double>() / 28.641708560150044 - 1) < 1e-12);
  CHECK(std::abs(gpm::cauchy_to_chi_radius(f64({0}), 2).item<double>() - std::sqrt(2 * std::log(2.0))) < 1e-12);
}

TEMPLATE_TEST_CASE("the spherical Cauchy-linear path turns like slerp and is linear in the χ radius",
                   "[generators][interpolation][numeric]", float, double) {
  const auto o = t::options<TestType>();
  const int64_t dim = 12;
  const int64_t steps = 7;
  const auto a = torch::randn({4, dim}, t::generator(10), o);
  const auto b = torch::randn({4, dim}, t::generator(11), o) * 1.5;
  const auto path = gpm::interpolate_latents(a, b, steps, Interpolation::spherical_cauchy_linear);
  const auto unit = [](const torch::Tensor& x) { return x / x.norm(2, -1, true); };
  const auto turn = gpm::interpolate_latents(unit(a), unit(b), steps, Interpolation::spherical);
  CHECK(t::max_abs(unit(path) - turn) < t::eps<TestType>());
  CHECK(t::max_abs(unit(path.select(1, 0)) - unit(a)) < t::eps<TestType>());
  CHECK(t::max_abs(unit(path.select(1, steps - 1)) - unit(b)) < t::eps<TestType>());
  const auto s = times(steps, torch::TensorOptions().dtype(torch::kFloat64).device(t::device()));
  const auto chi = [&](const torch::Tensor& x) {
    return gpm::cauchy_to_chi_radius(x.to(torch::kFloat64).norm(2, -1, true), dim);
  };
  const auto chi_a = chi(a).unsqueeze(1);
  const auto chi_b = chi(b).unsqueeze(1);
  CHECK(scaled_error(chi(path), (1 - s) * chi_a + s * chi_b) < t::eps<TestType>());
  // From a point to itself: the path stays there.
  const auto still = gpm::interpolate_latents(b, b, steps, Interpolation::spherical_cauchy_linear);
  CHECK(scaled_error(still, b.unsqueeze(1).expand_as(still)) < t::eps<TestType>());
}

TEST_CASE("interpolate_latents rejects bad inputs with clear messages", "[generators][interpolation]") {
  const auto o = t::options<float>();
  const auto a = torch::randn({2, 3}, o);
  const auto kind = Interpolation::linear;
  REQUIRE_THROWS_WITH(gpm::interpolate_latents(a, torch::randn({2, 4}, o), 5, kind), Contains("same shape"));
  REQUIRE_THROWS_WITH(gpm::interpolate_latents(a, a, 1, kind), Contains("steps must be >= 2"));
  REQUIRE_THROWS_WITH(gpm::interpolate_latents(torch::ones({2, 3}, torch::kLong), a, 5, kind),
                      Contains("floating-point"));
  REQUIRE_THROWS_WITH(gpm::interpolate_latents(torch::randn({3}, o), torch::randn({3}, o), 5, kind),
                      Contains("[B, d]"));
  REQUIRE_THROWS_WITH(gpm::interpolate_latents(a, a.to(torch::kFloat64), 5, kind), Contains("dtype"));
  REQUIRE_THROWS_WITH(gpm::chi_squared_quantile(f64({1.5}), 2), Contains("[0, 1]"));
  REQUIRE_THROWS_WITH(gpm::chi_squared_cdf(f64({1}), 0), Contains("degrees of freedom"));
  REQUIRE_THROWS_AS(gpm::cauchy_to_chi_radius(f64({1}), 0), gpm::InvalidArgument);
}
