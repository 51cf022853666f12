// Instance noise: both sides of the estimator's updates and the field's evaluation points are noised,
// independently, with the annealed strength; once it reaches 0 the wrapper is the flow itself.
#include <cmath>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

// A trainable flow that remembers what it saw: v(x) = x, so the velocity is the evaluation point.
struct NoiseRecordingFlow {
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor&) { return x.clone(); }
  gpm::Stats update(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor&) {
    seen_real = real, seen_fake = fake;
    return {{"calls", torch::tensor(1.0)}};
  }
  torch::Tensor seen_real, seen_fake;
};

double std_of(const torch::Tensor& x) { return x.to(torch::kFloat64).std().item<double>(); }

}  // namespace

TEST_CASE("instance noise noises data and particles independently with the annealed strength", "[flows][instance-noise]") {
  const auto o = t::options<float>();
  const int64_t n = 20000;
  auto gen = t::generator(5);
  const auto real = torch::randn({n, 2}, gen, o), fake = torch::randn({n, 2}, gen, o) + 3.0, times = torch::zeros({n}, o);
  gpm::InstanceNoise flow(NoiseRecordingFlow{}, gpm::InstanceNoiseOptions().std(0.4).anneal_updates(4).seed(1).device(t::device()));
  // Linear annealing over K = 4 updates: 0.4, 0.3, 0.2, 0.1, then 0.
  for (const double expected : {0.4, 0.3, 0.2, 0.1}) {
    CAPTURE(expected);
    CHECK(flow.current_std() == Approx(expected));
    const auto v_noise = flow.velocity(fake, times) - fake;
    const auto stats = flow.update(real, fake, times);
    CHECK(stats.at("instance_noise_std").item<double>() == Approx(expected));
    const auto real_noise = flow.flow().seen_real - real, fake_noise = flow.flow().seen_fake - fake;
    // At n = 40,000 coordinates a sample std is within 1.5 % of the true one (about 4 standard errors).
    for (const auto& noise : {real_noise, fake_noise, v_noise}) {
      CHECK(std_of(noise) == Approx(expected).epsilon(0.015));
      CHECK(std::abs(noise.mean().item<double>()) < 4 * expected / std::sqrt(2.0 * n));
    }
    // Independent draws on the two sides.
    const auto correlation = (real_noise * fake_noise).mean().item<double>() / (expected * expected);
    CHECK(std::abs(correlation) < 0.03);
  }
  CHECK(flow.updates() == 4);
  CHECK(flow.current_std() == 0);
  flow.update(real, fake, times);
  CHECK(torch::equal(flow.flow().seen_real, real));
  CHECK(torch::equal(flow.flow().seen_fake, fake));
  CHECK(torch::equal(flow.velocity(fake, times), fake));
}

TEST_CASE("instance noise: exponential annealing, zero strength is the flow itself, bad options are refused",
          "[flows][instance-noise][errors]") {
  const auto options = gpm::InstanceNoiseOptions().std(0.5).annealing(gpm::NoiseAnnealing::exponential).decay(0.9);
  CHECK(options.std_after(0) == Approx(0.5));
  CHECK(options.std_after(10) == Approx(0.5 * std::pow(0.9, 10)));
  CHECK(gpm::InstanceNoiseOptions().std(0.2).anneal_updates(10).std_after(25) == 0);
  const auto o = t::options<float>();
  auto gen = t::generator(2);
  const auto x = torch::randn({16, 2}, gen, o);
  gpm::InstanceNoise off(NoiseRecordingFlow{}, gpm::InstanceNoiseOptions().std(0).device(t::device()));
  CHECK(torch::equal(off.velocity(x, torch::zeros({16}, o)), x));
  CHECK_THROWS_WITH(gpm::InstanceNoise(NoiseRecordingFlow{}, gpm::InstanceNoiseOptions().std(-1)), Contains("std must be"));
  CHECK_THROWS_WITH(gpm::io::read_options(nlohmann::json{{"annealing", "cosine"}}, gpm::InstanceNoiseOptions(), "noise"),
                    Contains("linear, exponential"));
}

TEST_CASE("a GAN with instance noise starts from the plain GAN's weights and trains", "[models][instance-noise]") {
  const auto gan_options = gpm::GanOptions().latent_dim(4).generator(gpm::nn::MlpOptions().width(16).depth(2))
                               .discriminator(gpm::nn::MlpOptions().width(16).depth(2));
  auto plain = gpm::make_gan(2, gpm::GanOptions(gan_options).seed(3).device(t::device()));
  auto noisy = gpm::make_instance_noise_gan(
      2, gpm::InstanceNoiseGanOptions().gan(gan_options).instance_noise(gpm::InstanceNoiseOptions().std(0.3)).seed(3)
             .device(t::device()));
  CHECK(torch::equal(plain.sample(8), noisy.sample(8)));
  auto gen = t::generator(4);
  gpm::Stats stats;
  for (int i = 0; i < 4; ++i) stats = noisy.train_step(torch::randn({32, 2}, gen, t::options<float>()));
  CHECK(stats.at("instance_noise_std").item<double>() == Approx(0.3 * (1 - 3.0 / 14000)));
  CHECK(noisy.flow().updates() == 4);
  CHECK(noisy.sample(8).isfinite().all().item<bool>());
}
