// Time grids, priors, random streams, tensor helpers and their error messages; the one-pass Adam step; matrix products on oneDNN.
#include <ATen/Parallel.h>

#include <array>
#include <atomic>

#include "gpm/core.hpp"
#include "gpm/core/optimised_network.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

TEST_CASE("uniform grid has N + 1 equally spaced points from start to end", "[core][grid][numeric]") {
  const auto t = gpm::UniformGrid(gpm::UniformGridOptions(4).start(1.0).end(0.0)).times();
  REQUIRE(t == std::vector<double>{1.0, 0.75, 0.5, 0.25, 0.0});
  REQUIRE(gpm::UniformGrid(gpm::UniformGridOptions(56)).times().size() == 57);
}

TEST_CASE("Karras grid starts at sigma_max, ends at sigma_min then 0, and follows the rho formula", "[core][grid][numeric]") {
  const auto grid = gpm::KarrasGrid(gpm::KarrasGridOptions(28).sigma_min(0.002).sigma_max(40).rho(7));
  const auto t = grid.times();
  REQUIRE(t.size() == 29);
  CHECK(t.front() == Approx(40.0));
  CHECK(t[27] == Approx(0.002));
  CHECK(t.back() == 0.0);
  for (size_t i = 0; i + 1 < t.size(); ++i) CHECK(t[i] > t[i + 1]);
  // Midpoint: (40^(1/7) + (13.5/27)(0.002^(1/7) − 40^(1/7)))^7, checked at i = 13.
  const double hi = std::pow(40.0, 1.0 / 7), lo = std::pow(0.002, 1.0 / 7);
  CHECK(t[13] == Approx(std::pow(hi + 13.0 / 27.0 * (lo - hi), 7.0)));
  // One step: straight from sigma_max to 0.
  REQUIRE(gpm::KarrasGrid(gpm::KarrasGridOptions(1)).times() == std::vector<double>{80.0, 0.0});
}

TEST_CASE("a Karras grid clamped to a denoiser keeps to the denoiser's noise range", "[core][grid]") {
  struct Ranged {
    double sigma_min() const { return 0.01; }
    double sigma_max() const { return 20.0; }
  };
  struct Unranged {};
  const auto wide = gpm::KarrasGridOptions(8).sigma_min(0.002).sigma_max(80).rho(5);
  const auto clamped = gpm::clamp_to(wide, Ranged{});
  CHECK(clamped.sigma_min() == 0.01);
  CHECK(clamped.sigma_max() == 20.0);
  CHECK(clamped.steps() == 8);
  CHECK(clamped.rho() == 5.0);
  const auto t = gpm::KarrasGrid(clamped).times();
  CHECK(t.front() == Approx(20.0));
  CHECK(t[7] == Approx(0.01));
  // A narrower request stays as asked; a denoiser without a declared range changes nothing.
  const auto narrow = gpm::clamp_to(gpm::KarrasGridOptions(8).sigma_min(0.1).sigma_max(5), Ranged{});
  CHECK((narrow.sigma_min() == 0.1 && narrow.sigma_max() == 5.0));
  const auto kept = gpm::clamp_to(wide, Unranged{});
  CHECK((kept.sigma_min() == 0.002 && kept.sigma_max() == 80.0));
  REQUIRE_THROWS_WITH(gpm::clamp_to(gpm::KarrasGridOptions(8).sigma_min(30).sigma_max(80), Ranged{}),
                      Contains("does not overlap the denoiser's [0.01, 20]"));
}

TEST_CASE("geometric grid has a constant ratio", "[core][grid][numeric]") {
  const auto t = gpm::GeometricGrid(gpm::GeometricGridOptions(3, 8.0, 1.0)).times();
  REQUIRE(t.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(t[i] == Approx(8.0 / std::pow(2.0, static_cast<double>(i))));
  const gpm::GeometricGrid ending(gpm::GeometricGridOptions(3, 8.0, 1.0).final_zero(true));
  const auto with_zero = ending.times();
  REQUIRE(with_zero.size() == 5);
  CHECK(std::equal(t.begin(), t.end(), with_zero.begin()));
  CHECK(with_zero.back() == 0.0);
  CHECK(ending.steps() == 4);
}

TEST_CASE("grids and priors refuse invalid options with a message naming the option", "[core][errors]") {
  REQUIRE_THROWS_WITH(gpm::UniformGrid(gpm::UniformGridOptions(0)), Contains("steps must be >= 1, got 0"));
  REQUIRE_THROWS_WITH(gpm::UniformGrid(gpm::UniformGridOptions(3).start(1).end(1)), Contains("start and end"));
  REQUIRE_THROWS_WITH(gpm::KarrasGrid(gpm::KarrasGridOptions(8).sigma_min(5).sigma_max(1)),
                      Contains("0 < sigma_min < sigma_max"));
  REQUIRE_THROWS_WITH(gpm::KarrasGrid(gpm::KarrasGridOptions(8).rho(0)), Contains("rho must be > 0"));
  REQUIRE_THROWS_WITH(gpm::GeometricGrid(gpm::GeometricGridOptions(4, 1.0, 0.0)), Contains("positive"));
  REQUIRE_THROWS_WITH(gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(-1)), Contains("std must be > 0"));
  REQUIRE_THROWS_AS(gpm::GaussianPrior(gpm::GaussianPriorOptions({})), gpm::InvalidArgument);
}

