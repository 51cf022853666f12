// The two hosts: ParticleModel (seeding, early stop, trajectories, Algorithm 3) and
// InteractingParticleModel (free particles = PM, NTK displacement, a generator trained by a flow).
#include "gpm/gpm.hpp"
#include "support/small_models.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

auto make_svgd_model(uint64_t seed, torch::Dtype dtype = torch::kFloat32) {
  const auto o = torch::TensorOptions().dtype(dtype).device(t::device());
  return gpm::ParticleModel(gpm::SteinFlow(gpm::GaussianScore(torch::tensor({1.0, -1.0}, o), torch::eye(2, o))),
                            gpm::EulerMaruyama(gpm::ConstantDiffusion(0.1)), gpm::UniformGrid(gpm::UniformGridOptions(10)),
                            gpm::GaussianPrior(gpm::GaussianPriorOptions({2})),
                            gpm::ParticleModelOptions().seed(seed).dtype(dtype).device(t::device()));
}

// A trainable flow that remembers what it was trained on.
struct RecordingFlow {
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor&) { return -x; }
  gpm::Stats update(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t) {
    last_real = real, last_fake = fake, last_t = t;
    return {{"calls", torch::tensor(1.0)}};
  }
  torch::Tensor last_real, last_fake, last_t;
};

// A network F = 0 under EDM's preconditioning that records the noise levels σ = exp(4 c_noise) it sees.
struct NoiseLevelRecorderImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c_noise) {
    sigmas.push_back((4.0 * c_noise).exp());
    return torch::zeros_like(x);
  }
  std::vector<torch::Tensor> sigmas;
};
TORCH_MODULE(NoiseLevelRecorder);

// Latents taken in order from a fixed set, so that batches of different sizes share their first rows.
struct FixedLatents {
  torch::Tensor latents;
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator&) const {
    return latents.slice(0, 0, n).to(options);
  }
};

}  // namespace

TEST_CASE("particle models are deterministic given a seed", "[models][pm]") {
  auto a = make_svgd_model(1), b = make_svgd_model(1), c = make_svgd_model(2);
  const auto xa = a.sample(64);
  REQUIRE(torch::equal(xa, b.sample(64)));
  REQUIRE_FALSE(torch::equal(xa, c.sample(64)));
  a.seed(1);
  REQUIRE(torch::equal(xa, a.sample(64)));
}

TEST_CASE("early stop after k of N steps equals integrating the first k steps", "[models][pm]") {
  auto model = make_svgd_model(3, torch::kFloat64);
  const auto x0 = torch::randn({32, 2}, torch::TensorOptions().dtype(torch::kFloat64).device(t::device()));
  model.seed(5);
  const auto early = model.sample_from(x0, 4);
  auto gen = gpm::make_generator(5, t::device());
  const auto times = model.grid().times();
  const auto expected = gpm::integrate(model.integrator(), model.flow(), x0, times, gen, 4);
  REQUIRE(torch::allclose(early, expected));
  model.seed(5);
  const auto full = model.sample_from(x0);
  model.seed(5);
  REQUIRE(torch::equal(full, model.sample_from(x0, model.steps())));
  REQUIRE_FALSE(torch::allclose(full, early));
  REQUIRE_THROWS_WITH(model.sample_from(x0, 11), Contains("cannot stop after 11 steps of a 10-step grid"));
}

TEST_CASE("trajectories hold every state and velocity and end where sampling ends", "[models][pm]") {
  auto model = make_svgd_model(4);
  const auto tr = model.trajectory(16, 6);
  REQUIRE(tr.states.size() == 7);
  REQUIRE(tr.velocities.size() == 6);
  REQUIRE(tr.times.size() == 7);
  CHECK(tr.times[6] == Approx(0.6));
  CHECK(tr.velocities[0].sizes() == torch::IntArrayRef({16, 2}));
  model.seed(4);
  REQUIRE(torch::equal(tr.states.back(), model.sample(16, 6)));
  // The recorded velocity is the flow's velocity at the recorded state.
  REQUIRE(torch::allclose(tr.velocities[2], model.flow().velocity(tr.states[2], torch::full({16}, 0.2))));
}

