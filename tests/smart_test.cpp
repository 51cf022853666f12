// Flow arithmetic (FlowSum, Weighted, Every) and SMaRt: the score-matching regularity is minus the
// gradient of the denoising error, with the closed-form mean field of a Gaussian target; a SMaRt GAN
// of weight 0 is the GAN, and the regularity acts on generator steps 0, k, 2k, ...
#include <cmath>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

auto quadratic_flow(double scale) {
  return gpm::PotentialFlow([scale](const torch::Tensor& x, const torch::Tensor& time) {
    return -0.5 * scale * (1.0 + time) * gpm::batched_squared_norm(x);
  });
}

auto critic_flow(uint64_t seed) {
  const gpm::ScopedGlobalSeed init(seed);
  gpm::nn::Mlp net(gpm::nn::MlpOptions(2, 1).width(16).depth(2));
  net->to(t::device());
  return gpm::DiscriminatorFlow(net, gpm::NonSaturatingLoss{}, torch::optim::AdamOptions(1e-2),
                                gpm::DiscriminatorFlowOptions().weight_average(0.5).seed(seed));
}

}  // namespace

TEST_CASE("flow arithmetic: a sum adds the fields, a weight scales one, Every acts on evaluations 0, k, 2k",
          "[flows][combinators]") {
  const auto o = t::options<double>();
  auto gen = t::generator(3);
  const auto x = torch::randn({5, 2}, gen, o), times = torch::rand({5}, gen, o);
  auto a = quadratic_flow(1.0);
  auto b = quadratic_flow(-2.0);
  const auto va = a.velocity(x, times), vb = b.velocity(x, times);

  gpm::FlowSum sum(quadratic_flow(1.0), gpm::Weighted(quadratic_flow(-2.0), 0.3));
  CHECK(t::max_abs(sum.velocity(x, times) - (va + 0.3 * vb)) < 1e-12);
  CHECK(sum.second().weight() == 0.3);

  gpm::Every every(quadratic_flow(1.0), 3);
  for (int64_t i = 0; i < 7; ++i) {
    CAPTURE(i);
    CHECK(every.next_is_active() == (i % 3 == 0));
    const auto v = every.velocity(x, times);
    CHECK(torch::equal(v, i % 3 == 0 ? va : torch::zeros_like(x)));
  }
  CHECK(every.evaluations() == 7);
  // The count is the Every's state: a copy restored from a checkpoint continues the schedule.
  gpm::Every restored(quadratic_flow(1.0), 3);
  t::round_trip(every, restored);
  CHECK(restored.evaluations() == 7);
  CHECK_FALSE(restored.next_is_active());  // evaluation 7, then 8; 9 applies the flow
  restored.velocity(x, times);
  restored.velocity(x, times);
  CHECK(restored.next_is_active());

  REQUIRE_THROWS_WITH(gpm::Every(quadratic_flow(1.0), 0), Contains("period must be >= 1"));
  REQUIRE_THROWS_WITH(gpm::Weighted(quadratic_flow(1.0), std::nan("")), Contains("weight must be finite"));
}

TEST_CASE("a FlowSum trains its trainable term exactly as that term alone, and forwards its discriminator and averages",
          "[flows][combinators]") {
  static_assert(gpm::TrainableFlow<gpm::FlowSum<decltype(critic_flow(0)), decltype(quadratic_flow(1.0))>>);
  static_assert(!gpm::TrainableFlow<gpm::FlowSum<decltype(quadratic_flow(1.0)), decltype(quadratic_flow(1.0))>>);
  const auto o = t::options<float>();
  auto alone = critic_flow(4);
  gpm::FlowSum sum(critic_flow(4), quadratic_flow(0.5));
  auto gen = t::generator(9);
  for (int step = 0; step < 5; ++step) {
    const auto real = torch::randn({16, 2}, gen, o) + 2.0, fake = torch::randn({16, 2}, gen, o), zeros = torch::zeros({16}, o);
    const auto expected = alone.update(real, fake, zeros);
    const auto stats = sum.update(real, fake, zeros);
    CHECK(torch::equal(stats.at("discriminator_loss"), expected.at("discriminator_loss")));
  }
  const auto x = torch::randn({8, 2}, gen, o), zeros = torch::zeros({8}, o);
  CHECK(torch::equal(sum.logits(x, zeros), alone.logits(x, zeros)));
  auto half = quadratic_flow(0.5);
  CHECK(t::max_abs(sum.velocity(x, zeros) - (alone.velocity(x, zeros) + half.velocity(x, zeros))) < 1e-6);
  {
    const auto averaged = sum.averaged_weights();
    const auto use = alone.averaged_weights();
    CHECK(torch::equal(sum.logits(x, zeros), alone.logits(x, zeros)));
    CHECK_FALSE(sum.net()->is_training());
  }
  CHECK(sum.net()->is_training());

  // Two averaged terms: both swap their averages in, and both get their live weights back.
  gpm::FlowSum both(critic_flow(5), critic_flow(6));
  const auto real = torch::randn({16, 2}, gen, o) + 2.0, fake = torch::randn({16, 2}, gen, o), times = torch::zeros({16}, o);
  for (int step = 0; step < 3; ++step) both.update(real, fake, times);
  const auto live_first = both.first().logits(x, zeros), live_second = both.second().logits(x, zeros);
  {
    const auto averaged = both.averaged_weights();
    CHECK_FALSE(torch::equal(both.first().logits(x, zeros), live_first));
    CHECK_FALSE(torch::equal(both.second().logits(x, zeros), live_second));
  }
  CHECK(torch::equal(both.first().logits(x, zeros), live_first));
  CHECK(torch::equal(both.second().logits(x, zeros), live_second));
}

