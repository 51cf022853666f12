// f-divergence flows: the particles' cost is f'(e^{−d}) for each divergence (checked against f by
// finite differences), and each flow, with a logistic discriminator trained along the way, moves a
// Gaussian to a Gaussian target with its own divergence decreasing at every step.
#include <cmath>
#include <functional>

#include "gpm/gpm.hpp"
#include "gpm/losses/f_divergence.hpp"
#include "gpm/models/f_divergence_flow.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

using gpm::FDivergence;

// f of each divergence, in plain doubles: D_f(ρ ‖ p) = ∫ p f(ρ/p).
double f_of(FDivergence divergence, double u) {
  switch (divergence) {
    case FDivergence::kl: return u * std::log(u);
    case FDivergence::reverse_kl: return -std::log(u);
    case FDivergence::jensen_shannon: return u * std::log(u) - (1 + u) * std::log((1 + u) / 2);
    case FDivergence::chi_squared: return (u - 1) * (u - 1);
  }
  return 0;
}

double f_prime(FDivergence divergence, double u) {
  const double h = 1e-5 * u;
  return (f_of(divergence, u + h) - f_of(divergence, u - h)) / (2 * h);
}

constexpr FDivergence all_divergences[] = {FDivergence::kl, FDivergence::reverse_kl, FDivergence::jensen_shannon,
                                           FDivergence::chi_squared};

// d(x) = w·[x₁, x₂, x₁², x₂², x₁x₂] + b: the log-ratio of two Gaussians lies in this family, so the
// logistic discriminator can reach log(p/ρ) exactly.
struct QuadraticCriticImpl : torch::nn::Module {
  QuadraticCriticImpl() : linear(register_module("linear", torch::nn::Linear(5, 1))) {
    torch::NoGradGuard no_grad;
    linear->weight.zero_();
    linear->bias.zero_();
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto a = x.select(1, 0), b = x.select(1, 1);
    return linear(torch::stack({a, b, a * a, b * b, a * b}, 1));
  }
  torch::nn::Linear linear;
};
TORCH_MODULE(QuadraticCritic);

struct Gaussian2d {
  torch::Tensor mean;        // [2], double
  torch::Tensor covariance;  // [2, 2], double
  static Gaussian2d fit(const torch::Tensor& x) {
    const auto y = x.to(torch::kFloat64);
    const auto m = y.mean(0);
    const auto c = y - m;
    return {m, c.t().matmul(c) / (y.size(0) - 1)};
  }
  torch::Tensor log_density(const torch::Tensor& x) const {
    const auto c = x - mean;
    const auto quadratic = (c.matmul(torch::linalg::inv(covariance)) * c).sum(1);
    return -0.5 * quadratic - std::log(2 * M_PI) - 0.5 * torch::logdet(covariance);
  }
};

// D_f(ρ ‖ p) = ∫ p f(ρ/p) by quadrature on a grid that holds both Gaussians' mass.
double divergence_between(FDivergence divergence, const Gaussian2d& rho, const Gaussian2d& p) {
  const double step = 0.04;
  const auto axis = torch::arange(-9.0, 9.0, step, torch::kFloat64);
  const auto grid = torch::stack(torch::meshgrid({axis, axis}, "ij"), -1).reshape({-1, 2});
  const auto log_rho = rho.log_density(grid), log_p = p.log_density(grid);
  const auto r = log_rho.exp(), q = log_p.exp();
  torch::Tensor integrand;
  switch (divergence) {
    case FDivergence::kl: integrand = r * (log_rho - log_p); break;
    case FDivergence::reverse_kl: integrand = q * (log_p - log_rho); break;
    case FDivergence::jensen_shannon:
      integrand = r * (log_rho - log_p) - (r + q) * torch::log((r + q) / (2 * q)).nan_to_num(0.0);
      break;
    case FDivergence::chi_squared: integrand = (r - q).square() * (-log_p).exp(); break;
  }
  return integrand.sum().item<double>() * step * step;
}

}  // namespace

TEST_CASE("f-divergence losses: the particles' cost is f'(e^-d) up to a constant, the discriminator is logistic",
          "[losses][f-divergence][numeric]") {
  const auto o = t::options<double>();
  const std::vector<double> d{-2.5, -1.0, 0.0, 0.7, 2.0};
  const auto logits = torch::tensor(d, o);
  for (const auto divergence : all_divergences) {
    CAPTURE(gpm::option_name(divergence));
    const gpm::FDivergenceLoss loss(divergence);
    const auto c = loss.generator_loss(logits);
    REQUIRE(c.sizes() == torch::IntArrayRef({5}));
    // c(d) − f'(e^{−d}) is one constant for every d.
    const double offset = c[0].item<double>() - f_prime(divergence, std::exp(-d[0]));
    for (size_t i = 1; i < d.size(); ++i)
      CHECK(c[static_cast<int64_t>(i)].item<double>() - f_prime(divergence, std::exp(-d[i])) ==
            Approx(offset).margin(1e-6));
    // The discriminator is trained by logistic regression, whatever f.
    const auto real = torch::tensor({0.4, -1.2}, o), fake = torch::tensor({1.0, -0.3}, o);
    CHECK(loss.discriminator_loss(real, fake).item<double>() ==
          Approx(gpm::NonSaturatingLoss{}.discriminator_loss(real, fake).item<double>()));
  }
  // Jensen–Shannon's field is the saturating GAN's.
  const auto x = torch::tensor(d, o).requires_grad_(true);
  const auto js = gpm::input_gradient(gpm::FDivergenceLoss(FDivergence::jensen_shannon).generator_loss(x), x);
  const auto saturating = gpm::input_gradient(gpm::SaturatingLoss{}.generator_loss(x), x);
  CHECK(t::max_abs(js - saturating) < 1e-12);
}

