// Training objectives: GAN loss values and generator flows against the table of ALGORITHMS 1.6,
// gradient penalties on linear critics, noise-level laws, EDM weight and denoising losses.
#include <cmath>

#include "gpm/gpm.hpp"
#include "gpm/losses.hpp"
#include "gpm/nn.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

struct GeneratorLossOnly {
  torch::Tensor generator_loss(const torch::Tensor& f) const { return f; }
};
struct NonConstLoss {
  torch::Tensor discriminator_loss(const torch::Tensor& r, const torch::Tensor&) { return r; }
  torch::Tensor generator_loss(const torch::Tensor& f) { return f; }
};
struct SamplerWithoutOptions {
  torch::Tensor sample(int64_t n, at::Generator&) const { return torch::ones({n}); }
};

static_assert(gpm::GanLoss<gpm::NonSaturatingLoss>);
static_assert(gpm::GanLoss<gpm::SaturatingLoss>);
static_assert(gpm::GanLoss<gpm::IpmLoss>);
static_assert(gpm::GanLoss<gpm::HingeLoss>);
static_assert(gpm::GanLoss<gpm::LeastSquaresLoss>);
static_assert(!gpm::GanLoss<GeneratorLossOnly>);
static_assert(!gpm::GanLoss<NonConstLoss>);
static_assert(gpm::NoiseLevelSampler<gpm::LogNormalSigma>);
static_assert(gpm::NoiseLevelSampler<gpm::ScheduleSigma>);
static_assert(!gpm::NoiseLevelSampler<SamplerWithoutOptions>);

double softplus(double y) { return std::max(y, 0.0) + std::log1p(std::exp(-std::abs(y))); }
double sigmoid(double y) { return 1.0 / (1.0 + std::exp(-y)); }
double relu(double y) { return std::max(y, 0.0); }

// The table of ALGORITHMS 1.6 in plain doubles (IPM with the standard sign: a = b = y, c = −y).
struct Expected {
  double (*a)(double);
  double (*b)(double);
  double (*c)(double);
  double (*c_prime)(double);
};

template <class L>
Expected expected();
template <>
Expected expected<gpm::NonSaturatingLoss>() {
  return {[](double y) { return -softplus(-y); }, [](double y) { return softplus(y); },
          [](double y) { return softplus(-y); }, [](double y) { return -sigmoid(-y); }};
}
template <>
Expected expected<gpm::SaturatingLoss>() {
  return {[](double y) { return -softplus(-y); }, [](double y) { return softplus(y); },
          [](double y) { return std::log(1.0 - sigmoid(y)); }, [](double y) { return -sigmoid(y); }};
}
template <>
Expected expected<gpm::IpmLoss>() {
  return {[](double y) { return y; }, [](double y) { return y; }, [](double y) { return -y; },
          [](double) { return -1.0; }};
}
template <>
Expected expected<gpm::HingeLoss>() {
  return {[](double y) { return -relu(1.0 - y); }, [](double y) { return relu(1.0 + y); },
          [](double y) { return -y; }, [](double) { return -1.0; }};
}
template <>
Expected expected<gpm::LeastSquaresLoss>() {
  return {[](double y) { return -(y - 1.0) * (y - 1.0); }, [](double y) { return (y + 1.0) * (y + 1.0); },
          [](double y) { return (y - 1.0) * (y - 1.0); }, [](double y) { return 2.0 * (y - 1.0); }};
}

template <class L, class T>
void check_loss_values() {
  const auto o = t::options<T>();
  const std::vector<double> real{-2.0, 0.0, 1.5, 0.3}, fake{-1.0, 0.5, 3.0, -0.2};
  const auto e = expected<L>();
  double d = 0.0;
  for (size_t i = 0; i < 4; ++i) d += (e.b(fake[i]) - e.a(real[i])) / 4.0;
  const L loss;
  const auto d_loss = loss.discriminator_loss(torch::tensor(real, o), torch::tensor(fake, o));
  REQUIRE(d_loss.dim() == 0);
  CHECK(d_loss.template item<double>() == Approx(d).epsilon(t::eps<T>()).margin(t::eps<T>()));
  // [N, 1] logits are accepted as well.
  CHECK(loss.discriminator_loss(torch::tensor(real, o).unsqueeze(1), torch::tensor(fake, o).unsqueeze(1))
            .template item<double>() == Approx(d).epsilon(t::eps<T>()).margin(t::eps<T>()));
  const auto g = loss.generator_loss(torch::tensor(fake, o));
  REQUIRE(g.sizes() == torch::IntArrayRef({4}));
  for (int64_t i = 0; i < 4; ++i)
    CHECK(g[i].template item<double>() == Approx(e.c(fake[static_cast<size_t>(i)])).epsilon(t::eps<T>()).margin(t::eps<T>()));
}