TEST_CASE("the score-matching regularity is minus the gradient of the denoising error (finite differences)",
          "[flows][smart][numeric]") {
  const auto o = t::options<double>();
  gpm::GaussianMixtureDenoiser mixture(torch::tensor({{2.0, 0.0}, {-2.0, 0.0}, {0.0, 1.5}}, o), 0.3);
  gpm::ScoreMatchingRegularity regularity(mixture, gpm::ScoreMatchingRegularityOptions().sigma_min(0.2).sigma_max(0.5).device(t::device()));
  auto gen = t::generator(2);
  const auto x = 1.5 * torch::randn({4, 2}, gen, o);
  // The same σ' and ε at every evaluation: the stream restarts from one seed.
  const auto error = [&](const torch::Tensor& at) {
    regularity.generator().set_current_seed(17);
    return regularity.denoising_error(at);
  };
  regularity.generator().set_current_seed(17);
  const auto v = regularity.velocity(x, torch::zeros({4}, o));
  const double h = 1e-6;
  for (int64_t j = 0; j < 2; ++j) {
    auto shift = torch::zeros_like(x);
    shift.select(1, j).fill_(h);
    const auto derivative = (error(x + shift) - error(x - shift)) / (2 * h);
    CAPTURE(j);
    CHECK(t::max_abs(v.select(1, j) + derivative) < 1e-6 * (1.0 + t::max_abs(derivative)));
  }
  const auto first = error(x);
  CHECK(torch::equal(first, error(x)));
  CHECK((first > 0).all().item<bool>());
  REQUIRE_THROWS_WITH(gpm::ScoreMatchingRegularity(mixture, gpm::ScoreMatchingRegularityOptions().sigma_min(0.5).sigma_max(0.2)),
                      Contains("sigma_min <= sigma_max"));
}

TEST_CASE("for a Gaussian target N(0, s²I), the regularity's mean field is −2(1 − a)² x / (σ² d), a = s²/(s² + σ²)",
          "[flows][smart][numeric]") {
  const auto o = t::options<double>();
  const double s = 0.5, sigma = 0.3, a = s * s / (s * s + sigma * sigma);
  const int64_t d = 3, copies = 40000;
  gpm::GaussianMixtureDenoiser gaussian(torch::zeros({1, d}, o), s);
  gpm::ScoreMatchingRegularity regularity(
      gaussian, gpm::ScoreMatchingRegularityOptions().sigma_min(sigma).sigma_max(sigma).seed(3).device(t::device()));
  const auto point = torch::tensor({1.0, -2.0, 0.5}, o);
  const auto v = regularity.velocity(point.expand({copies, d}).contiguous(), torch::zeros({copies}, o));
  // v = −(2(1 − a)/(σ² d)) ((1 − a) x − aσε): its mean is the closed form, its standard error
  // 2(1 − a)a/(σ d √copies) per coordinate; 5 standard errors.
  const auto expected = -2 * (1 - a) * (1 - a) / (sigma * sigma * d) * point;
  const double standard_error = 2 * (1 - a) * a / (sigma * d * std::sqrt(static_cast<double>(copies)));
  CHECK(t::max_abs(v.mean(0) - expected) < 5 * standard_error);
  CHECK(v.std(0).mean().item<double>() == Approx(2 * (1 - a) * a / (sigma * d)).epsilon(0.02));
}

TEST_CASE("a SMaRt GAN of weight 0 is the GAN; the regularity acts on generator steps 0, k, 2k and moves the generator",
          "[models][smart]") {
  const auto gan_options = gpm::GanOptions()
                               .latent_dim(4)
                               .generator(gpm::nn::MlpOptions().width(16).depth(2))
                               .discriminator(gpm::nn::MlpOptions().width(16).depth(2))
                               .discriminator_steps(1)
                               .weight_average(0.0)
                               .seed(7)
                               .device(t::device());
  const auto o = t::options<float>();
  gpm::GaussianMixtureDenoiser grid(torch::tensor({{1.0, 1.0}, {-1.0, 1.0}, {1.0, -1.0}, {-1.0, -1.0}}, o), 0.1);
  auto gan = gpm::make_gan(2, gan_options);
  auto unweighted = gpm::make_smart_gan(2, grid, gpm::SmartGanOptions().smart(gpm::SmartOptions().weight(0.0).every(3)).gan(gan_options).seed(7).device(t::device()));
  auto smart = gpm::make_smart_gan(2, grid, gpm::SmartGanOptions().smart(gpm::SmartOptions().weight(1.0).every(3)).gan(gan_options).seed(7).device(t::device()));
  auto gen = t::generator(1);
  for (int step = 0; step < 10; ++step) {
    const auto batch = grid.sample(32, gen);
    gan.train_step(batch);
    unweighted.train_step(batch);
    smart.train_step(batch);
  }
  // One generator step per iteration at the GAN's one discriminator step: ten evaluations.
  CHECK(smart.flow().second().evaluations() == 10);
  gan.seed(5);
  unweighted.seed(5);
  smart.seed(5);
  const auto plain = gan.sample(64);
  CHECK(torch::equal(unweighted.sample(64), plain));
  CHECK_FALSE(torch::equal(smart.sample(64), plain));
}
