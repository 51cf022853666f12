// Diffusion-GAN's adaptive forward diffusion: the schedule's closed-form values, the law of the
// steps, the field as the chain rule through the diffusion, the adaptation of T (exactly, and from a
// discriminator that overfits or cannot), checkpoints and the model's composition.
#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

auto time_critic_flow(uint64_t seed = 3) {
  const gpm::ScopedGlobalSeed init(seed);
  gpm::nn::TimeMlp net(gpm::nn::TimeMlpOptions(2, 1).mlp(gpm::nn::MlpOptions().width(32).depth(2)).embedding_size(16));
  net->to(t::device());
  return gpm::DiscriminatorFlow(net, gpm::NonSaturatingLoss{}, torch::optim::AdamOptions(2e-3));
}

/// A discriminator whose logit is a constant c: r_d = sign(c) exactly, and updates change nothing.
struct ConstantCritic {
  double c;
  torch::nn::Linear module{1, 1};
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor&) { return torch::full({x.size(0)}, c, x.options()); }
  gpm::NonSaturatingLoss loss() const { return {}; }
  torch::nn::Linear& net() { return module; }
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor&) { return torch::zeros_like(x); }
  gpm::Stats update(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) { return {}; }
};

gpm::AdaptiveDiffusionOptions options() { return gpm::AdaptiveDiffusionOptions().device(t::device()).seed(5); }

}  // namespace

TEST_CASE("adaptive diffusion: the linear schedule spread over T steps has the source's ᾱ_T", "[flows][diffusion-gan]") {
  // ᾱ_T for β from 1e-4 to 0.02 over T steps, as the source gives them (3 significant digits).
  const auto o = gpm::AdaptiveDiffusionOptions();
  CHECK(o.alpha_bars(10).back() == Approx(0.904).epsilon(1e-3));
  CHECK(o.alpha_bars(100).back() == Approx(0.364).epsilon(3e-3));
  CHECK(o.alpha_bars(1000).back() == Approx(4.0e-5).epsilon(2e-2));
  const auto bars = o.alpha_bars(3);
  REQUIRE(bars.size() == 4);
  CHECK(bars[0] == 1.0);
  CHECK(bars[1] == Approx(1 - 1e-4));
  CHECK(bars[3] == Approx((1 - 1e-4) * (1 - 0.01005) * (1 - 0.02)));
  CHECK(o.steps_at(0) == 10);
  CHECK(o.steps_at(1) == 1000);
  CHECK(o.steps_at(0.5) == 505);
}

TEST_CASE("adaptive diffusion: steps are clean with probability clean_fraction, else uniform or priority over 1..T",
          "[flows][diffusion-gan]") {
  const int64_t n = 200000;
  for (const auto law : {gpm::DiffusionStepLaw::uniform, gpm::DiffusionStepLaw::priority}) {
    gpm::AdaptiveDiffusion d(time_critic_flow(), options().step_law(law).clean_fraction(0.4));
    REQUIRE(d.diffusion_steps() == 10);
    const auto counts = torch::bincount(d.draw_steps(n, torch::empty({0})).cpu(), {}, 11).to(torch::kDouble);
    for (int64_t s = 0; s <= 10; ++s) {
      const double p = s == 0 ? 0.4 : 0.6 * (law == gpm::DiffusionStepLaw::uniform ? 0.1 : 2.0 * s / 110.0);
      const double standard_error = std::sqrt(p * (1 - p) / n);
      CAPTURE(gpm::option_name(law), s, p);
      CHECK(std::abs(counts[s].item<double>() / n - p) < 5 * standard_error);
    }
  }
}

