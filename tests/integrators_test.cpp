// Steppers and the driver: convergence orders on a closed-form field, exact EDM sampling of a
// Gaussian, stochastic steps, early stopping, observers and errors.
#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

// Probability flow of N(mu, s² I) in σ-time has the closed form
// x(σ) = mu + (x(σ0) − mu) √(s² + σ²) / √(s² + σ0²).
constexpr double kS = 0.5, kSigma0 = 2.0, kSigma1 = 0.1;

template <gpm::Integrator I>
double flow_error(I integrator, int64_t steps) {
  const auto o = t::options<double>();
  const auto mu = torch::tensor({{1.0, -2.0}}, o);
  gpm::ScoreFlow flow(gpm::GaussianMixtureDenoiser(mu, kS));
  auto gen = t::generator(0);
  const auto x0 = torch::tensor({{3.0, 1.0}, {-4.0, 0.5}, {0.0, 0.0}}, o);
  const auto grid = gpm::UniformGrid(gpm::UniformGridOptions(steps).start(kSigma0).end(kSigma1));
  const auto x = gpm::integrate(integrator, flow, x0, grid.times(), gen);
  const auto exact = mu + (x0 - mu) * std::sqrt(kS * kS + kSigma1 * kSigma1) / std::sqrt(kS * kS + kSigma0 * kSigma0);
  return t::max_abs(x - exact);
}

template <gpm::Integrator I>
double observed_order(I integrator) {
  return std::log2(flow_error(integrator, 16) / flow_error(integrator, 32));
}

}  // namespace

TEST_CASE("Euler converges at first order and Heun at second order", "[integrators][order][numeric]") {
  // Halving the step divides the error by 2^order; measured in float64 so rounding stays far below.
  CHECK(observed_order(gpm::Euler{}) == Approx(1.0).margin(0.15));
  CHECK(observed_order(gpm::Heun{}) == Approx(2.0).margin(0.15));
  CHECK(observed_order(gpm::EdmStochastic{}) == Approx(2.0).margin(0.15));
  CHECK(flow_error(gpm::Heun{}, 32) < flow_error(gpm::Euler{}, 32) / 10);
}

TEMPLATE_TEST_CASE("exact denoiser + Heun on a 32-step Karras grid samples N(mu, s^2 I)", "[integrators][edm][numeric]", float, double) {
  const auto o = t::options<TestType>();
  const auto mu = torch::tensor({{1.0, -2.0}}, o);
  const double sigma_max = 80.0;
  gpm::ParticleModel model(gpm::ScoreFlow(gpm::GaussianMixtureDenoiser(mu, kS)), gpm::Heun{},
                           gpm::KarrasGrid(gpm::KarrasGridOptions(32).sigma_max(sigma_max)),
                           gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(sigma_max)),
                           gpm::ParticleModelOptions().seed(11).dtype(gpm::test::dtype<TestType>()).device(t::device()));
  const auto x = model.sample(20000);
  // Standard error of the mean 0.0035 and of the std 0.0025; margins of about 5 of them.
  CHECK(t::max_abs(x.mean(0) - mu.squeeze(0)) < 0.02);
  CHECK(t::max_abs(x.std(0) - kS) < 0.015);
}

TEST_CASE("exact denoiser + Heun with the EDM defaults (28 steps, sigma_max 40) samples the sharp 5x5 grid",
          "[integrators][edm][numeric]") {
  // 25 modes of std 0.1, 20 std apart: every mode is found and as many samples lie within 3 std of a
  // centre as for true samples (1 - e^{-4.5} = 0.989); 4,000 samples give a standard error of 0.002.
  const gpm::data::GaussianGrid grid(gpm::data::GaussianGridOptions(), t::options<float>());
  gpm::ParticleModel model(gpm::ScoreFlow(gpm::GaussianMixtureDenoiser(grid.centers(), grid.std())), gpm::Heun{},
                           gpm::KarrasGrid(gpm::KarrasGridOptions(28).sigma_max(40)),
                           gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(40)),
                           gpm::ParticleModelOptions().seed(13).device(t::device()));
  const auto coverage = gpm::metrics::mode_coverage(model.sample(4000), grid.centers(), grid.std());
  CHECK(coverage.modes_covered == 25);
  CHECK(coverage.high_quality_fraction > 0.975);
}