TEMPLATE_TEST_CASE("Gaussian prior has the requested shape, dtype, device, mean and std", "[core][prior][numeric]", float, double) {
  const gpm::GaussianPrior prior(gpm::GaussianPriorOptions({3}).mean(2.0).std(0.5));
  auto gen = gpm::test::generator(7);
  const auto x = prior.sample(20000, gpm::test::options<TestType>(), gen);
  REQUIRE(x.sizes() == torch::IntArrayRef({20000, 3}));
  REQUIRE(x.scalar_type() == gpm::test::dtype<TestType>());
  REQUIRE(x.device() == gpm::test::device());
  // Standard errors: 0.5/sqrt(20000) = 0.0035 for the mean; margin 5 standard errors.
  CHECK(gpm::test::max_abs(x.mean(0) - 2.0) < 0.018);
  CHECK(gpm::test::max_abs(x.std(0) - 0.5) < 0.013);
}

TEMPLATE_TEST_CASE("truncated Gaussian prior: N(0, I) conditioned on [-tau, tau], its variance and quantiles exact",
                   "[core][prior][numeric]", float, double) {
  auto gen = gpm::test::generator(9);
  const int64_t n = 100000;
  const torch::Tensor x = gpm::TruncatedGaussianPrior(gpm::TruncatedGaussianPriorOptions({2}, 1.0))
                     .sample(n, gpm::test::options<TestType>(), gen).to(torch::kFloat64);
  REQUIRE(x.sizes() == torch::IntArrayRef({n, 2}));
  CHECK(x.abs().max().item<double>() <= 1.0);
  // Truncated to [−1, 1]: variance 1 − 2φ(1)/(2Φ(1) − 1) = 0.291125, P(|z| < 1/2) = (2Φ(1/2) − 1)/(2Φ(1) − 1)
  // = 0.560898. Standard errors at 200,000 coordinates: 0.0007 and 0.0011; margins about 5 of them.
  CHECK(x.var().item<double>() == Approx(0.291125).margin(0.004));
  CHECK((x.abs() < 0.5).to(torch::kFloat64).mean().item<double>() == Approx(0.560898).margin(0.006));
  CHECK(std::abs(x.mean().item<double>()) < 0.004);
  // A wide truncation is N(0, I).
  const torch::Tensor wide = gpm::TruncatedGaussianPrior(gpm::TruncatedGaussianPriorOptions({2}, 8.0))
                        .sample(n, gpm::test::options<TestType>(), gen).to(torch::kFloat64);
  CHECK(wide.var().item<double>() == Approx(1.0).margin(0.015));
  CHECK_THROWS_WITH(gpm::TruncatedGaussianPrior(gpm::TruncatedGaussianPriorOptions({2}, 0.0)), Contains("must be > 0"));
  CHECK_THROWS_WITH(gpm::TruncatedGaussianPrior(gpm::TruncatedGaussianPriorOptions({}, 1.0)), Contains("latent shape is empty"));
}

TEST_CASE("a seeded generator reproduces its stream and differs across seeds", "[core][random]") {
  const gpm::GaussianPrior prior(gpm::GaussianPriorOptions({2}));
  auto a = gpm::test::generator(3), b = gpm::test::generator(3), c = gpm::test::generator(4);
  const auto opts = gpm::test::options<float>();
  const auto xa = prior.sample(16, opts, a);
  REQUIRE(torch::equal(xa, prior.sample(16, opts, b)));
  REQUIRE_FALSE(torch::equal(xa, prior.sample(16, opts, c)));
  REQUIRE_FALSE(torch::equal(xa, prior.sample(16, opts, a)));  // the stream advances
}

TEMPLATE_TEST_CASE("tensor helpers broadcast per particle and reduce per particle", "[core][tensor]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  const auto x = torch::arange(24, opts).view({2, 3, 4});
  const auto s = torch::tensor({1.0, 2.0}, opts);
  REQUIRE(gpm::per_particle(s, x).sizes() == torch::IntArrayRef({2, 1, 1}));
  const auto dot = gpm::batched_dot(x, torch::ones_like(x));
  REQUIRE(dot.sizes() == torch::IntArrayRef({2}));
  CHECK(dot[0].template item<double>() == Approx(66.0));
  CHECK(dot[1].template item<double>() == Approx(210.0));
  const auto y = torch::tensor({{0.0, 0.0}, {3.0, 4.0}}, opts);
  const auto d2 = gpm::pairwise_squared_distances(y, y);
  CHECK(d2[0][1].template item<double>() == Approx(25.0));
  CHECK(d2[1][1].template item<double>() == Approx(0.0).margin(1e-5));
}

TEST_CASE("particle checks name the argument, the problem and the fix", "[core][errors]") {
  const char* where = "Test::call";
  REQUIRE_THROWS_WITH(gpm::check_particles(torch::zeros({5}), where), Contains("expected particles [N, ...]") &&
                                                                         Contains("shape [5]"));
  REQUIRE_THROWS_WITH(gpm::check_particles(torch::zeros({0, 2}), where), Contains("holds no particles"));
  REQUIRE_THROWS_WITH(gpm::check_particles(torch::zeros({2, 2}, torch::kLong), where),
                      Contains("floating-point"));
  REQUIRE_THROWS_WITH(gpm::check_compatible(torch::zeros({2, 2}), "x", torch::zeros({2, 2}, torch::kFloat64), "y", where),
                      Contains("x has dtype Float but y has dtype Double"));
  REQUIRE_THROWS_WITH(gpm::check_times(torch::zeros({3}), torch::zeros({2, 2}), where), Contains("one time per particle"));
  REQUIRE_THROWS_WITH(gpm::check_finite(torch::tensor({1.0, std::nan("")}).view({1, 2}), where), Contains("NaN"));
  REQUIRE_NOTHROW(gpm::check_particles(torch::zeros({2, 1, 3, 3}), where));
}

