// Refinements: particle models started from a generator's samples.
#include <cstdio>

#include "gpm/gpm.hpp"
#include "support/small_models.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

// Recorded outputs are CPU values: random streams differ between devices.
const auto cpu = torch::TensorOptions().dtype(torch::kFloat32).device(torch::kCPU);

// `x` equals the recorded particles to float precision; with none recorded, prints them.
void check_recorded(const torch::Tensor& x, const std::vector<double>& recorded) {
  const auto flat = x.to(torch::kFloat64).flatten();
  if (recorded.empty()) {
    std::printf("{");
    for (int64_t i = 0; i < flat.size(0); ++i) std::printf("%s%.9g", i ? ", " : "", flat[i].item<double>());
    std::printf("}\n");
    FAIL_CHECK("no recorded values");
    return;
  }
  REQUIRE(flat.size(0) == static_cast<int64_t>(recorded.size()));
  CHECK(t::max_abs(flat - torch::tensor(recorded, torch::kFloat64)) < 1e-6);
}

// A time-dependent nonlinear field, v(x, t) = ∇ₓ h([x, t]) for a small fixed network h.
auto network_flow() {
  torch::manual_seed(11);
  torch::nn::Sequential net(torch::nn::Linear(3, 16), torch::nn::Tanh(), torch::nn::Linear(16, 1));
  return gpm::PotentialFlow([net](const torch::Tensor& x, const torch::Tensor& time) mutable {
    return net->forward(torch::cat({x, time.unsqueeze(1).to(x.dtype())}, 1)).squeeze(1);
  });
}

// A two-mode mixture's exact denoiser that declares the noise range [0.01, 0.7], as a trained one does.
struct RangedDenoiser {
  gpm::GaussianMixtureDenoiser mixture{torch::tensor({{1.0, 0.0}, {-1.0, 0.5}}, cpu), 0.2};
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma) const { return mixture(x, sigma); }
  double sigma_min() const { return 0.01; }
  double sigma_max() const { return 0.7; }
};

// The shape of a Score GAN's flow as sample_refined sees it: flow().data_denoiser().
struct DenoiserDrivenFlow {
  RangedDenoiser denoiser;
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& time) { return denoiser(x, time + 0.1) - x; }
  DenoiserDrivenFlow& flow() { return *this; }
  const RangedDenoiser& data_denoiser() const { return denoiser; }
};

template <gpm::Flow F>
auto make_generator_model(F flow) {
  torch::manual_seed(5);
  torch::nn::Sequential net(torch::nn::Linear(3, 2));
  return gpm::InteractingParticleModel(
      gpm::Generator<torch::nn::Sequential, torch::optim::SGD>(net, gpm::GaussianPrior(gpm::GaussianPriorOptions({3})),
                                                               torch::optim::SGDOptions(0.1)),
      std::move(flow), gpm::InteractingParticleModelOptions().seed(7));
}

}  // namespace

TEST_CASE("refinements give the particles they gave for the same seeds", "[models][refine]") {
  const auto x = torch::randn({6, 2}, gpm::make_generator(2, torch::kCPU), cpu);
  SECTION("refine") {
    auto flow = network_flow();
    auto gen = gpm::make_generator(3, torch::kCPU);
    const auto options = gpm::RefinementOptions().steps(5).time(1.5);
    check_recorded(gpm::refine(flow, x, options, gen),
                   {0.360220641, 0.0414482914, -0.357649267, -1.01002491, 1.01071584, -0.379257739, 0.543479204, 0.81603539, -0.427859426, -0.835984766, 1.28991747, 1.0122869});
    check_recorded(gpm::refine(flow, x, options, gen, 2),
                   {0.375518203, -0.123064607, -0.332785189, -1.11614299, 1.02835894, -0.533804536, 0.555619538, 0.636640906, -0.405003697, -0.950510979, 1.30326807, 0.837828755});
  }
  SECTION("sample_refined by the model's flow") {
    auto model = make_generator_model(network_flow());
    check_recorded(gpm::sample_refined(model, 6, gpm::RefinementOptions().steps(4).time(1.0)),
                   {0.00972869992, -0.528070092, -0.253519803, 0.0771630704, -0.0995759815, 0.854075551, -0.254510671, -0.750533879, -2.08249259, 0.585041642, -0.815883756, -0.230343685});
  }
  SECTION("denoise_refine") {
    const auto options = gpm::DenoisingRefinementOptions().steps(5).sigma(1.0);
    auto gen = gpm::make_generator(3, torch::kCPU);
    check_recorded(gpm::denoise_refine(RangedDenoiser{}, x, options, gen),
                   {0.985761881, -0.0305643901, 0.607020676, -0.492741972, 1.02321231, -0.482430249, 0.939545393, 0.379318446, -1.12002134, 0.239625216, 1.20727575, 0.489513308});
    check_recorded(gpm::denoise_refine(RangedDenoiser{}, x, options, gen, 3),
                   {-0.729820967, 0.334363103, 0.677524805, -0.388156861, 1.21403825, -0.0192238223, 0.974325418, 0.131798595, -0.953375757, -0.206943005, 1.26007104, 0.282639802});
  }
  SECTION("sample_refined by the model's data denoiser") {
    auto model = make_generator_model(DenoiserDrivenFlow{});
    check_recorded(gpm::sample_refined(model, 6, gpm::DenoisingRefinementOptions().steps(4).sigma(0.5)),
                   {0.688713849, -0.320473611, 0.959438801, -0.0599355139, 0.747654557, 0.0566028394, -0.832059741, 0.327418, -1.51798344, -0.040100839, -0.849526644, 0.0240596533});
  }
}