TEST_CASE("stochastic EDM samplers also sample N(mu, s^2 I)", "[integrators][edm][numeric]") {
  const auto o = t::options<float>();
  const auto mu = torch::tensor({{1.0, -2.0}}, o);
  const auto denoiser = gpm::GaussianMixtureDenoiser(mu, kS);
  const auto prior = gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(80.0));
  const auto opts = gpm::ParticleModelOptions().seed(12).device(t::device());

  SECTION("Heun with churn") {
    auto model = gpm::ParticleModel(gpm::ScoreFlow(denoiser), gpm::EdmStochastic(gpm::EdmStochasticOptions().s_churn(40).s_min(0.05).s_max(50)),
                             gpm::KarrasGrid(gpm::KarrasGridOptions(64)), prior, opts);
    const auto x = model.sample(20000);
    CHECK(t::max_abs(x.mean(0) - mu.squeeze(0)) < 0.02);
    CHECK(t::max_abs(x.std(0) - kS) < 0.02);
  }
  SECTION("reverse SDE with Euler-Maruyama") {
    auto model = gpm::ParticleModel(gpm::ScoreFlow(denoiser),
                             gpm::EulerMaruyama(gpm::EdmDiffusion{}, gpm::EulerMaruyamaOptions().drift_scale(2.0)),
                             gpm::KarrasGrid(gpm::KarrasGridOptions(256)), prior, opts);
    const auto x = model.sample(20000);
    // First-order SDE steps leave a bias of a few percent at 256 steps.
    CHECK(t::max_abs(x.mean(0) - mu.squeeze(0)) < 0.03);
    CHECK(t::max_abs(x.std(0) - kS) < 0.04);
  }
}

TEST_CASE("EDM churn with S_churn = 0 is exactly Heun", "[integrators][edm]") {
  const auto o = t::options<double>();
  gpm::ScoreFlow flow(gpm::GaussianMixtureDenoiser(torch::tensor({{1.0, -2.0}}, o), kS));
  auto gen = t::generator(0);
  const auto x = torch::randn({10, 2}, o) * 5.0;
  const gpm::Step s{5.0, 3.0, 0, 10};
  REQUIRE(torch::equal(gpm::EdmStochastic().step(flow, x, s, gen), gpm::Heun().step(flow, x, s, gen)));
}

TEST_CASE("Heun's step to sigma = 0 is an Euler step, as in EDM", "[integrators][edm]") {
  const auto o = t::options<double>();
  gpm::ScoreFlow flow(gpm::GaussianMixtureDenoiser(torch::tensor({{1.0, -2.0}}, o), kS));
  auto gen = t::generator(0);
  const auto x = torch::randn({10, 2}, o);
  const gpm::Step last{0.002, 0.0, 9, 10};
  const auto y = gpm::Heun().step(flow, x, last, gen);
  REQUIRE(torch::isfinite(y).all().item<bool>());
  REQUIRE(torch::equal(y, gpm::Euler().step(flow, x, last, gen)));
}

TEMPLATE_TEST_CASE("Euler-Maruyama adds g(t) sqrt(|dt|) noise, and none on the last step unless asked", "[integrators][sde][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  gpm::PotentialFlow zero([](const torch::Tensor& x, const torch::Tensor&) { return 0.0 * x.sum(1); });
  auto gen = t::generator(9);
  const auto x = torch::zeros({20000, 2}, o);
  const gpm::Step first{0.0, 0.5, 0, 2}, last{0.5, 1.0, 1, 2};
  const gpm::EulerMaruyama<> sde(gpm::ConstantDiffusion(2.0));
  // Variance g² |dt| = 2; the standard error of the sample variance is 0.02.
  CHECK(sde.step(zero, x, first, gen).var().template item<double>() == Approx(2.0).margin(0.1));
  CHECK(t::max_abs(sde.step(zero, x, last, gen)) == 0.0);
  const gpm::EulerMaruyama<> noisy_end(gpm::ConstantDiffusion(2.0), gpm::EulerMaruyamaOptions().noise_on_last_step(true));
  CHECK(noisy_end.step(zero, x, last, gen).var().template item<double>() == Approx(2.0).margin(0.1));
}