TEST_CASE("a weight average warms up, then decays at its rate; swapping twice restores the live weights", "[core][average][numeric]") {
  torch::nn::Linear net(torch::nn::LinearOptions(2, 1).bias(false));
  net->to(t::device(), torch::kFloat64);
  const auto set = [&](double a, double b) {
    torch::NoGradGuard no_grad;
    net->weight.copy_(torch::tensor({{a, b}}, net->weight.options()));
  };
  set(1.0, 2.0);
  gpm::WeightAverage average(*net, 0.9);
  // Update n uses beta = min(0.9, (1 + n)/(10 + n)): 0.1, then 2/11.
  set(3.0, 4.0);
  average.update(*net);
  set(5.0, 6.0);
  average.update(*net);
  const double b0 = 0.1, b1 = 2.0 / 11.0;
  const auto first = torch::tensor({{b0 * 1 + (1 - b0) * 3, b0 * 2 + (1 - b0) * 4}}, net->weight.options());
  const auto expected = b1 * first + (1 - b1) * torch::tensor({{5.0, 6.0}}, net->weight.options());
  {
    gpm::AveragedWeights use(&average, *net);
    CHECK(t::max_abs(net->weight - expected) < 1e-12);
  }
  CHECK(t::max_abs(net->weight - torch::tensor({{5.0, 6.0}}, net->weight.options())) == 0.0);
  // After the warm-up the rate is the decay itself.
  for (int i = 0; i < 200; ++i) average.update(*net);
  set(0.0, 0.0);
  average.update(*net);
  average.swap(*net);
  const auto settled = net->weight.clone();
  average.swap(*net);
  set(7.0, 7.0);
  average.update(*net);
  average.swap(*net);
  CHECK(t::max_abs(net->weight - (0.9 * settled + 0.1 * 7.0)) < 1e-12);
  CHECK(average.updates() == 204);
}

TEST_CASE("the weights a model samples with are in eval mode, each module's own mode restored after", "[core][average]") {
  torch::nn::Sequential net(torch::nn::Linear(2, 2), torch::nn::Dropout(0.5));
  gpm::WeightAverage average(*net, 0.9);
  net[1]->eval();  // a submodule in its own mode keeps it
  for (auto* with_average : {&average, static_cast<gpm::WeightAverage*>(nullptr)}) {
    {
      gpm::AveragedWeights use(with_average, *net);
      CHECK_FALSE(net->is_training());
      CHECK_FALSE(net[0]->is_training());
    }
    CHECK(net->is_training());
    CHECK(net[0]->is_training());
    CHECK_FALSE(net[1]->is_training());
  }
  gpm::AveragedWeights none;  // a component without an average: nothing changes
  CHECK(net->is_training());
}

TEST_CASE("a weight average saves and loads, and refuses another architecture", "[core][average][errors]") {
  torch::nn::Linear net(2, 3);
  gpm::WeightAverage average(*net, 0.5);
  {
    torch::NoGradGuard no_grad;
    net->weight.add_(1.0);
  }
  average.update(*net);
  torch::serialize::OutputArchive out;
  average.save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  gpm::WeightAverage restored(*net, 0.5);
  restored.load(in);
  CHECK(restored.updates() == 1);
  torch::nn::Linear copy(2, 3);
  average.swap(*copy);
  restored.swap(*net);
  CHECK(t::max_abs(net->weight - copy->weight) == 0.0);

  torch::nn::Linear other(2, 4);
  gpm::WeightAverage wrong(*other, 0.5);
  std::stringstream again;
  out.save_to(again);
  torch::serialize::InputArchive in2;
  in2.load_from(again);
  REQUIRE_THROWS_WITH(wrong.load(in2), Contains("another architecture"));
  REQUIRE_THROWS_WITH(gpm::WeightAverage(*net, 1.0), Contains("decay must be in (0, 1)"));
  REQUIRE_THROWS_WITH(wrong.swap(*torch::nn::Linear(torch::nn::LinearOptions(2, 4).bias(false))), Contains("parameter tensors"));

  torch::nn::Linear target(2, 3);
  gpm::copy_weights(*net, *target);
  CHECK(t::max_abs(net->weight - target->weight) == 0.0);
  CHECK(t::max_abs(net->bias - target->bias) == 0.0);
  REQUIRE_THROWS_WITH(gpm::copy_weights(*net, *other), Contains("share an architecture"));
}