namespace {

// v(x, t) = −(1 + t) x: x(T) = x(0) exp(−(T + T²/2)).
struct ShrinkingFlow {
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& time) {
    return -(1.0 + time.unsqueeze(1).to(x.dtype())) * x;
  }
};

// The Euler and Heun steps written out, on the grid `times`, for the first `steps` steps.
torch::Tensor euler_loop(ShrinkingFlow& flow, torch::Tensor x, const std::vector<double>& times, int64_t steps) {
  for (int64_t k = 0; k < steps; ++k) {
    const double t0 = times[static_cast<size_t>(k)], h = times[static_cast<size_t>(k + 1)] - t0;
    x = x + h * flow.velocity(x, torch::full({x.size(0)}, t0, x.options()));
  }
  return x;
}
template <class Flow>
torch::Tensor heun_loop(Flow& flow, torch::Tensor x, const std::vector<double>& times, int64_t steps) {
  for (int64_t k = 0; k < steps; ++k) {
    const double t0 = times[static_cast<size_t>(k)], t1 = times[static_cast<size_t>(k + 1)], h = t1 - t0;
    const auto v0 = flow.velocity(x, torch::full({x.size(0)}, t0, x.options()));
    const auto predicted = x + h * v0;
    x = t1 == 0.0 ? predicted : x + 0.5 * h * (v0 + flow.velocity(predicted, torch::full({x.size(0)}, t1, x.options())));
  }
  return x;
}

// v = net(x), with a weight average still at the net's initial weights while the live ones moved.
struct AveragingFlow {
  AveragingFlow() : net(torch::nn::Linear(2, 2)), average(*net, 0.9) {
    torch::NoGradGuard no_grad;
    initial = net->weight.clone();
    net->weight.add_(1.0);
  }
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor&) { return net->forward(x); }
  gpm::AveragedWeights averaged_weights() { return gpm::AveragedWeights(&average, *net); }
  torch::nn::Linear net;
  gpm::WeightAverage average;
  torch::Tensor initial;
};

// A trainable flow v = −x that keeps the particles it was trained on.
struct RefinementRecordingFlow {
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor&) { return -x; }
  gpm::Stats update(const torch::Tensor&, const torch::Tensor& fake, const torch::Tensor& time) {
    last_fake = fake, last_t = time;
    return {};
  }
  torch::Tensor last_fake, last_t;
};

}  // namespace

TEMPLATE_TEST_CASE("refine is the Euler or Heun loop over the uniform grid", "[models][refine][numeric]", float, double) {
  const auto o = t::options<TestType>();
  ShrinkingFlow flow;
  const auto x = torch::randn({16, 2}, t::generator(2), o);
  auto gen = t::generator(3);
  const auto options = gpm::RefinementOptions().steps(8).time(1.5);
  const auto times = gpm::UniformGrid(gpm::UniformGridOptions(8).end(1.5)).times();
  const auto euler = gpm::refine(flow, x, options, gen);
  CHECK(t::max_abs(euler - euler_loop(flow, x, times, 8)) < t::eps<TestType>());
  const auto heun = gpm::refine(flow, x, gpm::RefinementOptions(options).integrator(gpm::RefinementIntegrator::heun), gen);
  CHECK(t::max_abs(heun - heun_loop(flow, x, times, 8)) < t::eps<TestType>());
  CHECK(t::max_abs(gpm::refine(flow, x, gpm::RefinementOptions(options).integrator(gpm::RefinementIntegrator::heun), gen, 3) -
                   heun_loop(flow, x, times, 3)) < t::eps<TestType>());
  // Against the exact solution: twice the steps, about half Euler's error and a quarter of Heun's.
  const auto exact = x * std::exp(-(1.5 + 1.5 * 1.5 / 2));
  const auto twice = gpm::RefinementOptions(options).steps(16);
  const auto error = [&](const gpm::RefinementOptions& o) { return t::max_abs(gpm::refine(flow, x, o, gen) - exact); };
  CHECK(error(twice) < 0.6 * t::max_abs(euler - exact));
  CHECK(error(gpm::RefinementOptions(twice).integrator(gpm::RefinementIntegrator::heun)) < 0.3 * t::max_abs(heun - exact));
  CHECK(t::max_abs(heun - exact) < 0.3 * t::max_abs(euler - exact));
}