TEMPLATE_TEST_CASE("EDM's reverse SDE ends with the denoising step x <- D(x, sigma_1)", "[integrators][sde][edm][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  const gpm::GaussianMixtureDenoiser denoiser(torch::tensor({{1.0, -2.0}}, o), kS);
  gpm::ScoreFlow flow(denoiser);
  auto gen = t::generator(5);
  const auto x = torch::randn({10, 2}, gen, o) * 3.0;
  const double sigma_1 = 0.8;
  const auto expected = denoiser(x, torch::full({10}, sigma_1, o));
  gpm::EulerMaruyama sde(gpm::EdmDiffusion{}, gpm::EulerMaruyamaOptions().drift_scale(2.0));
  // Drift 2 on this step would give 2 D - x.
  CHECK(t::max_abs(sde.step(flow, x, gpm::Step{sigma_1, 0.0, 9, 10}, gen) - expected) < t::eps<TestType>());
  // A one-step grid from sigma_1 to 0 through the sampler.
  auto model = gpm::ParticleModel(gpm::ScoreFlow(denoiser), sde, gpm::KarrasGrid(gpm::KarrasGridOptions(1).sigma_max(sigma_1)),
                                  gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(sigma_1)),
                                  gpm::ParticleModelOptions().dtype(t::dtype<TestType>()).device(t::device()));
  CHECK(t::max_abs(model.sample_from(x) - expected) < t::eps<TestType>());
}

TEST_CASE("integrate stops early after k of N steps and shows each state to the observer", "[integrators][driver]") {
  const auto o = t::options<double>();
  gpm::PotentialFlow flow([](const torch::Tensor& x, const torch::Tensor&) { return -0.5 * gpm::batched_squared_norm(x); });
  auto gen = t::generator(0);
  const auto times = gpm::UniformGrid(gpm::UniformGridOptions(8)).times();
  const auto x0 = torch::ones({3, 2}, o);
  std::vector<gpm::Step> seen;
  gpm::Euler euler;
  const auto x = gpm::integrate(euler, flow, x0, times, gen, 3, [&](const torch::Tensor&, const gpm::Step& s) { seen.push_back(s); });
  REQUIRE(seen.size() == 3);
  CHECK(seen[2].index == 2);
  CHECK(seen[2].count == 8);
  CHECK(seen[2].t0 == Approx(0.25));
  CHECK(t::max_abs(x - x0 * std::pow(1.0 - 0.125, 3)) < 1e-12);  // Euler on dx/dt = −x
  REQUIRE_THROWS_WITH(gpm::integrate(euler, flow, x0, times, gen, 9), Contains("cannot stop after 9 steps of a 8-step grid"));
}

TEST_CASE("stepper options are validated", "[integrators][errors]") {
  REQUIRE_THROWS_WITH(gpm::ConstantDiffusion(-1.0), Contains("finite and >= 0"));
  REQUIRE_THROWS_WITH(gpm::EdmStochastic(gpm::EdmStochasticOptions().s_min(2).s_max(1)), Contains("s_min <= s_max"));
  REQUIRE_THROWS_WITH(gpm::EdmStochastic(gpm::EdmStochasticOptions().s_churn(-1)), Contains("s_churn must be >= 0"));
}

namespace {

// Data N(mu, s² I), s small beside the levels, with its exact denoiser: particles x* + σ n have the
// standard deviation √(s² + σ²) per coordinate at level σ. Returns, for each level the sampler
// leaves, the particles' standard deviation divided by that of the schedule.
template <gpm::Integrator I>
std::vector<double> noise_ratios(I integrator, const std::vector<double>& levels) {
  const auto o = t::options<double>();
  constexpr double s = 0.02;
  const auto mu = torch::linspace(-1, 1, 8, o).unsqueeze(0);
  gpm::ScoreFlow flow(gpm::GaussianMixtureDenoiser(mu, s));
  auto gen = t::generator(21);
  const auto x0 = mu + levels.front() * torch::randn({4000, 8}, gen, o);
  std::vector<double> ratios;
  gpm::integrate(integrator, flow, x0, levels, gen, std::nullopt, [&](const torch::Tensor& x, const gpm::Step& step) {
    ratios.push_back((x - mu).std().item<double>() / std::sqrt(s * s + step.t0 * step.t0));
  });
  return ratios;
}

}  // namespace

