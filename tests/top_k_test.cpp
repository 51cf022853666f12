// Top-k generator steps: the k particles with the largest logits keep the field times B/k, the
// others get 0; k follows max(γᵉ, ν) B over epochs of evaluations; the count is checkpointed.
#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

auto critic_flow() {
  const gpm::ScopedGlobalSeed init(3);
  gpm::nn::Mlp net(gpm::nn::MlpOptions(2, 1).width(16).depth(2));
  net->to(t::device());
  return gpm::DiscriminatorFlow(net, gpm::NonSaturatingLoss{}, torch::optim::AdamOptions(1e-3));
}

}  // namespace

TEST_CASE("top-k keeps the field of the k most realistic particles, times B/k, and zeroes the others",
          "[flows][top-k]") {
  const auto o = t::options<double>();
  auto gen = t::generator(4);
  const auto x = torch::randn({10, 2}, gen, o), times = torch::zeros({10}, o);
  auto plain = critic_flow();
  plain.net()->to(torch::kFloat64);
  gpm::TopK top(critic_flow(), gpm::TopKOptions().decay(0.5).min_fraction(0.3).epoch_evaluations(1));
  top.flow().net()->to(torch::kFloat64);
  const auto v = plain.velocity(x, times);
  const auto logits = plain.logits(x, times).detach();
  // Evaluation 0: every particle (γ⁰ = 1); evaluation 1: k = 5 of 10, each kept field doubled.
  CHECK(top.kept(10) == 10);
  CHECK(torch::equal(top.velocity(x, times), v));
  CHECK(top.kept(10) == 5);
  const auto kept = top.velocity(x, times);
  const auto order = std::get<1>(logits.sort(/*dim=*/0, /*descending=*/true));
  for (int64_t rank = 0; rank < 10; ++rank) {
    const auto i = order[rank].item<int64_t>();
    CAPTURE(rank);
    if (rank < 5)
      CHECK(t::max_abs(kept[i] - 2.0 * v[i]) < 1e-12);
    else
      CHECK(t::max_abs(kept[i]) == 0.0);
  }
  // Then the floor ν = 0.3: 0.25 of 10 rounds below it.
  CHECK(top.kept(10) == 3);
  CHECK(top.evaluations() == 2);
}

TEST_CASE("top-k: the kept fraction anneals by epochs to its floor, survives a checkpoint, and bad options are refused",
          "[flows][top-k][errors]") {
  const auto options = gpm::TopKOptions().decay(0.9).min_fraction(0.3).epoch_evaluations(2);
  CHECK(options.fraction_after(0) == 1.0);
  CHECK(options.fraction_after(1) == 1.0);
  CHECK(options.fraction_after(2) == Approx(0.9));
  CHECK(options.fraction_after(5) == Approx(0.81));
  CHECK(options.fraction_after(1000) == Approx(0.3));
  const auto o = t::options<float>();
  const auto x = torch::randn({100, 2}, o), times = torch::zeros({100}, o);
  gpm::TopK top(critic_flow(), options);
  for (int i = 0; i < 5; ++i) top.velocity(x, times);
  CHECK(top.kept(100) == 81);  // 5 evaluations: epoch 2, round(0.9² · 100)
  gpm::TopK restored(critic_flow(), options);
  t::round_trip(top, restored);
  CHECK(restored.evaluations() == 5);
  CHECK(restored.kept(100) == top.kept(100));

  REQUIRE_THROWS_WITH(gpm::TopK(critic_flow(), gpm::TopKOptions().min_fraction(0)), Contains("min_fraction must be in (0, 1]"));
  REQUIRE_THROWS_WITH(gpm::TopK(critic_flow(), gpm::TopKOptions().decay(0)), Contains("decay must be in (0, 1]"));
}

TEST_CASE("a GAN with top-k steps at fraction 1 is the GAN", "[models][top-k]") {
  const auto gan_options = gpm::GanOptions()
                               .latent_dim(4)
                               .generator(gpm::nn::MlpOptions().width(16).depth(2))
                               .discriminator(gpm::nn::MlpOptions().width(16).depth(2))
                               .seed(7)
                               .device(t::device());
  auto gan = gpm::make_gan(2, gan_options);
  auto all = gpm::make_top_k_gan(2, gpm::TopKGanOptions().top_k(gpm::TopKOptions().decay(1).min_fraction(1)).gan(gan_options).seed(7).device(t::device()));
  auto half = gpm::make_top_k_gan(2, gpm::TopKGanOptions().top_k(gpm::TopKOptions().min_fraction(0.5).decay(0.5).epoch_evaluations(1)).gan(gan_options).seed(7).device(t::device()));
  auto gen = t::generator(1);
  for (int step = 0; step < 10; ++step) {
    const auto batch = torch::randn({32, 2}, gen, t::options<float>()) + 2.0;
    gan.train_step(batch);
    all.train_step(batch);
    half.train_step(batch);
  }
  CHECK(half.flow().evaluations() == 5);  // two discriminator steps per generator step
  gan.seed(5);
  all.seed(5);
  half.seed(5);
  const auto plain = gan.sample(64);
  CHECK(torch::equal(all.sample(64), plain));
  CHECK_FALSE(torch::equal(half.sample(64), plain));
}