TEST_CASE("denoise_refine is the noise, then the Heun or Euler loop over the clamped Karras grid", "[models][refine][numeric]") {
  const auto o = t::options<double>();
  const gpm::GaussianMixtureDenoiser mixture(torch::tensor({{1.0, 0.0}, {-1.0, 0.5}}, o), 0.2);
  const auto x = torch::randn({16, 2}, t::generator(2), o);
  const auto options = gpm::DenoisingRefinementOptions().steps(6).sigma(0.8);
  const auto times = gpm::KarrasGrid(gpm::KarrasGridOptions(6).sigma_max(0.8)).times();
  auto noise_gen = t::generator(3);
  const auto noised = x + 0.8 * torch::randn(x.sizes(), noise_gen, o);
  gpm::ScoreFlow flow(mixture);
  auto gen = t::generator(3);
  CHECK(t::max_abs(gpm::denoise_refine(mixture, x, options, gen) - heun_loop(flow, noised, times, 6)) < 1e-12);
  gen = t::generator(3);
  CHECK(t::max_abs(gpm::denoise_refine(mixture, x, options, gen, 4) - heun_loop(flow, noised, times, 4)) < 1e-12);
  gen = t::generator(3);
  const auto euler = gpm::denoise_refine(mixture, x, gpm::DenoisingRefinementOptions(options).integrator(gpm::RefinementIntegrator::euler), gen);
  auto euler_expected = noised;
  for (int64_t k = 0; k < 6; ++k) {
    const double s0 = times[static_cast<size_t>(k)], s1 = times[static_cast<size_t>(k + 1)];
    euler_expected = euler_expected + (s1 - s0) * flow.velocity(euler_expected, torch::full({16}, s0, o));
  }
  CHECK(t::max_abs(euler - euler_expected) < 1e-12);
}

TEST_CASE("a particle model started from a generator's samples is the refinement", "[models][refine]") {
  SECTION("by the generator's own field") {
    auto a = make_generator_model(network_flow()), b = make_generator_model(network_flow());
    gpm::ParticleModel refined(gpm::BorrowedFlow(b.flow()), gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(4).end(1.0)),
                               gpm::SamplerPrior([&b](int64_t n) { return b.sample(n); }));
    const auto options = gpm::RefinementOptions().steps(4).time(1.0);
    CHECK(torch::equal(refined.sample(6), gpm::sample_refined(a, 6, options)));
    CHECK(torch::equal(refined.sample(6, 2), gpm::sample_refined(a, 6, options, 2)));
  }
  SECTION("by a data denoiser, from the generator's samples noised") {
    auto a = make_generator_model(DenoiserDrivenFlow{}), b = make_generator_model(DenoiserDrivenFlow{});
    const RangedDenoiser denoiser;
    gpm::ParticleModel refined{gpm::ScoreFlow(denoiser), gpm::Heun{},
                               gpm::KarrasGrid(gpm::clamp_to(gpm::KarrasGridOptions(4).sigma_max(0.5), denoiser)),
                               gpm::NoisedPrior(gpm::SamplerPrior([&b](int64_t n) { return b.sample(n); }), 0.5)};
    refined.generator() = b.generator();  // the noise, too, from the generator model's stream
    const auto expected = gpm::sample_refined(a, 6, gpm::DenoisingRefinementOptions().steps(4).sigma(0.5));
    CHECK(torch::equal(refined.sample(6), expected));
  }
}