TEST_CASE("consistent annealed sampling keeps the noise on the schedule; annealed Langevin with one step per level lags",
          "[integrators][annealed][numeric]") {
  // 40 levels from 10 to 0.2 (γ = 0.904), η = 0.5. Under an exact score CAS maps the squared ratio
  // q to 1 + (1 − η)²/γ² (q − 1): it stays 1. ALS maps q to ((1 − η)² q + 2η)/γ²: ratios 1.24 after
  // the first level, 1.30 after the second, 1.33 in the limit. The standard deviation of 32,000
  // values has a relative standard error of 0.4 %; s = 0.02 moves the ratios by < 0.5 %.
  const auto levels = gpm::GeometricGrid(gpm::GeometricGridOptions(39, 10.0, 0.2).final_zero(true)).times();
  const auto cas = noise_ratios(gpm::ConsistentAnnealed(gpm::ConsistentAnnealedOptions().eta(0.5)), levels);
  const auto als = noise_ratios(gpm::AnnealedLangevin(gpm::AnnealedLangevinOptions().eta(0.5)), levels);
  REQUIRE(cas.size() == 40);
  REQUIRE(als.size() == 40);
  for (size_t k = 0; k < cas.size(); ++k) {
    INFO("level " << k << ": sigma = " << levels[k] << ", CAS ratio " << cas[k] << ", ALS ratio " << als[k]);
    CHECK(std::abs(cas[k] - 1) < 0.03);
    if (k >= 1) CHECK(als[k] > 1.2);
  }
  CHECK(als.back() == Approx(std::sqrt(2 * 0.5 / (std::pow(0.2 / 10.0, 2.0 / 39) - 0.25))).epsilon(0.03));
}

TEMPLATE_TEST_CASE("annealed steps follow their formulas, and a step to 0 denoises", "[integrators][annealed][numeric]", float, double) {
  const auto o = t::options<TestType>();
  const gpm::GaussianMixtureDenoiser denoiser(torch::tensor({{1.0, -2.0}}, o), kS);
  gpm::ScoreFlow flow(denoiser);
  auto draw = t::generator(4);
  const auto x = torch::randn({10, 2}, draw, o) * 3.0;
  const double sigma = 2.0, next = 1.5, eta = 0.7;
  const auto level = torch::full({10}, sigma, o);
  const auto v = flow.velocity(x, level);

  SECTION("consistent annealed sampling: x - eta sigma v + beta sigma' xi") {
    const gpm::ConsistentAnnealed cas(gpm::ConsistentAnnealedOptions().eta(eta));
    const double beta = std::sqrt(1 - std::pow((1 - eta) / (next / sigma), 2));
    CHECK(cas.beta(next / sigma) == Approx(beta).epsilon(1e-12));
    auto gen = t::generator(5), same = t::generator(5);
    const auto expected = x - eta * sigma * v + beta * next * torch::randn({10, 2}, same, o);
    CHECK(t::max_abs(cas.step(flow, x, gpm::Step{sigma, next, 0, 2}, gen) - expected) < 10 * t::eps<TestType>());
    CHECK(t::max_abs(cas.step(flow, x, gpm::Step{sigma, 0.0, 1, 2}, gen) - denoiser(x, level)) < 10 * t::eps<TestType>());
  }
  SECTION("annealed Langevin: T steps x - eta sigma v + sigma sqrt(2 eta) xi, then the denoiser on the last") {
    const gpm::AnnealedLangevin als(gpm::AnnealedLangevinOptions().eta(eta).steps_per_level(2));
    auto gen = t::generator(5), same = t::generator(5);
    auto expected = x - eta * sigma * v + sigma * std::sqrt(2 * eta) * torch::randn({10, 2}, same, o);
    expected = expected - eta * sigma * flow.velocity(expected, level) + sigma * std::sqrt(2 * eta) * torch::randn({10, 2}, same, o);
    const auto first = als.step(flow, x, gpm::Step{sigma, next, 0, 2}, gen);
    CHECK(t::max_abs(first - expected) < 100 * t::eps<TestType>());
    auto again = t::generator(5);
    const auto last = als.step(flow, x, gpm::Step{sigma, 0.0, 1, 2}, again);
    CHECK(t::max_abs(last - denoiser(first, level)) < 100 * t::eps<TestType>());
  }
}