TEST_CASE("a particle model trains its flow on states taken at random grid times (Algorithm 3)", "[models][pm]") {
  const auto o = t::options<double>();
  auto make = [&] {
    return gpm::ParticleModel(RecordingFlow{}, gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(8)),
                              gpm::GaussianPrior(gpm::GaussianPriorOptions({2})),
                              gpm::ParticleModelOptions().seed(21).dtype(torch::kFloat64).device(t::device()));
  };
  auto model = make();
  const auto real = torch::randn({256, 2}, o);
  const auto stats = model.train_step(real);
  REQUIRE(stats.count("calls") == 1);
  const auto& flow = model.flow();
  REQUIRE(torch::equal(flow.last_real, real));
  // The same seed replays the simulation: x_0 .. x_7 (t = 0 .. 7/8).
  auto replay = make();
  const auto tr = replay.trajectory(256, 7);
  const auto k = (flow.last_t * 8).round().to(torch::kLong);
  CHECK(t::max_abs(flow.last_t * 8 - k.to(torch::kFloat64)) < 1e-12);
  CHECK(k.min().item<int64_t>() == 0);
  CHECK(k.max().item<int64_t>() == 7);  // the final state x_8 is never used for training
  const auto states = torch::stack(tr.states);
  REQUIRE(torch::equal(flow.last_fake, states.index({k, torch::arange(256, k.options())})));
}

TEMPLATE_TEST_CASE("Int-PM with free particles and SGD at lr = N dt equals Euler steps of the PM (Finding 4)", "[models][intpm][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(8);
  const int64_t n = 50;
  const double dt = 0.3;
  const auto target = torch::randn({80, 2}, gen, o) + 1.5;
  const auto x0 = torch::randn({n, 2}, gen, o);
  // The MMD flow couples the particles, so the identity holds for an interacting field.
  gpm::Generator<gpm::FreeParticles, torch::optim::SGD, gpm::OneHotLatents> free(
      gpm::FreeParticles(x0), gpm::OneHotLatents(n), torch::optim::SGDOptions(static_cast<double>(n) * dt));
  gpm::InteractingParticleModel intpm(std::move(free), gpm::MmdFlow(gpm::RbfKernel()),
                                      gpm::InteractingParticleModelOptions().generator_batch_size(n).device(t::device()));
  gpm::MmdFlow pm_flow(gpm::RbfKernel(), target);
  auto x = x0;
  for (int k = 0; k < 3; ++k) {
    intpm.train_step(target);
    x = gpm::Euler{}.step(pm_flow, x, {0.0, dt, k, 3}, gen);
    CHECK(t::max_abs(intpm.dynamics().net()->positions - x) < 10 * t::eps<TestType>());
  }
  CHECK(t::max_abs(x - x0) > 0.1);  // the particles did move
}

TEST_CASE("a linear generator's SGD step moves its outputs by the NTK displacement", "[models][ntk][numeric]") {
  const auto o = t::options<double>();
  torch::manual_seed(0);
  torch::nn::Linear net(3, 2);
  net->to(t::device(), torch::kFloat64);
  auto gen = t::generator(9);
  const auto z_batch = torch::randn({8, 3}, gen, o), z_test = torch::randn({5, 3}, gen, o);
  gpm::MmdFlow flow(gpm::RbfKernel(), torch::randn({30, 2}, gen, o) + 2.0);
  const double lr = 0.05;
  gpm::Generator<torch::nn::Linear, torch::optim::SGD> g(net, gpm::GaussianPrior(gpm::GaussianPriorOptions({3})),
                                                        torch::optim::SGDOptions(lr));
  torch::Tensor before, v;
  {
    torch::NoGradGuard no_grad;
    before = net->forward(z_test);
    const auto x = net->forward(z_batch);
    v = flow.velocity(x, torch::zeros({8}, o));
  }
  const auto predicted = lr * gpm::ntk_displacement(net, z_test, z_batch, v);
  g.step_on(flow, z_batch);
  torch::NoGradGuard no_grad;
  const auto moved = net->forward(z_test) - before;
  // A linear generator's outputs are linear in θ, so the first-order prediction is exact.
  CHECK(t::max_abs(moved - predicted) < 1e-12);
  CHECK(t::max_abs(moved) > 1e-3);
}