// Linear critic f(x) = <w, x> + b on x [N, 2, 2]: −∇ₓ c(f(x)) must equal −c'(f) w.
template <class L, class T>
void check_generator_flow() {
  const auto o = t::options<T>();
  auto gen = t::generator(31);
  const auto w = torch::randn({1, 2, 2}, gen, o);
  const double b = 0.3;
  const auto x = (torch::randn({6, 2, 2}, gen, o) * 2.0).requires_grad_(true);
  const auto f = gpm::batched_dot(x, w.expand_as(x)) + b;
  const L loss;
  const auto v = -gpm::input_gradient(loss.generator_loss(f), x);
  const auto e = expected<L>();
  for (int64_t i = 0; i < 6; ++i) {
    const double fi = f[i].template item<double>();
    CHECK(t::max_abs(v[i] - (-e.c_prime(fi)) * w[0]) < t::eps<T>());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("GAN losses match the table at known logits", "[losses][gan][numeric]", float, double) {
  SECTION("non-saturating (vanilla)") { check_loss_values<gpm::NonSaturatingLoss, TestType>(); }
  SECTION("saturating") { check_loss_values<gpm::SaturatingLoss, TestType>(); }
  SECTION("IPM") { check_loss_values<gpm::IpmLoss, TestType>(); }
  SECTION("hinge") { check_loss_values<gpm::HingeLoss, TestType>(); }
  SECTION("least squares") { check_loss_values<gpm::LeastSquaresLoss, TestType>(); }
}

TEMPLATE_TEST_CASE("generator losses induce the flow v = -c'(f) grad f (linear critic)", "[losses][gan][numeric]", float, double) {
  SECTION("non-saturating: sigmoid(-f) grad f") { check_generator_flow<gpm::NonSaturatingLoss, TestType>(); }
  SECTION("saturating: sigmoid(f) grad f") { check_generator_flow<gpm::SaturatingLoss, TestType>(); }
  SECTION("IPM: grad f") { check_generator_flow<gpm::IpmLoss, TestType>(); }
  SECTION("hinge: grad f") { check_generator_flow<gpm::HingeLoss, TestType>(); }
  SECTION("least squares: -2 (f - 1) grad f") { check_generator_flow<gpm::LeastSquaresLoss, TestType>(); }
}

TEST_CASE("softplus-based losses stay finite at extreme float logits", "[losses][gan][numeric]") {
  const auto o = t::options<float>();
  const auto big = torch::tensor({-200.0, -50.0, 50.0, 200.0}, o);
  for (const auto& value : {gpm::NonSaturatingLoss{}.discriminator_loss(big, big),
                            gpm::NonSaturatingLoss{}.generator_loss(big).sum(),
                            gpm::SaturatingLoss{}.generator_loss(big).sum()})
    CHECK(std::isfinite(value.item<double>()));
  // softplus(200) = 200, softplus(−200) ≈ 0: mean over 4 of b(f) + mean of −a(f) = (250 + 250) / 4.
  CHECK(gpm::NonSaturatingLoss{}.discriminator_loss(big, big).item<double>() == Approx(125.0));
  // A confident discriminator on fakes: the non-saturating gradient does not vanish, the saturating one does.
  const auto f = torch::tensor({-30.0}, o).requires_grad_(true);
  CHECK(-gpm::input_gradient(gpm::NonSaturatingLoss{}.generator_loss(f), f).item<double>() == Approx(1.0));
  CHECK(std::abs(gpm::input_gradient(gpm::SaturatingLoss{}.generator_loss(f), f).item<double>()) < 1e-12);
}

TEST_CASE("GAN losses check logit shapes and parse config names", "[losses][gan][errors]") {
  const auto bad = torch::zeros({4, 2});
  REQUIRE_THROWS_WITH(gpm::HingeLoss{}.generator_loss(bad), Contains("one logit per sample") && Contains("[4, 2]"));
  REQUIRE_THROWS_WITH(gpm::IpmLoss{}.discriminator_loss(torch::zeros({4}), bad), Contains("fake_logits"));
  CHECK(std::holds_alternative<gpm::NonSaturatingLoss>(gpm::parse_gan_loss("vanilla")));
  CHECK(std::holds_alternative<gpm::NonSaturatingLoss>(gpm::parse_gan_loss("non_saturating")));
  CHECK(std::holds_alternative<gpm::SaturatingLoss>(gpm::parse_gan_loss("saturating")));
  CHECK(std::holds_alternative<gpm::IpmLoss>(gpm::parse_gan_loss("wgan")));
  CHECK(std::holds_alternative<gpm::HingeLoss>(gpm::parse_gan_loss("hinge")));
  CHECK(std::holds_alternative<gpm::LeastSquaresLoss>(gpm::parse_gan_loss("least_squares")));
  REQUIRE_THROWS_WITH(gpm::parse_gan_loss("lsgan"), Contains("unknown GAN loss \"lsgan\"") && Contains("least_squares"));
  const auto loss = gpm::parse_gan_loss("ipm");
  const auto value = std::visit([](const auto& l) { return l.generator_loss(torch::ones({2})).sum(); }, loss);
  CHECK(value.item<double>() == -2.0);
}

TEMPLATE_TEST_CASE("gradient penalty of a linear critic is (||w||_p - center)^2 and differentiable in w", "[losses][gp][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(41);
  const int64_t n = 5;
  const auto real = torch::randn({n, 2, 2}, gen, o), fake = torch::randn({n, 2, 2}, gen, o) + 1.0;
  const auto w0 = torch::tensor({0.6, -1.2, 0.3, 2.0}, o);
  const double l2 = std::sqrt(0.36 + 1.44 + 0.09 + 4.0), l1 = 4.1;
  for (auto point : {gpm::PenaltyPoint::interpolation, gpm::PenaltyPoint::real, gpm::PenaltyPoint::fake}) {
    for (double center : {0.0, 1.0, 0.3}) {
      for (double p : {2.0, 1.0}) {
        CAPTURE(gpm::to_string(point), center, p);
        const auto w = w0.clone().requires_grad_(true);
        auto critic = [&](const torch::Tensor& x, const torch::Tensor&) { return x.flatten(1).matmul(w); };
        const auto options = gpm::GradientPenaltyOptions().center(center).norm(p).point(point);
        const auto gp = gpm::gradient_penalty(critic, real, fake, torch::Tensor(), options, gen);
        REQUIRE(gp.sizes() == torch::IntArrayRef({n}));
        const double norm = p == 2.0 ? l2 : l1;
        CHECK(t::max_abs(gp - (norm - center) * (norm - center)) < 10 * t::eps<TestType>());
        // d/dw Σ_b (‖w‖_p − c)² = N · 2 (‖w‖_p − c) ∂‖w‖_p/∂w, with ∂‖w‖₂ = w/‖w‖₂ and ∂‖w‖₁ = sign(w).
        gp.sum().backward();
        REQUIRE(w.grad().defined());
        const auto dnorm = p == 2.0 ? w0 / l2 : w0.sign();
        CHECK(t::max_abs(w.grad() - n * 2.0 * (norm - center) * dnorm) < 100 * t::eps<TestType>());
      }
    }
  }
}

TEMPLATE_TEST_CASE("gradient penalty: time input, interpolates from the generator, zero gradients", "[losses][gp][numeric]", float,
                   double) {
  const auto o = t::options<TestType>();
  auto data_gen = t::generator(42);
  const int64_t n = 6;
  const auto real = torch::randn({n, 3}, data_gen, o), fake = torch::randn({n, 3}, data_gen, o);
  SECTION("the critic sees t: f(x, t) = (1 + t) <w, x> has penalty ((1 + t) ||w|| - 1)^2") {
    const auto w = torch::tensor({1.0, 2.0, 2.0}, o);  // ‖w‖ = 3
    const auto times = torch::linspace(0.0, 0.5, n, o);
    auto critic = [&](const torch::Tensor& x, const torch::Tensor& t) { return (1.0 + t) * x.matmul(w); };
    auto gen = t::generator(1);
    const auto gp = gpm::gradient_penalty(critic, real, fake, times, gpm::GradientPenaltyOptions(), gen);
    CHECK(t::max_abs(gp - (3.0 * (1.0 + times) - 1.0).square()) < 10 * t::eps<TestType>());
  }
  SECTION("interpolates x = alpha real + (1 - alpha) fake with alpha ~ U[0, 1] drawn first from gen") {
    // f(x) = ½‖x‖² has ∇f = x, so with center 0 the penalty is ‖x̂‖².
    auto critic = [](const torch::Tensor& x, const torch::Tensor&) { return 0.5 * x.square().sum(1); };
    auto gen = t::generator(2), replay = t::generator(2);
    torch::NoGradGuard no_grad;  // the penalty enables grad mode itself
    const auto gp = gpm::gradient_penalty(critic, real, fake, torch::Tensor(), gpm::GradientPenaltyOptions().center(0), gen);
    const auto alpha = torch::rand({n}, replay, o).unsqueeze(1);
    CHECK(t::max_abs(gp - (alpha * real + (1 - alpha) * fake).square().sum(1)) < 10 * t::eps<TestType>());
  }
  SECTION("a zero gradient gives finite parameter gradients (center 0 and center 1)") {
    for (double center : {0.0, 1.0}) {
      const auto w = torch::zeros({3}, o).requires_grad_(true);
      auto critic = [&](const torch::Tensor& x, const torch::Tensor&) { return x.matmul(w); };
      auto gen = t::generator(3);
      const auto gp = gpm::gradient_penalty(critic, real, fake, torch::Tensor(),
                                            gpm::GradientPenaltyOptions().center(center), gen);
      CHECK(t::max_abs(gp - center * center) == 0.0);
      gp.sum().backward();
      CHECK(torch::isfinite(w.grad()).all().template item<bool>());
    }
  }
}

TEST_CASE("gradient penalty and penalty weights reject bad input", "[losses][gp][errors]") {
  auto gen = t::generator(4);
  auto critic = [](const torch::Tensor& x, const torch::Tensor&) { return x.sum(1); };
  auto wide = [](const torch::Tensor& x, const torch::Tensor&) { return x; };
  const auto x = torch::randn({4, 2});
  REQUIRE_THROWS_WITH(gpm::gradient_penalty(critic, x, torch::randn({3, 2}), torch::Tensor(), {}, gen),
                      Contains("same shape"));
  REQUIRE_THROWS_WITH(gpm::gradient_penalty(wide, x, x, torch::Tensor(), {}, gen), Contains("one value per sample"));
  REQUIRE_THROWS_WITH(gpm::gradient_penalty(critic, x, x, torch::zeros({3}), {}, gen), Contains("one time per particle"));
  REQUIRE_THROWS_WITH(gpm::gradient_penalty(critic, x, x, torch::Tensor(), gpm::GradientPenaltyOptions().norm(0.5), gen),
                      Contains("p must be >= 1"));
  REQUIRE_THROWS_WITH(gpm::penalty_weights({}, torch::zeros({2})), Contains("weight list is empty"));
  CHECK(gpm::parse_penalty_point("real") == gpm::PenaltyPoint::real);
  REQUIRE_THROWS_WITH(gpm::parse_penalty_point("midpoint"), Contains("valid names are interpolation, real, fake"));
}

TEMPLATE_TEST_CASE("penalty weights are piecewise constant: l[floor(L t)] on the grid t = k/N", "[losses][gp][numeric]", float,
                   double) {
  const auto o = t::options<TestType>();
  const std::vector<double> weights{0.4, 0.3, 0.2, 0.1, 0.05, 0.0, 1.0};
  for (int64_t steps : {56, 64, 25, 7, 21}) {
    CAPTURE(steps);
    const auto times = torch::arange(steps, o) / static_cast<double>(steps);
    const auto lambda = gpm::penalty_weights(weights, times);
    REQUIRE(lambda.sizes() == torch::IntArrayRef({steps}));
    for (int64_t k = 0; k < steps; ++k) {
      const auto bin = static_cast<size_t>((7 * k) / steps);  // exact integer floor(L k / N)
      CHECK(lambda[k].template item<double>() == Approx(weights[bin]).epsilon(t::eps<TestType>()));
    }
  }
  CHECK(gpm::penalty_weights({0.04}, torch::rand({9}, o)).eq(torch::full({9}, 0.04, o)).all().template item<bool>());
  const auto edges = gpm::penalty_weights({1.0, 2.0}, torch::tensor({-0.5, 1.0, 3.0}, o));
  CHECK(t::max_abs(edges - torch::tensor({1.0, 2.0, 2.0}, o)) == 0.0);
}

TEMPLATE_TEST_CASE("ScheduleSigma follows Eq. 28: range and median 8.64 for (0.32, 40, 3)", "[losses][sigma][numeric]", float,
                   double) {
  const auto o = t::options<TestType>();
  const gpm::ScheduleSigma law(0.32, 40.0, 3.0);
  CHECK(law.at(0.0) == Approx(40.0));
  CHECK(law.at(1.0) == Approx(0.32));
  CHECK(law.at(0.5) == Approx(8.64).margin(0.005));  // (½(40^⅓ + 0.32^⅓))³ = 8.6398
  auto gen = t::generator(51);
  const auto sigma = law.sample(100000, o, gen);
  REQUIRE(sigma.sizes() == torch::IntArrayRef({100000}));
  REQUIRE(sigma.scalar_type() == t::dtype<TestType>());
  CHECK(sigma.min().template item<double>() >= 0.32 * (1 - 1e-5));
  CHECK(sigma.max().template item<double>() <= 40.0 * (1 + 1e-5));
  // The sample median's standard error is 0.5/√n · |dσ/du| = 0.0016 · 34.6 ≈ 0.055; margin 0.25.
  CHECK(sigma.median().template item<double>() == Approx(8.64).margin(0.25));
  REQUIRE_THROWS_WITH(gpm::ScheduleSigma(1.0, 0.5, 3.0), Contains("0 < sigma_min < sigma_max"));
  REQUIRE_THROWS_WITH(gpm::ScheduleSigma(0.1, 10.0, 0.0), Contains("rho must be finite and > 0"));
}

TEMPLATE_TEST_CASE("LogNormalSigma has log-mean -1.2 and log-std 1.2; EDM weight lambda(sigma_data) = 8", "[losses][sigma][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(52);
  const auto sigma = gpm::LogNormalSigma().sample(100000, o, gen);
  REQUIRE(sigma.sizes() == torch::IntArrayRef({100000}));
  CHECK(sigma.min().template item<double>() > 0.0);
  const auto log_sigma = sigma.log();
  // Standard errors: 0.0038 (mean), 0.0027 (std); margins 0.02.
  CHECK(log_sigma.mean().template item<double>() == Approx(-1.2).margin(0.02));
  CHECK(log_sigma.std().template item<double>() == Approx(1.2).margin(0.02));
  const auto sigma2 = gpm::LogNormalSigma(0.5, 0.1).sample(1000, o, gen);
  CHECK(sigma2.log().mean().template item<double>() == Approx(0.5).margin(0.02));  // standard error 0.003
  // λ(σ) = (σ² + σd²)/(σ σd)²: 8 at σ = σd = 0.5, and → 1/σd² = 4 as σ → ∞.
  const auto w = gpm::edm_loss_weight(torch::tensor({0.5, 0.1, 2.0, 1e4}, o), 0.5);
  CHECK(w[0].template item<double>() == Approx(8.0).epsilon(t::eps<TestType>()));
  CHECK(w[1].template item<double>() == Approx((0.01 + 0.25) / (0.05 * 0.05)).epsilon(t::eps<TestType>()));
  CHECK(w[2].template item<double>() == Approx((4.0 + 0.25) / 1.0).epsilon(t::eps<TestType>()));
  CHECK(w[3].template item<double>() == Approx(4.0).epsilon(1e-6));
  REQUIRE_THROWS_WITH(gpm::LogNormalSigma(0.0, -1.0), Contains("p_std must be finite and >= 0"));
}

TEMPLATE_TEST_CASE("denoising losses: closed forms for the zero and identity denoisers", "[losses][denoising][numeric]", float,
                   double) {
  const auto o = t::options<TestType>();
  auto data_gen = t::generator(61);
  const int64_t n = 8;
  const auto y = torch::randn({n, 2, 3}, data_gen, o);
  const auto sigma = torch::rand({n}, data_gen, o) * 3.0 + 0.1;
  const auto lambda = gpm::edm_loss_weight(sigma, 0.5);
  SECTION("D = 0: the error is ||y||^2 whatever the noise") {
    auto zero = [](const torch::Tensor& x, const torch::Tensor&) { return torch::zeros_like(x); };
    auto gen = t::generator(1);
    const auto sq = gpm::batched_squared_norm(y);
    CHECK(gpm::edm_denoising_loss(zero, y, sigma, gen).template item<double>() ==
          Approx((lambda * sq).mean().template item<double>()).epsilon(t::eps<TestType>()));
    CHECK(gpm::denoising_score_matching_loss(zero, y, sigma, gen).template item<double>() ==
          Approx(sq.mean().template item<double>()).epsilon(t::eps<TestType>()));
  }
  SECTION("D = identity: the error is sigma^2 ||eps||^2, eps ~ N(0, I) drawn from gen") {
    auto identity = [](const torch::Tensor& x, const torch::Tensor&) { return x; };
    auto gen = t::generator(2), replay = t::generator(2);
    const auto noise = torch::randn(y.sizes(), replay, o);
    const auto err = sigma.square() * gpm::batched_squared_norm(noise);
    CHECK(gpm::edm_denoising_loss(identity, y, sigma, gen, 0.5).template item<double>() ==
          Approx((lambda * err).mean().template item<double>()).epsilon(10 * t::eps<TestType>()));
    const auto noise2 = torch::randn(y.sizes(), replay, o);
    CHECK(gpm::denoising_score_matching_loss(identity, y, sigma, gen).template item<double>() ==
          Approx((sigma.square() * gpm::batched_squared_norm(noise2)).mean().template item<double>())
              .epsilon(10 * t::eps<TestType>()));
  }
}

TEST_CASE("EDM loss on a preconditioned TimeMlp trains toward the posterior-mean floor; gradients reach every weight",
          "[losses][denoising][numeric]") {
  torch::manual_seed(0);
  const auto o = t::options<float>();
  auto denoiser = gpm::nn::make_edm_denoiser(gpm::nn::TimeMlp(gpm::nn::TimeMlpOptions(2, 2).mlp(gpm::nn::MlpOptions().width(64).depth(2))));
  denoiser->to(t::device());
  auto gen = t::generator(71);
  // Data: two points ±1 on the first axis; evaluation uses a fixed noise stream for a fair comparison.
  const auto y = torch::tensor({{1.0, 0.0}, {-1.0, 0.0}}, o).repeat({64, 1});
  const auto eval_sigma = gpm::LogNormalSigma().sample(128, o, gen);
  auto eval = [&] {
    auto eval_gen = t::generator(72);
    torch::NoGradGuard no_grad;
    return gpm::edm_denoising_loss(denoiser, y, eval_sigma, eval_gen).item<double>();
  };
  const double before = eval();
  torch::optim::Adam adam(denoiser->parameters(), torch::optim::AdamOptions(5e-3));
  for (int step = 0; step < 400; ++step) {
    adam.zero_grad();
    const auto loss = gpm::edm_denoising_loss(denoiser, y, gpm::LogNormalSigma().sample(128, o, gen), gen);
    loss.backward();
    if (step == 0)
      for (const auto& p : denoiser->parameters()) REQUIRE(p.grad().defined());
    adam.step();
  }
  // The optimal denoiser is the posterior mean tanh(x₀/σ²) e₀; its loss under the same noise is the floor.
  auto optimal = [](const torch::Tensor& x, const torch::Tensor& s) {
    return torch::stack({torch::tanh(x.select(1, 0) / s.square()), torch::zeros_like(s)}, 1);
  };
  auto floor_gen = t::generator(72);
  const double floor = gpm::edm_denoising_loss(optimal, y, eval_sigma, floor_gen).item<double>();
  const double after = eval();
  // Measured on CPU: 2.87 untrained, 1.56 after 400 steps, floor 1.04 (72 % of the gap closed); we ask for half.
  CHECK(after - floor < 0.5 * (before - floor));
  CHECK(after > floor - 0.05);  // nothing beats the posterior mean by more than noise
  REQUIRE_THROWS_WITH(gpm::edm_denoising_loss(denoiser, y, torch::ones({3}, o), gen), Contains("one time per particle"));
}