TEMPLATE_TEST_CASE("a weight average averages batch-norm statistics, copies the batch count, and loads an average "
                   "saved without them", "[core][average][numeric]", float, double) {
  const auto o = t::options<TestType>();
  torch::nn::BatchNorm1d bn(2);
  bn->to(t::device(), t::dtype<TestType>());  // casts num_batches_tracked to TestType too
  const auto set = [&](std::vector<double> mean, std::vector<double> var, int64_t count) {
    torch::NoGradGuard no_grad;
    bn->running_mean.copy_(torch::tensor(mean, o));
    bn->running_var.copy_(torch::tensor(var, o));
    bn->num_batches_tracked.fill_(count);
  };
  const auto statistics_are = [&](std::vector<double> mean, std::vector<double> var, int64_t count) {
    return t::max_abs(bn->running_mean - torch::tensor(mean, o)) < t::eps<TestType>() &&
           t::max_abs(bn->running_var - torch::tensor(var, o)) < t::eps<TestType>() &&
           bn->num_batches_tracked.template item<int64_t>() == count;
  };
  set({1, 2}, {1, 1}, 0);
  gpm::WeightAverage average(*bn, 0.9);
  set({3, 4}, {5, 6}, 7);
  average.update(*bn);  // beta = 0.1
  const std::vector<double> mean{0.1 * 1 + 0.9 * 3, 0.1 * 2 + 0.9 * 4}, var{0.1 + 0.9 * 5, 0.1 + 0.9 * 6};
  {
    gpm::AveragedWeights use(&average, *bn);
    CHECK(statistics_are(mean, var, 7));
  }
  CHECK(statistics_are({3, 4}, {5, 6}, 7));

  const auto round_trip = [](const auto& write, auto& into) {
    torch::serialize::OutputArchive out;
    write(out);
    std::stringstream buffer;
    out.save_to(buffer);
    torch::serialize::InputArchive in;
    in.load_from(buffer);
    into.load(in);
  };
  gpm::WeightAverage restored(*bn, 0.9);
  round_trip([&](auto& out) { average.save(out); }, restored);
  {
    gpm::AveragedWeights use(&restored, *bn);
    CHECK(statistics_are(mean, var, 7));
  }

  // Saved before buffers were averaged: the live statistics stand in, and the next update starts from them.
  gpm::WeightAverage legacy(*bn, 0.9);
  round_trip([&](auto& out) {
    out.write("p0", bn->weight);
    out.write("p1", bn->bias);
    gpm::write_counter(out, "updates", 1);
  }, legacy);
  set({5, 5}, {2, 2}, 9);
  {
    gpm::AveragedWeights use(&legacy, *bn);
    CHECK(statistics_are({5, 5}, {2, 2}, 9));
  }
  legacy.update(*bn);
  set({7, 7}, {3, 3}, 10);
  {
    gpm::AveragedWeights use(&legacy, *bn);
    CHECK(statistics_are({5, 5}, {2, 2}, 9));
  }
  CHECK(statistics_are({7, 7}, {3, 3}, 10));
}

TEST_CASE("configure_cpu_runtime flushes denormals and serves large tensors from the kept heap", "[core][runtime]") {
  at::globalContext().setFlushDenormal(false);
  const auto tiny = torch::full({4}, 1e-39f);  // a float32 denormal
  REQUIRE((tiny * 1.0f).ne(0).all().item<bool>());
  REQUIRE(gpm::configure_cpu_runtime());
  CHECK((tiny * 1.0f).eq(0).all().item<bool>());
#if defined(__GLIBC__)
  // A 24 MiB buffer (under the 32 MiB limit) comes from the heap, not from a fresh mapping that
  // the kernel would zero again after every free.
  const auto mapped_before = mallinfo2().hblkhd;
  const auto buffer = torch::empty({6 << 20}, torch::kFloat32);
  CHECK(mallinfo2().hblkhd == mapped_before);
#endif
}


TEST_CASE("gpm's parallel loops (ATen's inline parallel_for) run on LibTorch's threads", "[core][runtime]") {
  // Code that includes gpm without OpenMP runs these loops on the calling thread alone.
  t::IntraOpThreads two(2);
  std::array<std::atomic<int>, 2> chunks_by_thread{};
  at::parallel_for(0, 2, 1, [&](int64_t, int64_t) { ++chunks_by_thread.at(at::get_thread_num()); });
  CHECK(chunks_by_thread[0] == 1);
  CHECK(chunks_by_thread[1] == 1);
}

namespace {

// Parameters in two groups (the second with weight decay and its own rate), sized to exercise the
// one-pass update's vector body, its tail and its split across threads; the last has no gradient.
template <class T>
std::vector<torch::Tensor> adam_test_parameters() {
  torch::manual_seed(3);
  const auto dtype = torch::CppTypeToScalarType<T>();
  std::vector<torch::Tensor> params;
  for (const auto& shape : std::vector<std::vector<int64_t>>{{7}, {3, 5}, {40001}, {64, 33}, {2}})
    params.push_back(torch::randn(shape, torch::dtype(dtype)).requires_grad_(true));
  return params;
}

double scalar_value(const torch::Tensor& t) { return t.item<double>(); }

std::vector<torch::Tensor> copies_of(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> copies;
  for (const auto& p : params) copies.push_back(p.detach().clone().requires_grad_(true));
  return copies;
}

torch::optim::Adam adam_in_two_groups(const std::vector<torch::Tensor>& p, bool amsgrad = false) {
  using torch::optim::AdamOptions;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{p[0], p[1], p[2]},
                      std::make_unique<AdamOptions>(AdamOptions(1e-2).betas({0.5, 0.99}).amsgrad(amsgrad)));
  groups.emplace_back(std::vector<torch::Tensor>{p[3], p[4]},
                      std::make_unique<AdamOptions>(AdamOptions(3e-3).weight_decay(0.1).amsgrad(amsgrad)));
  return torch::optim::Adam(std::move(groups), AdamOptions(1e-3));
}

// The same parameters under two Adams, one to step with fused_adam_step and one with LibTorch's step.
template <class T>
struct AdamTwins {
  std::vector<torch::Tensor> fused_params = adam_test_parameters<T>();
  std::vector<torch::Tensor> plain_params = copies_of(fused_params);
  torch::optim::Adam fused = adam_in_two_groups(fused_params);
  torch::optim::Adam plain = adam_in_two_groups(plain_params);
};

