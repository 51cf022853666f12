// Adversarial score matching: a denoiser step with an extra term descends the denoising loss plus
// that term (its exact gradient, through the step's own noisy inputs); with weight 0 the adversarial
// EDM trains and samples bit for bit as EDM; a checkpoint continues bit for bit, discriminator included.
#include "gpm/gpm.hpp"
#include "support/small_models.hpp"
#include "support/test_support.hpp"

namespace t = gpm::test;

namespace {

gpm::nn::EdmMlpDenoiser asm_test_denoiser() {
  auto net = gpm::make_edm_mlp_denoiser(2, t::small_edm(16, 2, 8).network(), gpm::nn::EdmPreconditioningOptions(), 3,
                                        t::device());
  net->to(torch::kFloat64);
  return net;
}

gpm::AdversarialEdmOptions asm_test_options(double weight, uint64_t seed) {
  return gpm::AdversarialEdmOptions()
      .edm(t::with_lr(t::small_edm(16, 2, 8), 1e-2))
      .discriminator(gpm::nn::MlpOptions().width(16).depth(2))
      .adversarial(gpm::AdversarialDenoisingOptions().weight(weight).optimizer(gpm::AdamOptions().lr(1e-2)))
      .seed(seed)
      .device(t::device());
}

std::vector<torch::Tensor> asm_test_state(gpm::AdversarialEdm& model) {
  std::vector<torch::Tensor> state;
  for (const auto& p : model.flow().net()->parameters()) state.push_back(p.detach().clone());
  for (const auto& p : model.flow().discriminator()->parameters()) state.push_back(p.detach().clone());
  return state;
}

}  // namespace

TEST_CASE("a denoiser step with an extra term descends the denoising loss plus that term", "[flows][asm][numeric]") {
  using Trainer = gpm::DenoiserTrainer<gpm::nn::EdmMlpDenoiser, torch::optim::SGD, gpm::LogNormalSigma>;
  const double lr = 0.1, c = 0.7;
  const auto o = t::options<double>();
  Trainer plain(asm_test_denoiser(), gpm::LogNormalSigma(), torch::optim::SGDOptions(lr), gpm::DenoiserTrainerOptions().seed(5));
  Trainer with_term(asm_test_denoiser(), gpm::LogNormalSigma(), torch::optim::SGDOptions(lr),
                    gpm::DenoiserTrainerOptions().seed(5));
  auto data_gen = t::generator(1);
  const auto y = torch::randn({32, 2}, data_gen, o);
  // The term's gradient at the initial weights, on the noisy inputs the step draws (its stream replayed).
  auto replay = with_term.generator().clone();
  const auto sigma = gpm::LogNormalSigma().sample(32, o, replay);
  const auto noisy = y + gpm::per_particle(sigma, y) * gpm::randn_rows(y.sizes(), replay, o);
  auto reference = asm_test_denoiser();
  const auto grads = torch::autograd::grad({c * reference(noisy, sigma).mean()}, reference->parameters());

  plain.step(y);
  torch::Tensor seen_sigma;
  with_term.step(y, [&](const torch::Tensor& denoised, const torch::Tensor& s) {
    seen_sigma = s;
    return c * denoised.mean();
  });
  CHECK(torch::equal(seen_sigma, sigma));
  // SGD: the two steps differ by −lr times the term's gradient.
  const auto a = with_term.net()->parameters(), b = plain.net()->parameters();
  REQUIRE(a.size() == grads.size());
  double largest = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(t::max_abs(a[i] - b[i] + lr * grads[i]) <= 1e-12 * (1 + t::max_abs(grads[i])));
    largest = std::max(largest, t::max_abs(grads[i]));
  }
  CHECK(largest > 1e-3);  // the term moves the weights: the identity is not 0 = 0
}

TEST_CASE("the adversarial EDM of weight 0 is EDM: its denoiser trains and samples bit for bit", "[models][asm]") {
  auto edm = gpm::make_edm(2, gpm::EdmOptions(asm_test_options(0.0, 4).edm()).seed(4).device(t::device()));
  auto weightless = gpm::make_adversarial_edm(2, asm_test_options(0.0, 4));
  auto weighted = gpm::make_adversarial_edm(2, asm_test_options(0.5, 4));
  auto data_gen = t::generator(2);
  for (int step = 0; step < 3; ++step) {
    const auto batch = torch::randn({32, 2}, data_gen, t::options<float>()) * 2;
    edm.train_step(batch);
    const auto stats = weightless.train_step(batch);
    CHECK(stats.contains("discriminator_loss"));  // the discriminator trains all the same
    CHECK(stats.contains("adversarial_loss"));
    weighted.train_step(batch);
  }
  const auto p = edm.flow().net()->parameters(), q = weightless.flow().net()->parameters(),
             r = weighted.flow().net()->parameters();
  double weighted_moved = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    CHECK(torch::equal(p[i], q[i]));
    weighted_moved = std::max(weighted_moved, t::max_abs(p[i] - r[i]));
  }
  // The adversarial term changes the denoiser's training: by 3.6e-5 after 3 steps here (a discriminator
  // initialised small gives small input gradients), where weight 0 differs by exactly 0.
  CHECK(weighted_moved > 1e-6);
  CHECK(torch::equal(edm.sample(64), weightless.sample(64)));
}

TEST_CASE("an adversarial EDM continues from its checkpoint bit for bit, discriminator included", "[models][asm][checkpoint]") {
  auto trained = gpm::make_adversarial_edm(2, asm_test_options(0.5, 6));
  auto restored = gpm::make_adversarial_edm(2, asm_test_options(0.5, 7));
  auto data_gen = t::generator(3);
  const auto batch = [&] { return torch::randn({32, 2}, data_gen, t::options<float>()) * 2; };
  for (int step = 0; step < 2; ++step) trained.train_step(batch());
  t::round_trip(trained, restored);
  for (int step = 0; step < 2; ++step) {
    const auto b = batch();
    trained.train_step(b);
    restored.train_step(b);
  }
  const auto a = asm_test_state(trained), b = asm_test_state(restored);
  for (size_t i = 0; i < a.size(); ++i) CHECK(torch::equal(a[i], b[i]));
  CHECK(torch::equal(trained.sample(32), restored.sample(32)));
}