TEST_CASE("consistent annealed sampling from an EDM's prior follows its variance recursion on Gaussian data",
          "[integrators][annealed][numeric]") {
  // For data N(mu, s² I) the exact score is −(x − mu)/(s² + σ²): a CAS step maps the offset of the
  // particles' mean from mu to a m and each coordinate's variance to a² v + β² σ'², with
  // a = 1 − η σ²/(s² + σ²); the last step (the denoiser) multiplies both the offset and the spread by
  // s²/(s² + σ_L²). β is exact for noise about a point (s → 0); for s = 0.5 CAS ends with a spread
  // below s, as the recursion says.
  const auto o = t::options<double>();
  const auto mu = torch::tensor({{1.0, -2.0}}, o);
  const double sigma_max = 80.0, eta = 0.5;
  gpm::ParticleModel model(gpm::ScoreFlow(gpm::GaussianMixtureDenoiser(mu, kS)), gpm::Heun{},
                           gpm::KarrasGrid(gpm::KarrasGridOptions(32).sigma_max(sigma_max)),
                           gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(sigma_max)),
                           gpm::ParticleModelOptions().seed(14).dtype(torch::kFloat64).device(t::device()));
  const auto levels = gpm::GeometricGrid(gpm::GeometricGridOptions(99, sigma_max, 0.002).final_zero(true)).times();
  const gpm::ConsistentAnnealed cas(gpm::ConsistentAnnealedOptions().eta(eta));
  double offset = 1.0, variance = sigma_max * sigma_max;  // the offset in units of the prior's mean − mu = −mu
  for (size_t k = 0; k + 1 < levels.size(); ++k) {
    const double sigma = levels[k], next = levels[k + 1], shrink = kS * kS / (kS * kS + sigma * sigma);
    if (next == 0.0) {
      offset *= shrink;
      variance *= shrink * shrink;
    } else {
      const double a = 1 - eta * sigma * sigma / (kS * kS + sigma * sigma), beta = cas.beta(next / sigma);
      offset *= a;
      variance = a * a * variance + beta * beta * next * next;
    }
  }
  const auto x = model.sample_with(cas, levels, 20000);
  // Standard errors 0.0035 (mean) and 0.0025 (std); margins of about 5 of them.
  CHECK(t::max_abs(x.mean(0) - mu.squeeze(0) * (1 - offset)) < 0.02);
  CHECK(t::max_abs(x.std(0) - std::sqrt(variance)) < 0.015);
  CHECK(std::sqrt(variance) < 0.93 * kS);
  // A grid that does not start at the prior's level is refused.
  REQUIRE_THROWS_WITH(model.sample_with(cas, gpm::GeometricGrid(gpm::GeometricGridOptions(9, 40.0, 0.1)).times(), 10),
                      Contains("must start where the model's grid does"));
}

TEST_CASE("annealed samplers refuse grids and step sizes they cannot follow", "[integrators][annealed][errors]") {
  const auto o = t::options<double>();
  gpm::ScoreFlow flow(gpm::GaussianMixtureDenoiser(torch::tensor({{0.0, 0.0}}, o), kS));
  auto gen = t::generator(0);
  const auto x = torch::zeros({4, 2}, o);
  // γ = 0.5 needs η in (0.5, 1.5).
  REQUIRE_THROWS_WITH(gpm::ConsistentAnnealed(gpm::ConsistentAnnealedOptions().eta(0.1)).step(flow, x, gpm::Step{2.0, 1.0, 0, 2}, gen),
                      Contains("needs |1 − η| < γ, i.e. η in (0.5, 1.5), but η = 0.1"));
  REQUIRE_THROWS_WITH(gpm::ConsistentAnnealed().step(flow, x, gpm::Step{1.0, 2.0, 0, 2}, gen), Contains("decreasing grid"));
  REQUIRE_THROWS_WITH(gpm::AnnealedLangevin().step(flow, x, gpm::Step{0.0, 0.0, 0, 2}, gen), Contains("decreasing grid"));
  REQUIRE_THROWS_WITH(gpm::AnnealedLangevin(gpm::AnnealedLangevinOptions().steps_per_level(0)), Contains("steps_per_level must be >= 1"));
  REQUIRE_THROWS_WITH(gpm::ConsistentAnnealed(gpm::ConsistentAnnealedOptions().eta(-1)), Contains("eta must be finite and > 0"));
}
