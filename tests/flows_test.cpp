// Closed-form flows: kernels and the squared MMD, MMD (finite-difference gradient, decrease), SVGD
// (explicit sum, median heuristic) and Langevin (target moments), Gaussian-mixture denoiser and
// score, potential flows, and their error messages.
#include <algorithm>
#include <vector>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

// A 2-D Gaussian target with correlation, used by SVGD and Langevin.
torch::Tensor target_mean(const torch::TensorOptions& o) { return torch::tensor({1.0, -1.0}, o); }
torch::Tensor target_covariance(const torch::TensorOptions& o) { return torch::tensor({{1.0, 0.5}, {0.5, 2.0}}, o); }

torch::Tensor covariance(const torch::Tensor& x) {
  const auto c = x - x.mean(0);
  return c.t().matmul(c) / static_cast<double>(x.size(0) - 1);
}

template <gpm::Kernel K>
void check_mmd_velocity_is_minus_scaled_gradient(const K& kernel) {
  const auto o = t::options<double>();
  auto gen = t::generator(1);
  const auto x = torch::randn({6, 2}, gen, o);
  const auto y = torch::randn({5, 2}, gen, o) + 0.7;
  gpm::MmdFlow flow(kernel, y);
  const auto v = flow.velocity(x, torch::zeros({6}, o));
  // Central finite differences of MMD²_V with respect to each particle coordinate.
  const double h = 1e-6;
  auto grad = torch::zeros_like(x);
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t d = 0; d < 2; ++d) {
      auto xp = x.clone(), xm = x.clone();
      xp[i][d] += h;
      xm[i][d] -= h;
      grad[i][d] = (gpm::squared_mmd(kernel, xp, y) - gpm::squared_mmd(kernel, xm, y)) / (2 * h);
    }
  // v(x_i) = −(N/2) ∂MMD²/∂x_i; central differences are accurate to ~1e-9 here.
  CHECK(t::max_abs(v + 3.0 * grad) < 1e-7);
  CHECK(t::max_abs(v) > 1e-3);  // the comparison is not trivially between zeros
}

}  // namespace

TEST_CASE("MMD flow velocity is minus the particle gradient of the squared MMD (finite differences)", "[flows][mmd][numeric]") {
  SECTION("RBF kernel") { check_mmd_velocity_is_minus_scaled_gradient(gpm::RbfKernel(gpm::RbfKernelOptions().bandwidth(0.8))); }
  SECTION("IMQ kernel") { check_mmd_velocity_is_minus_scaled_gradient(gpm::ImqKernel()); }
}

TEST_CASE("kernel mean gradients match autograd; the blocked squared MMD matches the full Gram matrices",
          "[flows][kernels][numeric]") {
  const auto o = t::options<double>();
  auto gen = t::generator(11);
  const auto y = torch::randn({7, 3}, gen, o) + 0.4;
  const auto check_kernel = [&](const auto& kernel) {
    const auto x = torch::randn({5, 3}, gen, o).requires_grad_(true);
    const auto expected = gpm::input_gradient(kernel(x, y).mean(1), x);
    CHECK(t::max_abs(kernel.mean_gradient(x.detach(), y) - expected) < 1e-12);
  };
  check_kernel(gpm::RbfKernel(gpm::RbfKernelOptions().bandwidth(0.7)));
  check_kernel(gpm::RbfSumKernel({0.3, 1.0, 2.5}));
  check_kernel(gpm::ImqKernel(gpm::ImqKernelOptions().c(0.5).beta(-0.3)));
  // An RBF sum of one bandwidth is the RBF kernel.
  const auto x = torch::randn({5, 3}, gen, o);
  CHECK(t::max_abs(gpm::RbfSumKernel({0.7})(x, y) - gpm::RbfKernel(gpm::RbfKernelOptions().bandwidth(0.7))(x, y)) == 0.0);

  // 700 and 500 points span several blocks of rows (2^18 entries on the CPU).
  const auto a = torch::randn({700, 2}, gen, o), b = torch::randn({500, 2}, gen, o) * 1.5;
  const gpm::RbfSumKernel kernel({0.5, 2.0});
  const auto kaa = kernel(a, a), kbb = kernel(b, b), kab = kernel(a, b);
  const double biased = (kaa.mean() + kbb.mean() - 2.0 * kab.mean()).item<double>();
  const double unbiased = ((kaa.sum() - kaa.diagonal().sum()) / (700.0 * 699.0) +
                           (kbb.sum() - kbb.diagonal().sum()) / (500.0 * 499.0) - 2.0 * kab.mean())
                              .item<double>();
  CHECK(gpm::squared_mmd(kernel, a, b).item<double>() == Approx(biased).epsilon(1e-12));
  CHECK(gpm::squared_mmd(kernel, a, b, gpm::MmdEstimate::unbiased).item<double>() == Approx(unbiased).epsilon(1e-12));
  REQUIRE_THROWS_WITH(gpm::squared_mmd(kernel, a.narrow(0, 0, 1), b, gpm::MmdEstimate::unbiased),
                      Contains("at least 2 points in each set"));
}