TEST_CASE("a nonlinear generator follows the NTK displacement to first order in the learning rate", "[models][ntk][numeric]") {
  const auto o = t::options<double>();
  auto gen = t::generator(10);
  const auto z_batch = torch::randn({6, 2}, gen, o), z_test = torch::randn({4, 2}, gen, o);
  gpm::MmdFlow flow(gpm::RbfKernel(), torch::randn({30, 2}, gen, o) + 2.0);
  auto relative_error = [&](double lr) {
    torch::manual_seed(1);
    torch::nn::Sequential net(torch::nn::Linear(2, 16), torch::nn::Tanh(), torch::nn::Linear(16, 2));
    net->to(t::device(), torch::kFloat64);
    gpm::Generator<torch::nn::Sequential, torch::optim::SGD> g(net, gpm::GaussianPrior(gpm::GaussianPriorOptions({2})),
                                                              torch::optim::SGDOptions(lr));
    torch::Tensor before, v;
    {
      torch::NoGradGuard no_grad;
      before = net->forward(z_test);
      v = flow.velocity(net->forward(z_batch), torch::zeros({6}, o));
    }
    const auto predicted = lr * gpm::ntk_displacement(net, z_test, z_batch, v);
    g.step_on(flow, z_batch);
    torch::NoGradGuard no_grad;
    return t::max_abs(net->forward(z_test) - before - predicted) / t::max_abs(predicted);
  };
  const double e1 = relative_error(0.02), e2 = relative_error(0.01);
  CHECK(e1 < 0.05);
  // The remainder is second order: halving lr halves the relative error.
  CHECK(e1 / e2 == Approx(2.0).margin(0.3));
}

TEST_CASE("a generator trained by the MMD flow learns a Gaussian (a hybrid Int-PM)", "[models][intpm][numeric]") {
  const auto o = t::options<float>();
  torch::manual_seed(2);
  torch::nn::Sequential net(torch::nn::Linear(4, 64), torch::nn::ReLU(), torch::nn::Linear(64, 2));
  net->to(t::device());
  gpm::InteractingParticleModel model(
      gpm::Generator<torch::nn::Sequential, torch::optim::Adam>(net, gpm::GaussianPrior(gpm::GaussianPriorOptions({4})),
                                                                torch::optim::AdamOptions(5e-3)),
      gpm::MmdFlow(gpm::RbfKernel()), gpm::InteractingParticleModelOptions().seed(3).device(t::device()));
  auto gen = t::generator(11);
  const auto mean = torch::tensor({2.0, -1.0}, o);
  auto data = [&] { return torch::randn({128, 2}, gen, o) * 0.5 + mean; };
  const gpm::RbfKernel kernel;
  const auto reference = data();
  const double start = gpm::squared_mmd_v(kernel, model.sample(512), reference).item<double>();
  for (int step = 0; step < 300; ++step) model.train_step(data());
  const auto x = model.sample(2000);
  const double end = gpm::squared_mmd_v(kernel, x, reference).item<double>();
  CHECK(end < 0.05 * start);
  CHECK(t::max_abs(x.mean(0) - mean) < 0.15);
  CHECK(t::max_abs(x.std(0) - 0.5) < 0.15);
}