TEST_CASE("adaptive diffusion: the field is the wrapped field through the diffusion, times √ᾱ_t; clean inputs stay exact",
          "[flows][diffusion-gan]") {
  const auto o = t::options<double>();
  auto flow = time_critic_flow();
  flow.net()->to(torch::kFloat64);
  gpm::AdaptiveDiffusion d(std::move(flow), options().initial_level(0.3).clean_fraction(0.3));
  REQUIRE(d.diffusion_steps() == 307);
  auto gen = t::generator(1);
  const auto x = torch::randn({64, 2}, gen, o), times = torch::zeros({64}, o);
  const auto state = d.generator().get_state();
  const auto v = d.velocity(x, times);
  // The same draws again, differentiated by autograd through y = √ᾱ x + √(1 − ᾱ) σ ε.
  d.generator().set_state(state);
  const auto steps = d.draw_steps(64, x);
  const auto input = x.clone().requires_grad_(true);
  const gpm::Diffused y = d.diffuse(input, steps);
  const auto cost = gpm::NonSaturatingLoss{}.generator_loss(d.flow().logits(y.y, y.time)).sum();
  const auto expected = -torch::autograd::grad({cost}, {input})[0];
  CHECK(t::max_abs(v - expected) < 1e-12);
  const auto clean = steps.eq(0);
  REQUIRE(clean.any().item<bool>());
  REQUIRE((~clean).any().item<bool>());
  CHECK(torch::equal(y.y.detach().index({clean}), x.index({clean})));
  CHECK(torch::equal(y.time.index({clean}), torch::zeros_like(y.time.index({clean}))));
  CHECK(t::max_abs(y.time - steps.to(torch::kFloat64) / 1000) == 0);
  CHECK(t::max_abs(y.signal_scale.index({~clean}) - 1) > 1e-4);
}

TEST_CASE("adaptive diffusion with every input clean is the wrapped flow, update for update", "[flows][diffusion-gan]") {
  const auto o = t::options<float>();
  auto plain = time_critic_flow();
  gpm::AdaptiveDiffusion d(time_critic_flow(), options().clean_fraction(1));
  auto gen = t::generator(2);
  for (int i = 0; i < 5; ++i) {
    const auto real = torch::randn({32, 2}, gen, o) + 1, fake = torch::randn({32, 2}, gen, o);
    const auto times = torch::zeros({32}, o);
    const auto a = plain.update(real, fake, times), b = d.update(real, fake, times);
    CHECK(torch::equal(a.at("discriminator_loss"), b.at("discriminator_loss")));
  }
  const auto x = torch::randn({16, 2}, gen, o), times = torch::zeros({16}, o);
  CHECK(torch::equal(plain.velocity(x, times), d.velocity(x, times)));
  CHECK(torch::equal(plain.logits(x, times), d.logits(x, times)));
}

TEST_CASE("adaptive diffusion: T follows the sign of r_d − target, by the data seen over adapt_samples, within its bounds",
          "[flows][diffusion-gan]") {
  const auto o = t::options<float>();
  const auto real = torch::zeros({10, 2}, o), times = torch::zeros({10}, o);
  const auto opts = options().adapt_every(2).adapt_samples(200).target(0.6);
  // Confident on every real sample (r_d = 1 > 0.6): p rises by 20/200 per adaptation.
  gpm::AdaptiveDiffusion rising(ConstantCritic{1.0}, opts);
  for (int i = 0; i < 6; ++i) rising.update(real, real, times);
  CHECK(rising.level() == Approx(0.3));
  CHECK(rising.diffusion_steps() == 307);
  for (int i = 0; i < 100; ++i) rising.update(real, real, times);
  CHECK(rising.level() == 1.0);
  CHECK(rising.diffusion_steps() == 1000);
  // Unsure (r_d = −1): p falls, and stops at 0.
  gpm::AdaptiveDiffusion falling(ConstantCritic{-1.0}, gpm::AdaptiveDiffusionOptions(opts).initial_level(0.5));
  REQUIRE(falling.diffusion_steps() == 505);
  for (int i = 0; i < 4; ++i) falling.update(real, real, times);
  CHECK(falling.level() == Approx(0.3));
  for (int i = 0; i < 100; ++i) falling.update(real, real, times);
  CHECK(falling.level() == 0.0);
  CHECK(falling.diffusion_steps() == 10);
  // Between adaptations T stays.
  gpm::AdaptiveDiffusion once(ConstantCritic{1.0}, opts);
  CHECK(once.update(real, real, times).at("diffusion_steps").item<double>() == 10);
  CHECK(once.diffusion_steps() == 10);
}