TEMPLATE_TEST_CASE("MMD decreases along the MMD flow", "[flows][mmd][numeric]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(2);
  const auto target = torch::randn({200, 2}, gen, o);
  gpm::MmdFlow flow(gpm::RbfKernel(), target);
  auto x = torch::randn({100, 2}, gen, o) * 0.5 + 2.0;
  const double start = gpm::squared_mmd(flow.kernel(), x, target).template item<double>();
  double previous = start;
  for (int k = 0; k < 40; ++k) {
    x = gpm::Euler{}.step(flow, x, {0.0, 0.5, k, 40}, gen);
    const double now = gpm::squared_mmd(flow.kernel(), x, target).template item<double>();
    REQUIRE(now < previous);
    previous = now;
  }
  CHECK(previous < 0.1 * start);
}

TEST_CASE("SVGD velocity matches the explicit double sum", "[flows][svgd][numeric]") {
  const auto o = t::options<double>();
  auto gen = t::generator(3);
  const auto x = torch::randn({7, 2}, gen, o);
  const gpm::GaussianScore score(target_mean(o), target_covariance(o));
  const double h = 0.9;
  gpm::SteinFlow flow(score, gpm::SteinFlowOptions().bandwidth(h));
  const auto v = flow.velocity(x, torch::zeros({7}, o));
  const auto s = score(x);
  auto expected = torch::zeros_like(x);
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t j = 0; j < 7; ++j) {
      const auto k = torch::exp(-(x[i] - x[j]).square().sum() / (2 * h * h));
      expected[i] += (k * s[j] + k * (x[i] - x[j]) / (h * h)) / 7.0;
    }
  CHECK(t::max_abs(v - expected) < 1e-12);

  // The median heuristic: h² = median_{i<j} ‖x_i − x_j‖² / (2 log(n + 1)), the lower median of the 21 pairs.
  std::vector<double> pairs;
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t j = i + 1; j < 7; ++j) pairs.push_back((x[i] - x[j]).square().sum().item<double>());
  std::sort(pairs.begin(), pairs.end());
  const double median_h = std::sqrt(pairs[10] / (2.0 * std::log(8.0)));
  gpm::SteinFlow median_flow(score);
  gpm::SteinFlow fixed_flow(score, gpm::SteinFlowOptions().bandwidth(median_h));
  const auto zero = torch::zeros({7}, o);
  CHECK(t::max_abs(median_flow.velocity(x, zero) - fixed_flow.velocity(x, zero)) < 1e-12);
}

TEMPLATE_TEST_CASE("SVGD particles reach the target mean and covariance", "[flows][svgd][numeric]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(4);
  gpm::SteinFlow flow(gpm::GaussianScore(target_mean(o), target_covariance(o)));
  auto x = torch::randn({300, 2}, gen, o);
  // SVGD converges slowly once the median bandwidth is small; dt = 0.4 is stable here.
  const auto times = gpm::UniformGrid(gpm::UniformGridOptions(1000).end(400.0)).times();
  gpm::Euler euler;
  x = gpm::integrate(euler, flow, x, times, gen);
  // SVGD is deterministic; measured errors are 0.002 (mean) and 0.084 (covariance: 300 particles
  // underestimate the variance slightly), so the margins are about 0.03 and 0.07.
  CHECK(t::max_abs(x.mean(0) - target_mean(o)) < 0.03);
  CHECK(t::max_abs(covariance(x) - target_covariance(o)) < 0.15);
}