TEST_CASE("refine takes K Euler steps of the flow over time T from the given particles", "[models][refine]") {
  RecordingFlow flow;  // v(x) = -x: each Euler step of size h scales x by 1 - h
  const auto x = torch::randn({16, 2}, t::generator(2)).to(t::device());
  auto gen = t::generator(3);
  const auto options = gpm::RefinementOptions().steps(4).time(2.0);
  CHECK(t::max_abs(gpm::refine(flow, x, options, gen) - x * std::pow(0.5, 4)) < 1e-6);
  CHECK(t::max_abs(gpm::refine(flow, x, options, gen, 2) - x * 0.25) < 1e-6);
  CHECK(torch::equal(gpm::refine(flow, x, gpm::RefinementOptions().steps(0), gen), x));
  REQUIRE_THROWS_WITH(gpm::refine(flow, x, options, gen, 5), Contains("cannot stop after 5 steps of a 4-step grid"));
  REQUIRE_THROWS_WITH(gpm::refine(flow, x, gpm::RefinementOptions().steps(-1), gen), Contains("steps must be >= 0"));
  REQUIRE_THROWS_WITH(gpm::refine(flow, x, gpm::RefinementOptions().time(0.0), gen), Contains("time must be finite and > 0"));
  REQUIRE_THROWS_WITH(gpm::refine(flow, torch::zeros({4}), options, gen), Contains("refine: x has shape [4]"));
}

TEST_CASE("sample_refined refines a model's samples by the flow that trains its generator", "[models][refine]") {
  auto make = [] {
    torch::manual_seed(5);
    torch::nn::Sequential net(torch::nn::Linear(3, 2));
    net->to(t::device());
    return gpm::InteractingParticleModel(
        gpm::Generator<torch::nn::Sequential, torch::optim::SGD>(net, gpm::GaussianPrior(gpm::GaussianPriorOptions({3})),
                                                                 torch::optim::SGDOptions(0.1)),
        RecordingFlow{}, gpm::InteractingParticleModelOptions().seed(7).device(t::device()));
  };
  auto a = make(), b = make();
  const auto options = gpm::RefinementOptions().steps(5).time(1.0);
  const auto refined = gpm::sample_refined(a, 64, options);
  CHECK(t::max_abs(refined - b.sample(64) * std::pow(0.8, 5)) < 1e-6);
}

TEST_CASE("denoise_refine noises the particles to sigma and follows the denoiser's probability flow to 0", "[models][refine][numeric]") {
  // For N(mu, s^2 I) the flow keeps (x - mu) / sqrt(s^2 + sigma^2) constant, so x + sigma_start eps
  // ends at mu + (x + sigma_start eps - mu) s / sqrt(s^2 + sigma_start^2).
  const auto o = t::options<double>();
  const double s = 0.5, start = 1.0;
  const auto mu = torch::tensor({{1.0, -2.0}}, o);
  const gpm::GaussianMixtureDenoiser gaussian(mu, s);
  const auto x = torch::randn({16, 2}, t::generator(2), o);
  auto noise_gen = t::generator(3);
  const auto noised = x + start * torch::randn(x.sizes(), noise_gen, o);
  auto level = [&](double sigma) { return mu + (noised - mu) * std::sqrt(s * s + sigma * sigma) / std::sqrt(s * s + start * start); };
  const auto options = gpm::DenoisingRefinementOptions().steps(40).sigma(start);
  auto error = [&](int64_t steps, std::optional<int64_t> stop_after, double sigma) {
    auto gen = t::generator(3);
    return t::max_abs(gpm::denoise_refine(gaussian, x, gpm::DenoisingRefinementOptions(options).steps(steps), gen,
                                          stop_after) - level(sigma));
  };
  // Heun is second order: twice the steps, about a quarter of the error (0.002 at 40 steps).
  CHECK(error(40, std::nullopt, 0.0) < 5e-3);
  CHECK(error(80, std::nullopt, 0.0) < error(40, std::nullopt, 0.0) / 3);
  const double halfway = gpm::KarrasGrid(gpm::KarrasGridOptions(40).sigma_max(start)).times()[20];
  CHECK(error(40, 20, halfway) < 5e-3);
  auto gen = t::generator(3);
  CHECK(torch::equal(gpm::denoise_refine(gaussian, x, gpm::DenoisingRefinementOptions().steps(0), gen), x));
  CHECK(torch::equal(gpm::denoise_refine(gaussian, x, options, gen, 0), x));
  REQUIRE_THROWS_WITH(gpm::denoise_refine(gaussian, x, gpm::DenoisingRefinementOptions(options).sigma(0.001), gen),
                      Contains("need 0 < sigma_min < sigma"));
  REQUIRE_THROWS_WITH(gpm::denoise_refine(gaussian, x, gpm::DenoisingRefinementOptions().steps(-1), gen),
                      Contains("steps must be >= 0"));
  REQUIRE_THROWS_WITH(gpm::denoise_refine(gaussian, x, options, gen, 41), Contains("cannot stop after 41 steps"));
  REQUIRE_THROWS_WITH(gpm::denoise_refine(gaussian, torch::zeros({4}, o), options, gen),
                      Contains("denoise_refine: x has shape [4]"));
}