const torch::optim::AdamParamState& adam_state_of(torch::optim::Adam& adam, const torch::Tensor& p) {
  using Key = std::remove_reference_t<decltype(adam.state())>::key_type;
  return static_cast<const torch::optim::AdamParamState&>(*adam.state().at(gpm::detail::optimizer_state_key<Key>(p)));
}

void give_same_gradients(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, int step) {
  torch::manual_seed(100 + step);
  for (size_t i = 0; i + 1 < a.size(); ++i) {  // the last parameter gets none
    const auto g = torch::randn_like(a[i]) * static_cast<double>(i + 1);
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
}

}  // namespace

TEMPLATE_TEST_CASE("fused_adam_step makes LibTorch's Adam update on its state and gives the gradient norm",
                   "[core][optimizer][numeric]", float, double) {
  const double rtol = std::is_same_v<TestType, float> ? 2e-6 : 1e-13;
  AdamTwins<TestType> twins;
  const auto& fused_params = twins.fused_params;
  const auto& plain_params = twins.plain_params;
  t::IntraOpThreads two(2);  // the 40001-element parameter is split between them
  for (int step = 0; step < 6; ++step) {
    give_same_gradients(fused_params, plain_params, step);
    if (step == 3) {  // a schedule's new rate is read at the next step
      twins.fused.param_groups()[0].options().set_lr(5e-2);
      twins.plain.param_groups()[0].options().set_lr(5e-2);
    }
    const double expected_norm = scalar_value(gpm::gradient_norm(plain_params));
    const auto norm = gpm::fused_adam_step(twins.fused);
    REQUIRE(norm.has_value());
    CHECK(scalar_value(*norm) == Approx(expected_norm).epsilon(std::is_same_v<TestType, float> ? 1e-5 : 1e-12));
    twins.plain.step();
    for (size_t i = 0; i < fused_params.size(); ++i)
      REQUIRE(torch::allclose(fused_params[i], plain_params[i], rtol, rtol));
  }
  // The state is LibTorch's: step counts and moments agree, and the parameter without a gradient has none.
  REQUIRE(twins.fused.state().size() == twins.plain.state().size());
  for (size_t i = 0; i + 1 < fused_params.size(); ++i) {
    const auto& a = adam_state_of(twins.fused, fused_params[i]);
    const auto& b = adam_state_of(twins.plain, plain_params[i]);
    CHECK(a.step() == 6);
    CHECK(b.step() == 6);
    CHECK(torch::allclose(a.exp_avg(), b.exp_avg(), rtol, rtol));
    CHECK(torch::allclose(a.exp_avg_sq(), b.exp_avg_sq(), rtol, rtol));
  }
  CHECK(torch::equal(fused_params.back(), plain_params.back()));
}

TEST_CASE("an Adam state written by fused_adam_step loads into LibTorch's Adam, which continues alike",
          "[core][optimizer][checkpoint]") {
  AdamTwins<float> twins;
  const auto& fused_params = twins.fused_params;
  const auto& plain_params = twins.plain_params;
  for (int step = 0; step < 2; ++step) {
    give_same_gradients(fused_params, plain_params, step);
    REQUIRE(gpm::fused_adam_step(twins.fused));
    twins.plain.step();
  }
  torch::serialize::OutputArchive out;
  twins.fused.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  const auto resumed_params = copies_of(fused_params);
  auto resumed = adam_in_two_groups(resumed_params);
  torch::serialize::InputArchive in;
  std::istringstream stream(bytes.str());
  in.load_from(stream);
  resumed.load(in);
  give_same_gradients(resumed_params, plain_params, 2);
  resumed.step();
  twins.plain.step();
  for (size_t i = 0; i < resumed_params.size(); ++i)
    CHECK(torch::allclose(resumed_params[i], plain_params[i], 2e-6, 2e-6));
}

TEST_CASE("fused_adam_step leaves the step to LibTorch where it does not apply, having changed nothing",
          "[core][optimizer]") {
  const auto params = adam_test_parameters<float>();
  const auto before = copies_of(params);
  SECTION("amsgrad") {
    auto adam = adam_in_two_groups(params, /*amsgrad=*/true);
    give_same_gradients(params, copies_of(params), 0);
    CHECK_FALSE(gpm::fused_adam_step(adam).has_value());
    CHECK(adam.state().empty());
  }
  SECTION("a parameter that is not contiguous") {
    const auto transposed = torch::randn({5, 4}).t().detach().requires_grad_(true);
    transposed.mutable_grad() = torch::ones({4, 5});
    std::vector<torch::Tensor> all = params;
    all.push_back(transposed);
    torch::optim::Adam adam(all, torch::optim::AdamOptions(1e-2));
    give_same_gradients(params, copies_of(params), 0);
    CHECK_FALSE(gpm::fused_adam_step(adam).has_value());
    CHECK(adam.state().empty());
  }
  for (size_t i = 0; i < params.size(); ++i) CHECK(torch::equal(params[i], before[i]));
}

namespace {
// torch::optim::Adam under another name: OptimisedNetwork then takes LibTorch's own step.
class LibTorchAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
};
}  // namespace