TEMPLATE_TEST_CASE("Langevin dynamics (KL flow + Euler-Maruyama) reach the target mean and covariance", "[flows][langevin][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(5);
  gpm::KlFlow flow(gpm::GaussianScore(target_mean(o), target_covariance(o)));
  gpm::EulerMaruyama langevin(gpm::ConstantDiffusion(std::sqrt(2.0)), gpm::EulerMaruyamaOptions().noise_on_last_step(true));
  auto x = torch::randn({4000, 2}, gen, o) * 3.0;
  x = gpm::integrate(langevin, flow, x, gpm::UniformGrid(gpm::UniformGridOptions(800).end(16.0)).times(), gen);
  // Standard errors with 4000 samples: 0.022 (mean), 0.045 (variance 2); margins are about 4.5 of
  // them, and the discretisation bias at dt = 0.02 is about 1 %.
  CHECK(t::max_abs(x.mean(0) - target_mean(o)) < 0.1);
  CHECK(t::max_abs(covariance(x) - target_covariance(o)) < 0.2);
}

TEMPLATE_TEST_CASE("Gaussian mixture denoiser is exact", "[flows][denoiser][numeric]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(6);
  const auto x = torch::randn({9, 2}, gen, o) * 3.0;
  const auto sigma = torch::rand({9}, gen, o) * 4.0 + 0.1;

  SECTION("one component: mu + s^2 / (s^2 + sigma^2) (x - mu)") {
    const auto mu = torch::tensor({{0.5, -2.0}}, o);
    const gpm::GaussianMixtureDenoiser d(mu, 0.7);
    const auto expected = mu + (0.49 / (0.49 + sigma.square())).unsqueeze(1) * (x - mu);
    CHECK(t::max_abs(d(x, sigma) - expected) < 10 * t::eps<TestType>());
  }
  SECTION("mixture: the score is the gradient of the noised log-density") {
    const auto means = torch::tensor({{3.0, 0.0}, {-1.0, 2.0}, {0.0, -3.0}}, o);
    const auto weights = torch::tensor({0.2, 0.5, 0.3}, o);
    const gpm::GaussianMixtureDenoiser d(means, 0.5, weights);
    const auto input = x.detach().requires_grad_(true);
    const auto var = (sigma.square() + 0.25).unsqueeze(1);
    const auto log_components = torch::log(weights).unsqueeze(0) -
                                (input.unsqueeze(1) - means.unsqueeze(0)).square().sum(2) / (2 * var) - torch::log(var);
    const auto log_density = torch::logsumexp(log_components, 1);
    const auto expected = gpm::input_gradient(log_density, input);
    CHECK(t::max_abs(d.score(x, sigma) - expected) < 100 * t::eps<TestType>());
    CHECK(t::max_abs(d(x, sigma) - (x + sigma.square().unsqueeze(1) * expected)) < 100 * t::eps<TestType>());
  }
}

TEMPLATE_TEST_CASE("potential flow differentiates its potential, also under NoGradGuard", "[flows][potential][numeric]", float, double) {
  const auto o = t::options<TestType>();
  const auto mu = torch::tensor({1.0, 2.0}, o);
  gpm::PotentialFlow flow([mu](const torch::Tensor& x, const torch::Tensor&) { return -0.5 * gpm::batched_squared_norm(x - mu); });
  const auto x = torch::randn({5, 2}, o);
  torch::NoGradGuard no_grad;
  const auto v = flow.velocity(x, torch::zeros({5}, o));
  CHECK(t::max_abs(v - (mu - x)) < 10 * t::eps<TestType>());
  CHECK_FALSE(v.requires_grad());
}

