// Latent optimisation (LOGAN): the latent step against a closed form, the module's parameters and
// modes, the GAN it becomes as the step vanishes, and the model's checkpoints.
#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

gpm::GanOptions logan_gan_options() {
  auto o = gpm::GanOptions().latent_dim(4).discriminator_steps(1).weight_average(0.9);
  o.generator().width(16).depth(2);
  o.discriminator().width(16).depth(2);
  o.generator_optimizer().lr(5e-3);
  o.discriminator_optimizer().lr(5e-3);
  return o;
}

}  // namespace

TEST_CASE("latent optimisation: for a linear generator and logit, Δz = α Wᵀa / (β + ‖Wᵀa‖²), or α Wᵀa; none in eval mode",
          "[generators][logan]") {
  const auto o = t::options<double>();
  torch::nn::Linear linear(torch::nn::LinearOptions(3, 2).bias(false));
  linear->to(t::device(), torch::kFloat64);
  const auto W = linear->weight.detach().clone();
  const auto a = torch::tensor({0.7, -1.3}, o);
  const gpm::Logit logit = [a](const torch::Tensor& x) { return x.matmul(a); };
  auto gen = t::generator(2);
  const auto z = torch::randn({5, 3}, gen, o);
  const auto g = W.t().matmul(a);  // the same gradient for every latent
  for (const bool natural : {true, false}) {
    CAPTURE(natural);
    const auto options = gpm::LatentOptimisationOptions().step_size(0.4).damping(2.0).natural_gradient(natural);
    gpm::LatentOptimised<torch::nn::Linear> net(linear, logit, options);
    const auto dz = natural ? 0.4 * g / (2.0 + g.dot(g)) : 0.4 * g;
    net->train();
    CHECK(t::max_abs(net->forward(z) - (z + dz).matmul(W.t())) < 1e-12);
    CHECK(!linear->weight.grad().defined());  // the latent step trains nothing
    net->eval();
    CHECK(torch::equal(net->forward(z), linear->forward(z)));
    CHECK(net->parameters().size() == linear->parameters().size());  // the logit's network is not its own
  }
  CHECK_THROWS_WITH(gpm::LatentOptimised<torch::nn::Linear>(linear, gpm::Logit{}), Contains("logit is empty"));
  gpm::LatentOptimised<torch::nn::Linear> bad(linear, [](const torch::Tensor& x) { return x; });
  CHECK_THROWS_WITH(bad->forward(z), Contains("one per sample"));
}

TEST_CASE("LOGAN: the step moves latents towards larger logits, vanishes into the GAN, and checkpoints resume exactly",
          "[models][logan]") {
  const auto o = t::options<float>();
  auto gen = t::generator(5);
  std::vector<torch::Tensor> batches;
  for (int i = 0; i < 12; ++i) batches.push_back(torch::randn({32, 2}, gen, o) * 0.5 + 1);
  const auto make = [](double step) {
    return gpm::make_logan_gan(2, gpm::LoganGanOptions().gan(logan_gan_options()).seed(3).device(t::device())
                                      .latent_optimisation(gpm::LatentOptimisationOptions().step_size(step)));
  };
  // A vanishing step: z + Δz == z in floating point, so LOGAN is the GAN, sample for sample.
  auto vanishing = make(1e-30);
  auto gan = gpm::make_gan(2, gpm::GanOptions(logan_gan_options()).seed(3).device(t::device()));
  for (const auto& b : batches) {
    vanishing.train_step(b);
    gan.train_step(b);
  }
  CHECK(torch::equal(vanishing.sample(64), gan.sample(64)));

  auto logan = make(0.9);
  for (const auto& b : batches) logan.train_step(b);
  CHECK(!torch::equal(logan.sample(64), gan.sample(64)));
  // Gradient ascent with a small step raises the logit of the generated samples.
  auto& net = logan.dynamics().net();
  const auto z = torch::randn({256, 4}, gen, o);
  torch::Tensor before, after;
  {
    auto ascent = gpm::LatentOptimised<gpm::nn::Mlp>(
        net->generator, [d = logan.flow().net()](const torch::Tensor& x) mutable { return d->forward(x); },
        gpm::LatentOptimisationOptions().natural_gradient(false).step_size(1e-2));
    torch::NoGradGuard no_grad;
    before = logan.flow().logits(net->generator->forward(z), torch::zeros({256}, o));
    after = logan.flow().logits(net->generator->forward(ascent->optimised(z)), torch::zeros({256}, o));
  }
  CHECK((after > before).to(torch::kDouble).mean().item<double>() > 0.95);

  // Saved after 12 steps and loaded into a fresh model, it continues as the original.
  auto copy = make(0.9);
  t::round_trip(logan, copy);
  for (int i = 0; i < 3; ++i) {
    const auto b = torch::randn({32, 2}, gen, o);
    const auto sa = logan.train_step(b), sb = copy.train_step(b);
    CHECK(torch::equal(sa.at("discriminator_loss"), sb.at("discriminator_loss")));
  }
  logan.seed(8);
  copy.seed(8);
  CHECK(torch::equal(logan.sample(64), copy.sample(64)));
}