TEST_CASE("OptimisedNetwork's steps with Adam equal LibTorch's own Adam steps, weight average included",
          "[core][optimizer][numeric]") {
  const auto make_net = [] {
    torch::manual_seed(0);
    return torch::nn::Sequential(torch::nn::Linear(2, 64), torch::nn::Tanh(), torch::nn::Linear(64, 1));
  };
  gpm::OptimisedNetwork<torch::nn::Sequential, torch::optim::Adam> fused(make_net(), torch::optim::AdamOptions(1e-2),
                                                                         0, "Test", 0.9);
  gpm::OptimisedNetwork<torch::nn::Sequential, LibTorchAdam> plain(make_net(), torch::optim::AdamOptions(1e-2), 0,
                                                                   "Test", 0.9);
  for (int step = 0; step < 5; ++step) {
    const auto x = torch::randn({32, 2});
    const double fused_norm = fused.minimise(fused.net()->forward(x).square().mean()).item<double>();
    const double plain_norm = plain.minimise(plain.net()->forward(x).square().mean()).item<double>();
    CHECK(fused_norm == Approx(plain_norm).epsilon(1e-5));
  }
  const auto same_weights = [&] {
    const auto a = fused.net()->parameters(), b = plain.net()->parameters();
    for (size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-6));
  };
  same_weights();
  const auto fused_average = fused.averaged_weights();
  const auto plain_average = plain.averaged_weights();
  same_weights();
}

TEST_CASE("OptimisedNetwork steps a parameter this loss leaves without a gradient as zero_grad() and backward() would",
          "[core][optimizer][numeric]") {
  // Its gradients start undefined before each backward: one that had a gradient and gets none is
  // given zeros, so that Adam moves it by its momentum, while one never reached keeps none.
  const auto make_net = [] {
    torch::manual_seed(4);
    return torch::nn::Sequential(torch::nn::Linear(2, 8), torch::nn::Linear(8, 1), torch::nn::Linear(3, 3));
  };
  gpm::OptimisedNetwork<torch::nn::Sequential, torch::optim::Adam> network(make_net(), torch::optim::AdamOptions(1e-2),
                                                                           0, "Test");
  auto reference_net = make_net();
  torch::optim::Adam reference(reference_net->parameters(), torch::optim::AdamOptions(1e-2));
  const auto loss_of = [](torch::nn::Sequential& net, const torch::Tensor& x, bool whole) {
    const auto hidden = net[0]->as<torch::nn::Linear>()->forward(x);
    return whole ? net[1]->as<torch::nn::Linear>()->forward(hidden).square().mean() : hidden.square().mean();
  };
  for (int step = 0; step < 4; ++step) {
    const auto x = torch::randn({16, 2});
    const bool whole = step % 2 == 0;  // the second layer gets no gradient at odd steps
    network.minimise(loss_of(network.net(), x, whole));
    reference.zero_grad();
    loss_of(reference_net, x, whole).backward();
    reference.step();
    const auto a = network.net()->parameters(), b = reference_net->parameters();
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("step " << step << ", parameter " << i);
      CHECK(a[i].grad().defined() == b[i].grad().defined());
      CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-6));
    }
  }
  CHECK_FALSE(network.net()->parameters().back().grad().defined());
}

TEST_CASE("gpm::linear_leaky_relu is leaky_relu of LibTorch's linear, with its first and second derivatives",
          "[core][matmul][numeric]") {
  auto gen = t::generator(33);
  const auto o = t::options<float>();
  for (const double slope : {0.2, 0.0}) {
    CAPTURE(slope);
    const auto w1 = torch::randn({32, 16}, gen, o).requires_grad_(), b1 = torch::randn({32}, gen, o).requires_grad_();
    const auto w2 = torch::randn({1, 32}, gen, o).requires_grad_(), b2 = torch::randn({1}, gen, o).requires_grad_();
    const std::vector<torch::Tensor> parameters{w1, b1, w2, b2};
    // A critic f(x), its gradients (one backward pass) and those of its R1-like penalty Σ‖∇ₓ f‖² in
    // the weights (a double backward), and ∇ₓ f; then the hidden layer under no grad.
    const auto results = [&](auto&& hidden_layer) {
      const auto x = torch::randn({64, 16}, gen, o).requires_grad_();
      const auto f = torch::nn::functional::linear(hidden_layer(x, w1, b1), w2, b2).sum();
      const auto grad_x = torch::autograd::grad({f}, {x}, {}, true, true)[0];
      auto all = torch::autograd::grad({f}, parameters, {}, true);
      const auto second = torch::autograd::grad({grad_x.square().sum()}, {w1, b1, w2});
      all.insert(all.end(), second.begin(), second.end());
      all.push_back(grad_x);
      const torch::NoGradGuard no_grad;
      all.push_back(hidden_layer(x, w1, b1));
      return all;
    };
    auto reference_gen = gen.clone();
    const auto ours = results([&](const auto& x, const auto& w, const auto& b) {
      return gpm::linear_leaky_relu(x, w, b, slope);
    });
    gen = reference_gen;
    const auto libtorch = results([&](const auto& x, const auto& w, const auto& b) {
      return torch::leaky_relu(torch::nn::functional::linear(x, w, b), slope);
    });
    REQUIRE(ours.size() == libtorch.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      INFO("result " << i);
      CHECK(ours[i].sizes() == libtorch[i].sizes());
      CHECK(t::max_abs(ours[i] - libtorch[i]) <= 1e-5 * (1 + t::max_abs(libtorch[i])));
    }
  }
}