TEMPLATE_TEST_CASE("denoise_refine keeps to the noise range its denoiser was trained for", "[models][refine]", float, double) {
  const auto o = t::options<TestType>();
  NoiseLevelRecorder recorder;
  const gpm::nn::EdmPreconditioned denoiser(recorder, gpm::nn::EdmPreconditioningOptions().sigma_min(0.05).sigma_max(0.5));
  const auto x = torch::randn({16, 2}, t::generator(2), o);
  auto gen = t::generator(3);
  // Asked for noise 1 and levels down to 0.002: it noises at 0.5 and steps from 0.5 down to 0.05, then 0.
  const auto refined = gpm::denoise_refine(denoiser, x, gpm::DenoisingRefinementOptions().steps(6).sigma(1.0).sigma_min(0.002), gen);
  const auto seen = torch::cat(recorder->sigmas);
  CHECK(seen.min().template item<double>() == Approx(0.05).epsilon(t::eps<TestType>()));
  CHECK(seen.max().template item<double>() == Approx(0.5).epsilon(t::eps<TestType>()));
  auto same_gen = t::generator(3);
  const auto within = gpm::denoise_refine(denoiser, x, gpm::DenoisingRefinementOptions().steps(6).sigma(0.5).sigma_min(0.05), same_gen);
  CHECK(t::max_abs(refined - within) == 0.0);
}

TEST_CASE("sample_refined refines a Score GAN's samples by its data denoiser", "[models][refine]") {
  const gpm::GaussianMixtureDenoiser data(torch::tensor({{0.0, 3.0}, {3.0, 0.0}}, t::options<float>()), 0.2);
  auto make = [&] {
    return gpm::make_score_gan(2, data, t::small_score_gan(4, 16, 1, 16, 1, 8).seed(6).device(t::device()));
  };
  auto a = make(), b = make();
  const auto options = gpm::DenoisingRefinementOptions().steps(6).sigma(0.8);
  const auto refined = gpm::sample_refined(a, 64, options);
  const auto expected = gpm::denoise_refine(data, b.sample(64), options, b.generator());
  CHECK(t::max_abs(refined - expected) < 1e-6);
  CHECK(t::max_abs(refined - b.sample(64)) > 0.1);
}