TEST_CASE("adaptive diffusion: T rises while a discriminator overfits its data, and falls when it cannot tell them apart",
          "[flows][diffusion-gan]") {
  const auto o = t::options<float>();
  auto gen = t::generator(7);
  const auto opts = options().adapt_samples(20000);
  // Eight data points, seen again at every update, against fresh particles: the discriminator learns
  // them by heart, r_d rises above the target, and so does T.
  const auto memorised = torch::randn({8, 2}, gen, o);
  const auto real = memorised.repeat({8, 1}), times = torch::zeros({64}, o);
  gpm::AdaptiveDiffusion overfit(time_critic_flow(), opts);
  for (int i = 0; i < 400; ++i) overfit.update(real, torch::randn({64, 2}, gen, o) * 2, times);
  CHECK(overfit.diffusion_steps() > 200);
  // Data and particles from one law: no discriminator beats chance, r_d stays near 0, and T falls.
  gpm::AdaptiveDiffusion fair(time_critic_flow(), gpm::AdaptiveDiffusionOptions(opts).initial_level(0.5));
  for (int i = 0; i < 400; ++i) fair.update(torch::randn({64, 2}, gen, o), torch::randn({64, 2}, gen, o), times);
  CHECK(fair.diffusion_steps() < 100);
}

TEST_CASE("adaptive diffusion: a checkpoint restores the level, the statistics and the stream; bad options are refused",
          "[flows][diffusion-gan][errors]") {
  const auto o = t::options<float>();
  auto gen = t::generator(3);
  const auto opts = options().adapt_every(3).adapt_samples(500);
  gpm::AdaptiveDiffusion a(time_critic_flow(), opts);
  const auto memorised = torch::randn({32, 2}, gen, o), times = torch::zeros({32}, o);
  for (int i = 0; i < 20; ++i) a.update(memorised, torch::randn({32, 2}, gen, o) * 3, times);  // mid-interval
  gpm::AdaptiveDiffusion b(time_critic_flow(9), opts);
  t::round_trip(a, b);
  CHECK(b.level() == a.level());
  CHECK(b.updates() == 20);
  for (int i = 0; i < 10; ++i) {
    const auto fake = torch::randn({32, 2}, gen, o) * 3;
    const auto sa = a.update(memorised, fake, times), sb = b.update(memorised, fake, times);
    CHECK(torch::equal(sa.at("discriminator_loss"), sb.at("discriminator_loss")));
    CHECK(a.level() == b.level());
  }
  CHECK(a.level() > 0);

  CHECK_THROWS_WITH(gpm::AdaptiveDiffusion(time_critic_flow(), options().min_steps(50).max_steps(20)),
                    Contains("1 <= min_steps <= max_steps"));
  CHECK_THROWS_WITH(gpm::AdaptiveDiffusion(time_critic_flow(), options().beta_start(0.1).beta_end(0.01)),
                    Contains("beta_start <= beta_end"));
  CHECK_THROWS_WITH(a.update(memorised, torch::randn({16, 2}, gen, o), torch::zeros({16}, o)),
                    Contains("same size"));
}

TEST_CASE("Diffusion-GAN: the GAN of its options with a time-conditioned discriminator, trained through the diffusion",
          "[models][diffusion-gan]") {
  auto gan_options = gpm::GanOptions().latent_dim(4).discriminator_steps(1);
  gan_options.generator().width(16).depth(2);
  gan_options.discriminator().width(16).depth(2);
  auto model = gpm::make_diffusion_gan(2, gpm::DiffusionGanOptions().gan(gan_options).seed(4).device(t::device()));
  auto gan = gpm::make_gan(2, gpm::GanOptions(gan_options).seed(4).device(t::device()));
  // The GAN's generator; its discriminator MLP, on the input and the time's embedding.
  const auto& a = model.dynamics().net()->parameters();
  const auto& b = gan.dynamics().net()->parameters();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].sizes() == b[i].sizes());
  const auto& time_mlp = model.flow().net()->options();
  CHECK(time_mlp.mlp().width() == 16);
  CHECK(time_mlp.mlp().depth() == 2);
  CHECK(time_mlp.in() == 2);
  auto gen = t::generator(5);
  for (int i = 0; i < 8; ++i) {
    const auto stats = model.train_step(torch::randn({32, 2}, gen, t::options<float>()));
    CHECK(stats.count("diffusion_steps") == 1);
    CHECK(stats.count("generator_grad_norm") == 1);
  }
  const auto samples = model.sample(100);
  CHECK(samples.sizes() == torch::IntArrayRef({100, 2}));
  CHECK(torch::isfinite(samples).all().item<bool>());
}