TEST_CASE("f-divergence losses check logit shapes; divergences are named in configs", "[losses][f-divergence][errors]") {
  const gpm::FDivergenceLoss loss(FDivergence::chi_squared);
  CHECK_THROWS_WITH(loss.generator_loss(torch::zeros({3, 2})), Contains("one logit per sample"));
  CHECK(gpm::option_value<FDivergence>("reverse_kl") == FDivergence::reverse_kl);
  CHECK(gpm::option_names_of<FDivergence>() ==
        std::vector<std::string>{"kl", "reverse_kl", "jensen_shannon", "chi_squared"});
  CHECK_THROWS_WITH(gpm::io::read_options(nlohmann::json{{"divergence", "hellinger"}}, gpm::FDivergenceFlowOptions(), "f-flow"),
                    Contains("kl, reverse_kl, jensen_shannon, chi_squared"));
}

// Particles N(0, 0.8² I) flow to p = N((1, −0.5), diag(1, 0.7²)); before each Euler step the logistic
// discriminator takes 25 Adam steps, warm-started, on fresh data against the particles. Each flow's
// own divergence, between the particles' Gaussian fit and p, is computed by quadrature after every step.
TEST_CASE("f-divergence flows move a Gaussian to a Gaussian target, their divergence decreasing at every step",
          "[flows][f-divergence][statistical]") {
  const auto o = t::options<float>();
  const Gaussian2d target{torch::tensor({1.0, -0.5}, torch::kFloat64), torch::diag(torch::tensor({1.0, 0.49}, torch::kFloat64))};
  const auto target_scale = torch::tensor({1.0, 0.7}, o), target_mean = torch::tensor({1.0, -0.5}, o);
  struct Case {
    FDivergence divergence;
    double start_std;
    double dt;
  };
  for (const auto [divergence, start_std, dt] :
       {Case{FDivergence::kl, 0.8, 0.1}, Case{FDivergence::reverse_kl, 0.8, 0.1}, Case{FDivergence::jensen_shannon, 0.8, 0.2},
        Case{FDivergence::chi_squared, 0.5, 0.02}}) {
    CAPTURE(gpm::option_name(divergence));
    auto gen = t::generator(7);
    torch::manual_seed(7);
    gpm::DiscriminatorFlow flow(QuadraticCritic(), gpm::FDivergenceLoss(divergence), torch::optim::AdamOptions(0.05));
    flow.net()->to(t::device());
    const int64_t n = 4000;
    auto x = start_std * torch::randn({n, 2}, gen, o);
    const auto times = torch::zeros({n}, o);
    double previous = divergence_between(divergence, Gaussian2d::fit(x), target);
    const double initial = previous;
    for (int k = 0; k < 300; ++k) flow.update(target_mean + target_scale * torch::randn({n, 2}, gen, o), x, times);
    for (int step = 0; step < 40; ++step) {
      for (int k = 0; k < 25; ++k) flow.update(target_mean + target_scale * torch::randn({n, 2}, gen, o), x, times);
      x = x + dt * flow.velocity(x, times);
      const double now = divergence_between(divergence, Gaussian2d::fit(x), target);
      CAPTURE(step, previous, now);
      // The margin is the Gaussian fit's noise at n = 4000 near the target (a few 1e-4).
      CHECK(now <= previous + 2e-3);
      previous = now;
    }
    CAPTURE(initial, previous);
    CHECK(previous < 0.05 * initial);
  }
}

TEST_CASE("f-divergence models: a particle model and a GAN train on the ring and sample finite points",
          "[models][f-divergence]") {
  auto data_gen = t::generator(3);
  const auto batch = [&] { return torch::randn({64, 2}, data_gen, t::options<float>()) * 0.5 + 1.0; };
  auto flow = gpm::make_f_divergence_flow(
      2, gpm::FDivergenceFlowOptions()
             .divergence(FDivergence::chi_squared)
             .flow(gpm::DiscriminatorFlowModelOptions().generation_steps(4).discriminator(
                 gpm::nn::TimeMlpOptions().embedding_size(8).mlp(gpm::nn::MlpOptions().width(16).depth(2))))
             .device(t::device()));
  CHECK(flow.flow().loss().divergence() == FDivergence::chi_squared);
  for (int i = 0; i < 3; ++i) flow.train_step(batch());
  CHECK(flow.sample(32).isfinite().all().item<bool>());
  auto gan = gpm::make_f_divergence_gan(
      2, gpm::FDivergenceGanOptions()
             .divergence(FDivergence::reverse_kl)
             .gan(gpm::GanOptions().latent_dim(4).generator(gpm::nn::MlpOptions().width(16).depth(2))
                      .discriminator(gpm::nn::MlpOptions().width(16).depth(2)))
             .device(t::device()));
  CHECK(gan.flow().loss().divergence() == FDivergence::reverse_kl);
  for (int i = 0; i < 4; ++i) gan.train_step(batch());
  CHECK(gan.sample(32).sizes() == torch::IntArrayRef({32, 2}));
}