TEST_CASE("scale_learning_rate reaches every optimiser a model trains with, relative to its built rate", "[models][lr]") {
  const auto lr = [](auto& optimizer) { return optimizer.param_groups().front().options().get_lr(); };
  const auto real = torch::randn({32, 2}, t::generator(1)).to(t::device()) + 3.0;

  auto gan = gpm::make_gan(2, t::with_lr(t::small_gan(4, 16, 2), 1e-2).device(t::device()));
  gan.scale_learning_rate(0.25);
  CHECK(lr(gan.dynamics().optimizer()) == Approx(2.5e-3));
  CHECK(lr(gan.flow().optimizer()) == Approx(2.5e-3));
  gan.scale_learning_rate(0.5);  // relative to the built rate, not compounded
  CHECK(lr(gan.dynamics().optimizer()) == Approx(5e-3));
  // At 0 no step moves any weight: the factor reaches the optimisers, not just their options.
  const auto before = [&] { return torch::cat({gan.dynamics().net()->parameters().front().flatten(),
                                               gan.flow().net()->parameters().front().flatten()}).clone(); };
  const auto frozen = before();
  gan.scale_learning_rate(0.0);
  for (int i = 0; i < 3; ++i) gan.train_step(real);
  CHECK(t::max_abs(before() - frozen) == 0.0);
  gan.scale_learning_rate(1.0);
  gan.train_step(real);
  CHECK(t::max_abs(before() - frozen) > 1e-4);

  auto edm = gpm::make_edm(2, t::with_lr(t::small_edm(16, 2, 8), 1e-2).device(t::device()));
  edm.scale_learning_rate(0.1);
  CHECK(lr(edm.flow().trainer().optimizer()) == Approx(1e-3));

  // The Score GAN's generator and online denoiser D_φ; its data denoiser is frozen.
  const gpm::GaussianMixtureDenoiser data(torch::tensor({{0.0, 3.0}, {3.0, 0.0}}, t::options<float>()), 0.2);
  auto score_gan = gpm::make_score_gan(2, data, t::small_score_gan(4, 16, 1, 16, 1, 8)
                                                    .generator_optimizer(gpm::AdamOptions().lr(1e-3))
                                                    .denoiser_optimizer(gpm::AdamOptions().lr(4e-3))
                                                    .device(t::device()));
  score_gan.scale_learning_rate(0.5);
  CHECK(lr(score_gan.dynamics().optimizer()) == Approx(5e-4));
  CHECK(lr(score_gan.flow().flow().generated().optimizer()) == Approx(2e-3));

  REQUIRE_THROWS_WITH(gan.scale_learning_rate(-1.0), Contains("the factor must be finite and >= 0, got -1"));
}

TEST_CASE("models refuse bad input with a clear message", "[models][errors]") {
  auto model = make_svgd_model(0);
  REQUIRE_THROWS_WITH(model.sample(0), Contains("number of particles must be > 0"));
  REQUIRE_THROWS_WITH(model.sample_from(torch::zeros({4})), Contains("x0 has shape [4]"));
  REQUIRE_THROWS_WITH(gpm::OneHotLatents(3).sample(4, torch::TensorOptions(), model.generator()),
                      Contains("moves all its 3 particles"));
  gpm::Generator<gpm::FreeParticles, torch::optim::SGD, gpm::OneHotLatents> free(
      gpm::FreeParticles(torch::zeros({3, 2})), gpm::OneHotLatents(3), torch::optim::SGDOptions(0.1));
  REQUIRE_THROWS_WITH(gpm::InteractingParticleModel(std::move(free), gpm::MmdFlow(gpm::RbfKernel()),
                                                    gpm::InteractingParticleModelOptions().flow_steps_per_generator_step(0)),
                      Contains("flow_steps_per_generator_step must be >= 1"));
}