namespace {
// A float matrix [rows, cols] in one of the layouts an operand reaches gpm::matmul with: row-major,
// the transpose of a row-major one, a column slice of a wider one (leading dimension > cols), every
// other column (no sgemm layout: copied first).
torch::Tensor matrix_in_layout(int64_t rows, int64_t cols, int layout, at::Generator& gen) {
  const auto o = t::options<float>();
  switch (layout) {
    case 0: return torch::randn({rows, cols}, gen, o);
    case 1: return torch::randn({cols, rows}, gen, o).t();
    case 2: return torch::randn({rows, cols + 5}, gen, o).narrow(1, 3, cols);
    default: return torch::randn({rows, 2 * cols}, gen, o).slice(1, 0, 2 * cols, 2);
  }
}
}  // namespace

TEST_CASE("gpm::matmul and gpm::linear equal LibTorch's products in every operand layout", "[core][matmul][numeric]") {
  auto gen = t::generator(31);
  for (int la = 0; la < 4; ++la) {
    for (int lb = 0; lb < 4; ++lb) {
      INFO("layouts " << la << ", " << lb);
      const auto a = matrix_in_layout(37, 19, la, gen), b = matrix_in_layout(19, 23, lb, gen);
      const auto expected = torch::mm(a, b);
      CHECK(t::max_abs(gpm::matmul(a, b) - expected) <= 1e-5 * t::max_abs(expected));
    }
    const auto x = matrix_in_layout(37, 19, la, gen);
    const auto weight = torch::randn({23, 19}, gen, t::options<float>()), bias = torch::randn({23}, gen, t::options<float>());
    const auto expected = torch::nn::functional::linear(x, weight, bias);
    CHECK(t::max_abs(gpm::linear(x, weight, bias) - expected) <= 1e-5 * t::max_abs(expected));
    CHECK(t::max_abs(gpm::linear(x, weight) - torch::nn::functional::linear(x, weight)) <= 1e-5 * t::max_abs(expected));
  }
  // Where oneDNN does not apply (double; a side under 16) the product is LibTorch's own, bit for bit.
  const auto x = torch::randn({20, 18}, gen, t::options<double>()), w = torch::randn({17, 18}, gen, t::options<double>());
  CHECK(torch::equal(gpm::linear(x, w, w.select(1, 0)), torch::nn::functional::linear(x, w, w.select(1, 0))));
  CHECK(torch::equal(gpm::matmul(x, w.t()), torch::mm(x, w.t())));
  const auto thin = torch::randn({64, 2}, gen, t::options<float>()), wide = torch::randn({2, 64}, gen, t::options<float>());
  CHECK(torch::equal(gpm::matmul(thin, wide), torch::mm(thin, wide)));
  // Shapes that do not multiply are LibTorch's error, not a read past the end.
  CHECK_THROWS(gpm::matmul(torch::randn({32, 24}, gen, t::options<float>()), torch::randn({20, 32}, gen, t::options<float>())));
  CHECK_THROWS(gpm::linear(torch::randn({32, 24}, gen, t::options<float>()), torch::randn({32, 20}, gen, t::options<float>())));
}

TEST_CASE("gpm::linear's first and second derivatives are LibTorch linear's", "[core][matmul][numeric]") {
  auto gen = t::generator(32);
  const auto o = t::options<float>();
  const auto w1 = torch::randn({16, 3}, gen, o).requires_grad_(), b1 = torch::randn({16}, gen, o).requires_grad_();
  const auto w2 = torch::randn({1, 16}, gen, o).requires_grad_(), b2 = torch::randn({1}, gen, o).requires_grad_();
  const std::vector<torch::Tensor> parameters{w1, b1, w2, b2};
  // A critic f(x) and its R1-like penalty Σ‖∇ₓ f‖², whose gradient in the weights is a double backward.
  const auto gradients = [&](auto&& layer) {
    const auto x = torch::randn({64, 3}, gen, o).requires_grad_();
    const auto f = layer(torch::softplus(layer(x, w1, b1)), w2, b2).sum();
    const auto grad_x = torch::autograd::grad({f}, {x}, {}, true, true)[0];
    auto first = torch::autograd::grad({f}, parameters, {}, true);
    // b2 does not reach ∇ₓ f.
    const auto second = torch::autograd::grad({grad_x.square().sum()}, {w1, b1, w2});
    first.insert(first.end(), second.begin(), second.end());
    first.push_back(grad_x);
    return first;
  };
  auto reference_gen = gen.clone();
  const auto ours = gradients([](const auto& x, const auto& w, const auto& b) { return gpm::linear(x, w, b); });
  gen = reference_gen;
  const auto libtorch = gradients([](const auto& x, const auto& w, const auto& b) {
    return torch::nn::functional::linear(x, w, b);
  });
  REQUIRE(ours.size() == libtorch.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    INFO("gradient " << i);
    CHECK(ours[i].sizes() == libtorch[i].sizes());
    CHECK(t::max_abs(ours[i] - libtorch[i]) <= 1e-5 * (1 + t::max_abs(libtorch[i])));
  }
}

namespace {
// A float batch [batch, rows, cols] in one of the layouts an operand reaches gpm::bmm with: each
// matrix row-major, transposed, a column slice of a wider one, every other column (copied first), or
// one matrix repeated by an expanded batch dimension (batch stride 0).
torch::Tensor batch_in_layout(int64_t batch, int64_t rows, int64_t cols, int layout, at::Generator& gen) {
  const auto o = t::options<float>();
  switch (layout) {
    case 0: return torch::randn({batch, rows, cols}, gen, o);
    case 1: return torch::randn({batch, cols, rows}, gen, o).transpose(1, 2);
    case 2: return torch::randn({batch, rows, cols + 5}, gen, o).narrow(2, 3, cols);
    case 3: return torch::randn({batch, rows, 2 * cols}, gen, o).slice(2, 0, 2 * cols, 2);
    default: return torch::randn({1, rows, cols}, gen, o).expand({batch, rows, cols});
  }
}
}  // namespace