TEST_CASE("flows refuse bad input with a clear message", "[flows][errors]") {
  const auto o = t::options<float>();
  gpm::MmdFlow<gpm::RbfKernel> empty{gpm::RbfKernel()};
  REQUIRE_THROWS_WITH(empty.velocity(torch::zeros({4, 2}, o), torch::zeros({4}, o)), Contains("no target samples"));
  gpm::MmdFlow flow(gpm::RbfKernel(), torch::zeros({4, 3}, o));
  REQUIRE_THROWS_WITH(flow.velocity(torch::zeros({4, 2}, o), torch::zeros({4}, o)),
                      Contains("particles have 2 coordinates but the target samples have 3"));
  REQUIRE_THROWS_WITH(flow.velocity(torch::zeros({4, 3}, o.dtype(torch::kFloat64)), torch::zeros({4}, o)),
                      Contains("dtype"));
  REQUIRE_THROWS_WITH(flow.velocity(torch::zeros({4, 3}, o), torch::zeros({3}, o)), Contains("one time per particle"));
  REQUIRE_THROWS_WITH(gpm::RbfKernel(gpm::RbfKernelOptions().bandwidth(0)), Contains("bandwidth must be > 0"));
  REQUIRE_THROWS_WITH(gpm::ImqKernel(gpm::ImqKernelOptions().beta(0.5)), Contains("beta must lie in (-1, 0)"));
  REQUIRE_THROWS_WITH(gpm::GaussianMixtureDenoiser(torch::zeros({2}), 1.0), Contains("[K, D]"));
  REQUIRE_THROWS_WITH(gpm::GaussianScore(torch::zeros({2}), torch::eye(3)), Contains("shape [2, 2]"));
}

namespace {
// An Mlp critic that counts its forward calls and does not say whether it treats rows alone.
class CountingCriticImpl : public torch::nn::Module {
 public:
  explicit CountingCriticImpl(gpm::nn::Mlp inner) : mlp(register_module("mlp", std::move(inner))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    ++calls;
    return mlp(x);
  }
  gpm::nn::Mlp mlp;
  int calls = 0;
};
TORCH_MODULE(CountingCritic);

// The same critic, saying what its Mlp says.
class RowwiseCountingCriticImpl : public CountingCriticImpl {
 public:
  using CountingCriticImpl::CountingCriticImpl;
  bool rows_independent() const { return mlp->rows_independent(); }
};
TORCH_MODULE(RowwiseCountingCritic);
}  // namespace

TEST_CASE("a discriminator that treats rows alone takes real and fake in one pass, to the same update",
          "[flows][discriminator][numeric]") {
  static_assert(gpm::ReportsRowIndependence<RowwiseCountingCritic> && !gpm::ReportsRowIndependence<CountingCritic>);
  const auto make_mlp = [](bool batch_norm) {
    torch::manual_seed(5);
    return gpm::nn::Mlp(gpm::nn::MlpOptions(2, 1).width(32).depth(2).batch_norm(batch_norm));
  };
  for (const bool batch_norm : {false, true}) {
    for (const double r1 : {0.0, 1.0}) {
      CAPTURE(batch_norm, r1);
      const auto options = gpm::DiscriminatorFlowOptions().penalty(
          gpm::GradientPenaltyOptions().weight(r1).center(0).point(gpm::PenaltyPoint::real));
      gpm::DiscriminatorFlow joint(RowwiseCountingCritic(make_mlp(batch_norm)), gpm::NonSaturatingLoss{},
                                   torch::optim::AdamOptions(1e-2), options);
      gpm::DiscriminatorFlow apart(CountingCritic(make_mlp(batch_norm)), gpm::NonSaturatingLoss{},
                                   torch::optim::AdamOptions(1e-2), options);
      auto gen = t::generator(17);
      for (int step = 0; step < 3; ++step) {
        const auto real = torch::randn({24, 2}, gen), fake = torch::randn({24, 2}, gen) + 1;
        const auto time = torch::zeros({24});
        const double joint_loss = joint.update(real, fake, time).at("discriminator_loss").item<double>();
        const double apart_loss = apart.update(real, fake, time).at("discriminator_loss").item<double>();
        CHECK(joint_loss == Approx(apart_loss).epsilon(1e-6));
      }
      // Batch norm in training mode normalises over the batch, and an R1 penalty differentiates the
      // real pass alone: both keep two passes.
      const bool one_pass = !batch_norm && r1 == 0;
      CHECK(joint.net()->calls == (one_pass ? 3 : 6));
      CHECK(apart.net()->calls == 6);
      const auto a = joint.net()->parameters(), b = apart.net()->parameters();
      for (size_t i = 0; i < a.size(); ++i)
        CHECK((one_pass ? torch::allclose(a[i], b[i], 1e-5, 1e-6) : torch::equal(a[i], b[i])));
    }
  }
}