TEST_CASE("models sample with the averaged weights and train the live ones", "[models][average]") {
  const auto options = t::with_lr(t::small_gan(4, 16, 2), 1e-2).weight_average(0.9).device(t::device());
  auto gan = gpm::make_gan(2, options);
  const auto real = torch::randn({32, 2}, t::generator(1)).to(t::device()) + 3.0;
  for (int i = 0; i < 20; ++i) gan.train_step(real);
  const auto live = gan.dynamics().net()->parameters().front().clone();

  gan.seed(7);
  const auto averaged = gan.sample(64);
  CHECK(t::max_abs(gan.dynamics().net()->parameters().front() - live) == 0.0);  // restored after sampling
  gan.seed(7);
  const auto last_iterate = gan.dynamics().sample(64, gan.generator());
  CHECK(t::max_abs(averaged - last_iterate) > 1e-3);
  gan.seed(7);
  {
    const auto use = gan.dynamics().averaged_weights();
    CHECK(t::max_abs(gan.dynamics().sample(64, gan.generator()) - averaged) == 0.0);
  }

  // The same for a particle model: an EDM with an average trains exactly as one without, and
  // samples differently.
  const auto edm_options = t::with_lr(t::small_edm(16, 2, 8), 1e-2).sampling_steps(4).device(t::device());
  auto plain = gpm::make_edm(2, gpm::EdmOptions(edm_options).weight_average(0.0));
  auto averaging = gpm::make_edm(2, gpm::EdmOptions(edm_options).weight_average(0.9));
  for (int i = 0; i < 20; ++i) {
    plain.train_step(real);
    averaging.train_step(real);
  }
  const auto plain_samples = plain.sample(16);
  const auto averaged_samples = averaging.sample(16);
  CHECK(t::max_abs(plain.flow().net()->parameters().front() - averaging.flow().net()->parameters().front()) == 0.0);
  CHECK(t::max_abs(plain_samples - averaged_samples) > 1e-4);

  // A Score GAN's data denoiser copied from the EDM denoises with the averaged weights.
  const auto averaging_options = gpm::EdmOptions(edm_options).weight_average(0.9);
  auto copy = gpm::copy_sampling_denoiser(averaging, 2, averaging_options);
  const auto x = torch::randn({8, 2}, t::generator(2)).to(t::device());
  const auto sigma = torch::full({8}, 0.5, x.options());
  torch::NoGradGuard no_grad;
  const auto live_denoised = averaging.flow().net()(x, sigma);
  torch::Tensor averaged_denoised;
  {
    const auto use = averaging.flow().averaged_weights();
    averaged_denoised = averaging.flow().net()(x, sigma);
  }
  CHECK(t::max_abs(copy(x, sigma) - averaged_denoised) == 0.0);
  CHECK(t::max_abs(copy(x, sigma) - live_denoised) > 1e-5);
}

TEST_CASE("a perturbed flow samples with the averaged weights of the flow it wraps", "[models][average]") {
  torch::manual_seed(3);
  gpm::nn::TimeMlp net(gpm::nn::TimeMlpOptions(2, 1).mlp(gpm::nn::MlpOptions().width(16).depth(2)).embedding_size(8));
  net->to(t::device());
  using Critic = gpm::DiscriminatorFlow<gpm::nn::TimeMlp, gpm::NonSaturatingLoss>;
  auto model = gpm::ParticleModel(
      gpm::Perturbed(Critic(net, gpm::NonSaturatingLoss{}, torch::optim::AdamOptions(1e-2),
                            gpm::DiscriminatorFlowOptions().eta(5.0).weight_average(0.9)),
                     gpm::ScheduleSigma(0.01, 0.1, 3.0), gpm::PerturbedOptions().seed(1).device(t::device())),
      gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(4)), gpm::GaussianPrior(gpm::GaussianPriorOptions({2})),
      gpm::ParticleModelOptions().seed(2).device(t::device()));
  const auto real = torch::randn({32, 2}, t::generator(1)).to(t::device()) + 3.0;
  for (int i = 0; i < 20; ++i) model.train_step(real);
  auto& perturbed = model.flow();
  const auto live = net->parameters().front().clone();

  // The perturbed flow integrated from x0 with the same noise, with the live or the averaged weights.
  const auto x0 = torch::randn({64, 2}, t::generator(4)).to(t::device());
  const auto integrate_from_x0 = [&](bool averaged) {
    torch::NoGradGuard no_grad;
    const auto use = averaged ? perturbed.flow().averaged_weights() : gpm::AveragedWeights();
    perturbed.generator().set_current_seed(5);
    return gpm::integrate(model.integrator(), perturbed, x0, model.grid().times(), model.generator());
  };
  const auto with_average = integrate_from_x0(true), with_live_weights = integrate_from_x0(false);
  REQUIRE(t::max_abs(with_average - with_live_weights) > 1e-4);

  perturbed.generator().set_current_seed(5);
  const auto sampled = model.sample_from(x0);
  CHECK(t::max_abs(sampled - with_average) == 0.0);
  CHECK(t::max_abs(net->parameters().front() - live) == 0.0);  // the live weights are back
}

