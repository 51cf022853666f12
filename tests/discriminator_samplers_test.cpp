// Discriminator-guided sampling: latent refinement against closed forms (gradient ascent on a
// quadratic logit, Langevin on a Gaussian latent model), rejection sampling exact with γ = 0, and
// both equal to the generator's own samples when they do nothing.
#include <cmath>
#include <vector>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

// A logit quadratic in x, peaked at μ: d(x) = −a ‖x − μ‖²/2.
struct QuadraticLogit {
  torch::Tensor mu;
  double a;
  torch::Tensor operator()(const torch::Tensor& x) const { return -0.5 * a * (x - mu).square().sum(1); }
};
const auto identity = [](const torch::Tensor& z) { return z; };

}  // namespace

TEST_CASE("latent refinement without noise is gradient ascent on the logit: z_K − μ = (1 − ηa)^K (z_0 − μ)",
          "[models][guided][numeric]") {
  const auto o = t::options<double>();
  auto gen = t::generator(1);
  const auto z0 = torch::randn({6, 3}, gen, o);
  const QuadraticLogit logit{torch::tensor({1.0, -2.0, 0.5}, o), 2.0};
  const auto options = gpm::LatentRefinementOptions().energy(gpm::LatentEnergy::dgflow).steps(7).eta(0.1).noise(0.0);
  const auto z = gpm::refine_latents(z0, identity, logit, options, gen);
  CHECK(t::max_abs(z - (logit.mu + std::pow(1 - 0.1 * 2.0, 7) * (z0 - logit.mu))) < 1e-12);
  CHECK_FALSE(z.requires_grad());
  // DDLS adds the prior's −‖z‖²/2: the fixed point is aμ/(a + 1).
  const auto ddls = gpm::refine_latents(z0, identity, logit, gpm::LatentRefinementOptions().steps(400).eta(0.1).noise(0.0), gen);
  CHECK(t::max_abs(ddls - (2.0 / 3.0) * logit.mu) < 1e-10);
  REQUIRE_THROWS_WITH(gpm::refine_latents(z0, identity, logit, gpm::LatentRefinementOptions().eta(-1), gen),
                      Contains("eta must be finite and > 0"));
}

TEST_CASE("latent refinement as Langevin dynamics samples the latent model N(z; 0, I) e^{d(z)}",
          "[models][guided][statistical]") {
  // With d = −a‖z − μ‖²/2 the model is N(aμ/(a + 1), I/(a + 1)); unadjusted Langevin with step η on a
  // Gaussian of precision λ = a + 1 has the same mean and the variance 1/(λ(1 − ηλ/2)).
  const auto o = t::options<double>();
  auto gen = t::generator(2);
  const int64_t n = 20000;
  const QuadraticLogit logit{torch::tensor({2.0, -1.0}, o), 1.0};
  const double eta = 0.05, lambda = 2.0;
  const auto z = gpm::refine_latents(torch::randn({n, 2}, gen, o), identity, logit,
                                     gpm::LatentRefinementOptions().steps(300).eta(eta).noise(1.0), gen);
  const double variance = 1.0 / (lambda * (1 - eta * lambda / 2));
  // 5 standard errors of the mean and of the variance at n = 20,000.
  CHECK(t::max_abs(z.mean(0) - logit.mu / lambda) < 5 * std::sqrt(variance / n));
  CHECK(t::max_abs(z.var(0) - variance) < 5 * variance * std::sqrt(2.0 / n));
}

TEST_CASE("rejection sampling with γ = 0 is exact: U[0, 1] with the ratio 2x gives the density 2x",
          "[models][guided][statistical]") {
  const auto o = t::options<double>();
  auto gen = t::generator(3);
  auto draw_gen = t::generator(4);
  const auto draw = [&](int64_t m) { return torch::rand({m, 1}, draw_gen, o); };
  const auto log_ratio = [](const torch::Tensor& x) { return torch::log(2 * x.squeeze(1)); };
  const int64_t n = 20000;
  const auto exact = gpm::rejection_sample(n, draw, log_ratio, gpm::RejectionSamplingOptions().shift(false), gen);
  REQUIRE(exact.samples.size(0) == n);
  // Density 2x: mean 2/3, variance 1/18; acceptance E[x] = 1/2 (the burn-in's largest x is within 1e-4 of 1).
  CHECK(std::abs(exact.samples.mean().item<double>() - 2.0 / 3.0) < 5 * std::sqrt(1.0 / 18 / n));
  CHECK(exact.acceptance == Approx(0.5).margin(0.01));
  // DRS's γ, the batch's 0.8-quantile of F = logit(x), is about logit(0.8) = ln 4: x is kept with
  // probability sigmoid(logit(x) − ln 4) = x/(4 − 3x), so 0.2828 of the draws, at a mean of 0.7440
  // (quadrature); the margins cover the quantile's noise over batches of 1,000.
  const auto drs = gpm::rejection_sample(n, draw, log_ratio, gpm::RejectionSamplingOptions(), gen);
  CHECK(drs.acceptance == Approx(0.2828).margin(0.01));
  CHECK(drs.samples.mean().item<double>() == Approx(0.7440).margin(0.01));
  REQUIRE_THROWS_WITH(gpm::rejection_sample(n, draw, [](const torch::Tensor& x) { return 1e3 * x.squeeze(1); },
                                            gpm::RejectionSamplingOptions().shift(false).max_draws(5000), gen),
                      Contains("lower the percentile, or raise max_draws"));
}

TEST_CASE("a GAN's guided samplers: no latent step is the generator's own sample; rejection keeps some of them",
          "[models][guided]") {
  auto gan = gpm::make_gan(2, gpm::GanOptions()
                                  .latent_dim(4)
                                  .generator(gpm::nn::MlpOptions().width(16).depth(2))
                                  .discriminator(gpm::nn::MlpOptions().width(16).depth(2))
                                  .seed(3)
                                  .device(t::device()));
  auto gen = t::generator(1);
  for (int step = 0; step < 6; ++step) gan.train_step(torch::randn({32, 2}, gen, t::options<float>()) + 2.0);
  gan.seed(9);
  const auto own = gan.sample(50);
  gan.seed(9);
  CHECK(torch::equal(gpm::sample_with_latent_refinement(gan, 50, gpm::LatentRefinementOptions().steps(0)), own));
  // The refinement differentiates with respect to the latents only: no parameter gradient changes.
  std::vector<torch::Tensor> grads;
  auto parameters = gan.flow().net()->parameters();
  for (const auto& p : gan.dynamics().net()->parameters()) parameters.push_back(p);
  for (const auto& p : parameters) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  gan.seed(9);
  const auto refined = gpm::sample_with_latent_refinement(gan, 50, gpm::LatentRefinementOptions().steps(3).eta(0.1));
  CHECK(refined.sizes() == own.sizes());
  CHECK_FALSE(torch::equal(refined, own));
  for (size_t i = 0; i < parameters.size(); ++i) {
    CHECK(parameters[i].grad().defined() == grads[i].defined());
    if (grads[i].defined()) CHECK(torch::equal(parameters[i].grad(), grads[i]));
  }
  const auto kept = gpm::sample_by_rejection(gan, 50, gpm::RejectionSamplingOptions().burn_in(100).batch(100));
  CHECK(kept.samples.sizes() == own.sizes());
  CHECK(kept.acceptance > 0);
  CHECK(kept.acceptance <= 1);
  CHECK(gan.flow().net()->is_training());
}