TEST_CASE("gpm::bmm equals LibTorch's bmm in every operand layout, with its first and second derivatives",
          "[core][matmul][numeric]") {
  auto gen = t::generator(34);
  for (int la = 0; la < 5; ++la) {
    for (int lb = 0; lb < 5; ++lb) {
      INFO("layouts " << la << ", " << lb);
      const auto a = batch_in_layout(5, 37, 19, la, gen), b = batch_in_layout(5, 19, 23, lb, gen);
      const auto expected = torch::bmm(a, b);
      CHECK(t::max_abs(gpm::bmm(a, b) - expected) <= 1e-5 * t::max_abs(expected));
    }
  }
  // Attention-like: f = Σ c ⊙ tanh(a b); its gradients in a and b, and the gradient in b of ‖∇_a f‖²;
  // each operand row-major or transposed (whose gradient comes in its layout).
  const auto o = t::options<float>();
  for (const bool a_transposed : {false, true}) {
    CAPTURE(a_transposed);
    const auto derivatives = [&](auto&& product) {
      auto g = t::generator(35);
      const auto a = (a_transposed ? torch::randn({3, 17, 24}, g, o).transpose(1, 2) : torch::randn({3, 24, 17}, g, o))
                         .requires_grad_();
      const auto b = (a_transposed ? torch::randn({3, 17, 20}, g, o) : torch::randn({3, 20, 17}, g, o).transpose(1, 2))
                         .requires_grad_();
      const auto c = torch::randn({3, 24, 20}, g, o);
      const auto f = (c * product(a, b).tanh()).sum();
      auto all = torch::autograd::grad({f}, {a, b}, {}, true, true);
      all.push_back(torch::autograd::grad({all[0].square().sum()}, {b})[0]);
      return all;
    };
    const auto ours = derivatives([](const auto& a, const auto& b) { return gpm::bmm(a, b); });
    const auto libtorch = derivatives([](const auto& a, const auto& b) { return torch::bmm(a, b); });
    for (size_t i = 0; i < ours.size(); ++i) {
      INFO("derivative " << i);
      CHECK(t::max_abs(ours[i] - libtorch[i]) <= 1e-5 * (1 + t::max_abs(libtorch[i])));
    }
    // The transposed operand's gradient comes in its layout (unit stride along dimension 1).
    CHECK(ours[a_transposed ? 0 : 1].stride(1) == 1);
  }
  // Where oneDNN does not apply (double; a side under 16) the product is LibTorch's own, bit for bit.
  const auto x = torch::randn({2, 20, 18}, gen, t::options<double>()), y = torch::randn({2, 18, 17}, gen, t::options<double>());
  CHECK(torch::equal(gpm::bmm(x, y), torch::bmm(x, y)));
  const auto thin = torch::randn({2, 64, 2}, gen, o), wide = torch::randn({2, 2, 64}, gen, o);
  CHECK(torch::equal(gpm::bmm(thin, wide), torch::bmm(thin, wide)));
  CHECK_THROWS(gpm::bmm(torch::randn({2, 32, 24}, gen, o), torch::randn({3, 24, 32}, gen, o)));
}

TEST_CASE("gpm::upsample_nearest2x is LibTorch's nearest upsampling by 2, with its first and second derivatives",
          "[core][numeric]") {
  auto gen = t::generator(36);
  const auto o = t::options<float>();
  // Widths with and without a remainder of four columns; a transposed (non-contiguous) input.
  for (const auto& x : {torch::randn({3, 5, 6, 8}, gen, o), torch::randn({2, 3, 4, 7}, gen, o),
                        torch::randn({2, 3, 9, 6}, gen, o).transpose(2, 3)}) {
    CAPTURE(x.sizes());
    const auto size = std::vector<int64_t>{2 * x.size(2), 2 * x.size(3)};
    CHECK(torch::equal(gpm::upsample_nearest2x(x), at::upsample_nearest2d(x, size)));
    const auto g = torch::randn({x.size(0), x.size(1), size[0], size[1]}, gen, o);
    const auto derivatives = [&](auto&& upsample) {
      const auto input = x.detach().requires_grad_();
      const auto weights = g.clone().requires_grad_();
      const auto grad_x = torch::autograd::grad({(upsample(input) * weights).sum()}, {input}, {}, true, true)[0];
      return std::vector<torch::Tensor>{grad_x, torch::autograd::grad({grad_x.square().sum()}, {weights})[0]};
    };
    const auto ours = derivatives([](const auto& v) { return gpm::upsample_nearest2x(v); });
    const auto libtorch = derivatives([&](const auto& v) { return at::upsample_nearest2d(v, size); });
    for (size_t i = 0; i < ours.size(); ++i) {
      INFO("derivative " << i);
      CHECK(t::max_abs(ours[i] - libtorch[i]) <= 1e-6 * (1 + t::max_abs(libtorch[i])));
    }
  }
  const auto d = torch::randn({2, 2, 3, 3}, gen, t::options<double>());
  CHECK(torch::equal(gpm::upsample_nearest2x(d), at::upsample_nearest2d(d, {6, 6})));
  REQUIRE_THROWS_WITH(gpm::upsample_nearest2x(torch::randn({4, 3, 3}, gen, o)),
                      Catch::Matchers::Contains("x must be images [N, C, H, W], got 3 dimensions"));
}