TEST_CASE("a particle model trains from the samples its prior draws from another model", "[models][refine]") {
  auto generator_model = make_generator_model(ShrinkingFlow{});
  auto copy = make_generator_model(ShrinkingFlow{});
  gpm::ParticleModel model(RefinementRecordingFlow{}, gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(4)),
                           gpm::SamplerPrior([&generator_model](int64_t n) { return generator_model.sample(n); }));
  model.train_step(torch::zeros({32, 2}));
  // Each fake particle is the generator's sample after k Euler steps of v = −x: x_0 (3/4)^k at t = k/4.
  const auto start = copy.sample(32);
  const auto k = model.flow().last_t * 4;
  const auto expected = start * torch::pow(0.75, k).unsqueeze(1);
  CHECK(t::max_abs(model.flow().last_fake - expected) < 1e-6);
  CHECK(k.max().item<double>() > 0);
}

TEST_CASE("a borrowed flow is sampled with its averaged weights", "[models][refine]") {
  AveragingFlow flow;
  const auto x = torch::randn({8, 2}, t::generator(2)).to(torch::kCPU);
  auto gen = gpm::make_generator(3, torch::kCPU);
  const auto refined = gpm::refine(flow, x, gpm::RefinementOptions().steps(3).time(0.3), gen);
  torch::nn::Linear initial(2, 2);
  {
    torch::NoGradGuard no_grad;
    initial->weight.copy_(flow.initial);
    initial->bias.copy_(flow.net->bias);
  }
  auto expected = x;
  for (int k = 0; k < 3; ++k) expected = expected + 0.1 * initial->forward(expected).detach();
  CHECK(t::max_abs(refined - expected) < 1e-6);
  CHECK(torch::equal(flow.net->weight, flow.initial + 1.0));  // the live weights are back
}

TEST_CASE("generator priors check what they are given", "[models][refine]") {
  auto gen = gpm::make_generator(1, torch::kCPU);
  const gpm::SamplerPrior wrong_count([](int64_t) { return torch::zeros({3, 2}); });
  REQUIRE_THROWS_WITH(wrong_count.sample(4, cpu, gen), Contains("SamplerPrior::sample: asked for 4 particles, the sampler returned 3"));
  const gpm::SamplerPrior flat([](int64_t n) { return torch::zeros({n}); });
  REQUIRE_THROWS_WITH(flat.sample(4, cpu, gen), Contains("has shape [4]"));
  REQUIRE_THROWS_WITH(gpm::NoisedPrior(flat, -1.0), Contains("NoisedPrior: sigma must be finite and >= 0, got -1"));
  const gpm::SamplerPrior doubles([](int64_t n) { return torch::ones({n, 2}, torch::kFloat64); });
  CHECK(doubles.sample(4, cpu, gen).dtype() == torch::kFloat32);
}

TEST_CASE("a refinement's integrator is named in its options", "[models][refine]") {
  const auto heun = gpm::io::read_options(nlohmann::json{{"integrator", "heun"}}, gpm::RefinementOptions(), "--refine flow");
  CHECK(heun.integrator() == gpm::RefinementIntegrator::heun);
  CHECK(gpm::DenoisingRefinementOptions().integrator() == gpm::RefinementIntegrator::heun);
  CHECK(gpm::RefinementOptions().integrator() == gpm::RefinementIntegrator::euler);
  REQUIRE_THROWS_WITH(gpm::io::read_options(nlohmann::json{{"integrator", "rk4"}}, gpm::RefinementOptions(), "--refine flow"),
                      Contains("euler, heun"));
}

TEST_CASE("a Discriminator Flow started from a GAN's samples trains from them", "[models][refine]") {
  const auto gan_options = gpm::test::small_gan(4, 16, 1).seed(3);
  auto gan = gpm::make_gan(2, gan_options), copy = gpm::make_gan(2, gan_options);
  auto df_options = gpm::test::small_discriminator_flow(16, 1, 8).generation_steps(4);
  auto df = gpm::make_discriminator_flow(2, df_options.discriminator(gpm::test::raw_input(df_options.discriminator())));
  // The Discriminator Flow's own flow, stepper and grid; the GAN's samples as its prior.
  gpm::ParticleModel from_gan(std::move(df.flow()), std::move(df.integrator()), df.grid(),
                              gpm::SamplerPrior([&gan](int64_t n) { return gan.sample(n); }));
  CHECK(torch::equal(from_gan.sample(32, 0), copy.sample(32)));
  const auto real = torch::randn({32, 2}, gpm::make_generator(1, torch::kCPU)) + 2.0;
  const auto stats = from_gan.train_step(real);  // simulates the flow from 32 of the GAN's samples
  CHECK(std::isfinite(stats.at("discriminator_loss").item<double>()));
  copy.sample(32);
  CHECK(torch::equal(from_gan.sample(32, 0), copy.sample(32)));
  const auto start = copy.sample(32);
  CHECK(!torch::allclose(from_gan.sample(32), start));  // the same samples, moved by the flow
}