TEMPLATE_TEST_CASE("a generator with batch norm samples each latent on its own and averages its running statistics",
                   "[models][average]", float, double) {
  const auto o = t::options<TestType>();
  torch::manual_seed(5);
  gpm::nn::Mlp net(gpm::nn::MlpOptions(3, 2).width(16).depth(2).batch_norm(true));
  net->to(t::device(), t::dtype<TestType>());
  gpm::Generator<gpm::nn::Mlp, torch::optim::Adam, FixedLatents> g(
      net, FixedLatents{torch::randn({64, 3}, t::generator(1), o)}, torch::optim::AdamOptions(1e-2),
      gpm::GeneratorOptions().weight_average(0.9));
  RecordingFlow flow;
  auto gen = t::generator(2);
  for (int i = 0; i < 10; ++i) g.step(flow, 64, gen);
  const auto running = [&] {  // every running_mean and running_var
    std::vector<torch::Tensor> statistics;
    for (const auto& b : net->buffers())
      if (b.is_floating_point()) statistics.push_back(b.flatten());
    return torch::cat(statistics).clone();
  };
  const auto before = running();

  // Eval mode: the first 4 samples are the same in a batch of 4 and of 64, and sampling leaves the
  // network's statistics and mode as they were.
  const auto few = g.sample(4, gen), many = g.sample(64, gen);
  CHECK(t::max_abs(few - many.slice(0, 0, 4)) < t::eps<TestType>());
  CHECK(t::max_abs(running() - before) == 0.0);
  CHECK(net->is_training());
  // The batch a discriminator trains on is generated as the generator's steps see it.
  CHECK(t::max_abs(g.training_sample(4, gen) - g.training_sample(64, gen).slice(0, 0, 4)) > 1e-3);

  // The averaged weights come with averaged running statistics, and the live ones come back.
  const auto live = running();
  {
    const auto use = g.averaged_weights();
    CHECK(t::max_abs(running() - live) > 1e-3);
  }
  CHECK(t::max_abs(running() - live) == 0.0);
}

TEST_CASE("sample_with takes a temporary stepper as documented", "[models][edm]") {
  auto edm = gpm::make_edm(2, t::small_edm(16, 1, 8).sampling_steps(4).seed(3).device(t::device()));
  edm.seed(5);
  const auto temporary =
      edm.sample_with(gpm::EulerMaruyama(gpm::EdmDiffusion{}, gpm::EulerMaruyamaOptions().drift_scale(2.0)), 16);
  edm.seed(5);
  gpm::EulerMaruyama named(gpm::EdmDiffusion{}, gpm::EulerMaruyamaOptions().drift_scale(2.0));
  CHECK(torch::equal(temporary, edm.sample_with(named, 16)));
  edm.seed(5);
  CHECK_FALSE(torch::equal(temporary, edm.sample_with(gpm::Euler{}, 16)));
}

TEST_CASE("a generator sampled from another latent law: its own prior gives its own samples, a narrow truncation g(0)",
          "[models][prior]") {
  auto gan = gpm::make_gan(2, gpm::GanOptions().latent_dim(4).generator(gpm::nn::MlpOptions().width(16).depth(2))
                                  .discriminator(gpm::nn::MlpOptions().width(16).depth(2)).seed(1).device(gpm::test::device()));
  auto gen = gpm::test::generator(2);
  for (int i = 0; i < 3; ++i) gan.train_step(torch::randn({32, 2}, gen, gpm::test::options<float>()));
  gan.seed(5);
  const auto own = gan.sample(64);
  gan.seed(5);
  CHECK(torch::equal(own, gan.sample_with(gpm::GaussianPrior(gpm::GaussianPriorOptions({4})), 64)));
  const auto narrow = gan.sample_with(gpm::TruncatedGaussianPrior(gpm::TruncatedGaussianPriorOptions({4}, 1e-6)), 64);
  const auto at_zero = gan.sample_with(gpm::TruncatedGaussianPrior(gpm::TruncatedGaussianPriorOptions({4}, 1e-9)), 1);
  CHECK(gpm::test::max_abs(narrow - at_zero) < 1e-4);
}
