// Network building blocks: the reference MLP convention and parameter count, Fourier and positional
// embeddings, Fourier features of the input, TimeMlp, EDM preconditioning coefficients, weight
// initialisations, and their errors.
#include <numbers>
#include <sstream>

#include "gpm/gpm.hpp"
#include "gpm/nn.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;
namespace nn = gpm::nn;

namespace {

std::vector<torch::nn::LinearImpl*> linear_layers(torch::nn::Module& module) {
  std::vector<torch::nn::LinearImpl*> out;
  for (const auto& m : module.modules()) {
    if (auto* l = m->as<torch::nn::Linear>()) out.push_back(l);
  }
  return out;
}

template <class Impl>
int64_t count_modules(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& m : module.modules())
    if (dynamic_cast<Impl*>(m.get()) != nullptr) ++n;
  return n;
}

int64_t parameter_count(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

// F(u, c) = 1 everywhere; records its inputs so the test can read c_in and c_noise back.
struct RecorderImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& u, const torch::Tensor& c_noise) {
    last_input = u;
    last_noise = c_noise;
    return torch::ones_like(u);
  }
  torch::Tensor last_input, last_noise;
};
TORCH_MODULE(Recorder);

static_assert(nn::ConditionedNetwork<nn::TimeMlp>);
static_assert(nn::ConditionedNetwork<Recorder>);
static_assert(!nn::ConditionedNetwork<nn::Mlp>);  // forward(x) takes no scalar
static_assert(gpm::Denoiser<nn::EdmPreconditioned<nn::TimeMlp>>);
static_assert(gpm::Denoiser<nn::EdmPreconditioned<Recorder>>);
static_assert(gpm::Flow<gpm::ScoreFlow<nn::EdmMlpDenoiser>>);
static_assert(gpm::Module<nn::Mlp>);

}  // namespace

TEST_CASE("Mlp follows the reference convention: depth activations, depth + 1 Linear layers", "[nn][mlp]") {
  const int64_t in = 6, out = 3, width = 16;
  for (int64_t depth : {0, 1, 4}) {
    for (bool bn : {false, true}) {
      CAPTURE(depth, bn);
      nn::Mlp mlp(nn::MlpOptions(in, out).width(width).depth(depth).batch_norm(bn));
      const auto linears = linear_layers(*mlp);
      REQUIRE(static_cast<int64_t>(linears.size()) == depth + 1);
      // LibTorch's Linear (its parameters, names and initialisation), computed by gpm::linear.
      CHECK(count_modules<gpm::nn::LinearImpl>(*mlp) == depth + 1);
      CHECK(count_modules<torch::nn::LeakyReLUImpl>(*mlp) == depth);
      CHECK(count_modules<gpm::nn::BatchNormImpl>(*mlp) == (bn ? depth : 0));
      // Shapes: Linear(in, W), Linear(W, W) ..., Linear(W, out); weights are [out_features, in_features].
      CHECK(linears.front()->weight.sizes() == torch::IntArrayRef({depth > 0 ? width : out, in}));
      CHECK(linears.back()->weight.sizes() == torch::IntArrayRef({out, depth > 0 ? width : in}));
      for (size_t i = 1; i + 1 < linears.size(); ++i)
        CHECK(linears[i]->weight.sizes() == torch::IntArrayRef({width, width}));
      // (in + 1) W + (L − 1)(W + 1) W + (W + 1) out, plus 2 W per BatchNorm; L = 0: (in + 1) out.
      const int64_t expected = depth == 0 ? (in + 1) * out
                                          : (in + 1) * width + (depth - 1) * (width + 1) * width +
                                                (width + 1) * out + (bn ? 2 * width * depth : 0);
      CHECK(parameter_count(*mlp) == expected);
    }
  }
  // The default 4 x 512 discriminator of the 2-D experiments: 789,505 parameters.
  nn::Mlp disc(nn::MlpOptions(2, 1));
  CHECK(parameter_count(*disc) == 3 * 512 + 3 * 513 * 512 + 513);
}

TEST_CASE("Mlp names its parameters like the reference and applies the chosen activation", "[nn][mlp]") {
  nn::Mlp mlp(nn::MlpOptions(2, 1).width(8).depth(2).batch_norm(true));
  const auto params = mlp->named_parameters();
  for (const char* name : {"mlp.0.weight", "mlp.0.bias", "mlp.1.0.weight", "mlp.1.2.weight", "mlp.2.2.bias"})
    CHECK(params.contains(name));
  auto* leaky = mlp->mlp[1]->modules()[2]->as<torch::nn::LeakyReLU>();
  REQUIRE(leaky != nullptr);
  CHECK(leaky->options.negative_slope() == 0.2);
  nn::Mlp relu(nn::MlpOptions(2, 1).width(8).depth(2).activation(nn::Activation::relu));
  nn::Mlp silu(nn::MlpOptions(2, 1).width(8).depth(2).activation(nn::Activation::silu));
  CHECK(count_modules<torch::nn::ReLUImpl>(*relu) == 2);
  CHECK(count_modules<torch::nn::SiLUImpl>(*silu) == 2);
}

TEMPLATE_TEST_CASE("Mlp flattens non-batch dimensions and returns [N, out]", "[nn][mlp]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(11);
  nn::Mlp mlp(nn::MlpOptions(12, 5).width(32).depth(3));
  t::to_test_dtype<TestType>(*mlp);
  const auto x = torch::randn({7, 3, 2, 2}, gen, o);
  const auto y = mlp(x);
  REQUIRE(y.sizes() == torch::IntArrayRef({7, 5}));
  CHECK(y.scalar_type() == t::dtype<TestType>());
  CHECK(t::max_abs(y - mlp(x.flatten(1))) == 0.0);
}

TEST_CASE("Mlp and its options reject bad input with clear messages", "[nn][mlp][errors]") {
  const auto o = gpm::io::read_options(nlohmann::json{{"activation", "silu"}, {"width", 8}}, nn::MlpOptions(), "mlp");
  CHECK(o.activation() == nn::Activation::silu);
  CHECK(o.width() == 8);
  REQUIRE_THROWS_WITH(gpm::io::read_options(nlohmann::json{{"activation", "tanh"}}, nn::MlpOptions(), "mlp"),
                      Contains("field 'activation' must be one of relu, leaky_relu, silu; got \"tanh\""));
  REQUIRE_THROWS_WITH(gpm::io::read_options(nlohmann::json{{"activation", "ReLU"}}, nn::MlpOptions(), "mlp"),
                      Contains("must be one of"));
  REQUIRE_THROWS_WITH(nn::Mlp(nn::MlpOptions().width(4)), Contains("in and out must be > 0"));
  REQUIRE_THROWS_WITH(nn::Mlp(nn::MlpOptions(2, 1).depth(-1)), Contains("depth must be >= 0"));
  REQUIRE_THROWS_WITH(nn::Mlp(nn::MlpOptions(0, 1)), Contains("in and out must be > 0"));
  nn::Mlp mlp(nn::MlpOptions(2, 1).width(4).depth(1));
  REQUIRE_THROWS_WITH(mlp(torch::zeros({5, 3})), Contains("built with in = 2"));
  REQUIRE_THROWS_WITH(mlp(torch::zeros({5})), Contains("at least 2 dims"));
}

TEST_CASE("gpm::nn::BatchNorm is LibTorch's batch norm outside synchronised data-parallel training", "[nn][batch_norm]") {
  for (const auto& shape : {std::vector<int64_t>{8, 3}, std::vector<int64_t>{4, 3, 5, 5}}) {
    INFO("input of " << shape.size() << " dimensions");
    auto gen = gpm::make_generator(3);
    gpm::nn::BatchNorm ours(3);
    torch::nn::BatchNorm2d theirs(3);
    {
      const torch::NoGradGuard no_grad;
      ours->weight.copy_(torch::rand({3}, gen) + 0.5);
      ours->bias.copy_(torch::randn({3}, gen));
      theirs->weight.copy_(ours->weight);
      theirs->bias.copy_(ours->bias);
    }
    const auto plain = [&](const torch::Tensor& x) {  // LibTorch's module for any rank, as F.batch_norm
      return torch::batch_norm(x, theirs->weight, theirs->bias, theirs->running_mean, theirs->running_var,
                               theirs->is_training(), 0.1, 1e-5, true);
    };
    for (int step = 0; step < 2; ++step) {  // training: batch statistics, running statistics updated
      const auto x = torch::randn(shape, gen) * 3 + 1;
      const auto a = ours(x), b = plain(x);
      CHECK(torch::allclose(a, b, 1e-5, 1e-6));
      const auto w = torch::randn(a.sizes(), gen);
      const auto ga = torch::autograd::grad({(a * w).sum()}, {ours->weight, ours->bias});
      const auto gb = torch::autograd::grad({(b * w).sum()}, {theirs->weight, theirs->bias});
      CHECK((torch::allclose(ga[0], gb[0], 1e-4, 1e-5) && torch::allclose(ga[1], gb[1], 1e-4, 1e-5)));
    }
    CHECK(torch::allclose(ours->running_mean, theirs->running_mean));
    CHECK(torch::allclose(ours->running_var, theirs->running_var));
    CHECK(ours->num_batches_tracked.item<int64_t>() == 2);
    ours->eval();
    theirs->eval();
    const auto x = torch::randn(shape, gen);
    CHECK(torch::allclose(ours(x), plain(x), 1e-5, 1e-6));  // eval: the running statistics
  }
  // The same parameters and buffers under the same names: checkpoints load into either.
  std::vector<std::string> ours_names, theirs_names;
  for (const auto& item : gpm::nn::BatchNorm(3)->named_parameters()) ours_names.push_back(item.key());
  for (const auto& item : gpm::nn::BatchNorm(3)->named_buffers()) ours_names.push_back(item.key());
  for (const auto& item : torch::nn::BatchNorm1d(3)->named_parameters()) theirs_names.push_back(item.key());
  for (const auto& item : torch::nn::BatchNorm1d(3)->named_buffers()) theirs_names.push_back(item.key());
  CHECK(ours_names == theirs_names);
  CHECK_THROWS_WITH(gpm::nn::BatchNorm(3)(torch::zeros({4, 2})), Catch::Matchers::Contains("expected an input [N, 3, ...]"));
}

TEMPLATE_TEST_CASE("Fourier embedding is [cos 2 pi s f, sin 2 pi s f] with fixed frequencies", "[nn][embedding][numeric]", float,
                   double) {
  const auto o = t::options<TestType>();
  nn::FourierEmbedding embed(nn::FourierEmbeddingOptions(8).seed(5));
  t::to_test_dtype<TestType>(*embed);
  const auto s = torch::tensor({-0.3, 0.0, 0.01, 0.7}, o);
  const auto e = embed(s);
  REQUIRE(e.sizes() == torch::IntArrayRef({4, 8}));
  const auto f = embed->freqs;
  REQUIRE(f.sizes() == torch::IntArrayRef({4}));
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t k = 0; k < 4; ++k) {
      const double phase = 2.0 * std::numbers::pi * s[n].template item<double>() * f[k].template item<double>();
      // Phases reach ~ 2 pi · 0.7 · 40: float rounding of the phase dominates the error there.
      const double tol = std::is_same_v<TestType, float> ? 2e-4 * (1.0 + std::abs(phase)) : 1e-12;
      CHECK(std::abs(e[n][k].template item<double>() - std::cos(phase)) < tol);
      CHECK(std::abs(e[n][k + 4].template item<double>() - std::sin(phase)) < tol);
    }
}

TEST_CASE("Fourier frequencies are a saved buffer, not a parameter, and are fixed by the seed", "[nn][embedding]") {
  nn::FourierEmbedding a(nn::FourierEmbeddingOptions(16).seed(3));
  nn::FourierEmbedding same(nn::FourierEmbeddingOptions(16).seed(3));
  nn::FourierEmbedding other(nn::FourierEmbeddingOptions(16).seed(4));
  CHECK(a->parameters().empty());
  REQUIRE(a->named_buffers().contains("freqs"));
  CHECK(!a->freqs.requires_grad());
  CHECK(torch::equal(a->freqs, same->freqs));
  CHECK(!torch::equal(a->freqs, other->freqs));
  // Saved and loaded with the module: a module built with another seed gets the saved frequencies.
  std::stringstream stream;
  torch::save(a, stream);
  torch::load(other, stream);
  CHECK(torch::equal(a->freqs, other->freqs));
  // Frequencies ~ N(0, scale²): 10,000 draws give the std to about 0.7 % (margin 3 %).
  nn::FourierEmbedding big(nn::FourierEmbeddingOptions(20000).scale(16).seed(1));
  CHECK(big->freqs.std().item<double>() == Approx(16.0).epsilon(0.03));
  CHECK(std::abs(big->freqs.mean().item<double>()) < 0.5);  // standard error 0.16
}

TEMPLATE_TEST_CASE("Positional embedding frequencies run from 1 to 1/max_positions (endpoint)", "[nn][embedding][numeric]", float,
                   double) {
  const auto o = t::options<TestType>();
  nn::PositionalEmbedding embed(nn::PositionalEmbeddingOptions(10).max_positions(10000));
  const auto f = embed->frequencies(o);
  REQUIRE(f.sizes() == torch::IntArrayRef({5}));
  CHECK(f[0].template item<double>() == Approx(1.0).epsilon(t::eps<TestType>()));
  CHECK(f[4].template item<double>() == Approx(1e-4).epsilon(t::eps<TestType>()));
  CHECK(f[2].template item<double>() == Approx(1e-2).epsilon(t::eps<TestType>()));  // (1e-4)^(2/4)
  CHECK(embed->parameters().empty());
  const auto s = torch::tensor({0.5, -2.0, 3.0}, o);
  const auto e = embed(s);
  REQUIRE(e.sizes() == torch::IntArrayRef({3, 10}));
  const auto phase = s.unsqueeze(1) * f.unsqueeze(0);
  CHECK(t::max_abs(e - torch::cat({phase.cos(), phase.sin()}, 1)) < t::eps<TestType>());
  CHECK(e[0][0].template item<double>() == Approx(std::cos(0.5)).epsilon(t::eps<TestType>()));
  // E = 2: a single frequency 1.
  nn::PositionalEmbedding two(nn::PositionalEmbeddingOptions(2));
  CHECK(t::max_abs(two(s) - torch::stack({s.cos(), s.sin()}, 1)) < t::eps<TestType>());
}

TEST_CASE("embeddings refuse odd or too small sizes and malformed inputs", "[nn][embedding][errors]") {
  REQUIRE_THROWS_WITH(nn::FourierEmbedding(7), Contains("size must be even and >= 2") && Contains("got 7"));
  REQUIRE_THROWS_WITH(nn::FourierEmbedding(0), Contains("size must be even and >= 2"));
  REQUIRE_THROWS_WITH(nn::PositionalEmbedding(3), Contains("size must be even and >= 2"));
  REQUIRE_THROWS_WITH(nn::FourierEmbedding(nn::FourierEmbeddingOptions(4).scale(0)), Contains("scale must be"));
  nn::FourierEmbedding f(4);
  REQUIRE_THROWS_WITH(f(torch::zeros({3, 1})), Contains("s must have shape [N]"));
  REQUIRE_THROWS_WITH(f(torch::zeros({3}, torch::kFloat64)), Contains("dtype"));
  REQUIRE_THROWS_WITH(nn::TimeMlp(nn::TimeMlpOptions(2, 1).embedding_size(5)), Contains("size must be even"));
  CHECK(gpm::option_value<nn::Embedding>("positional") == nn::Embedding::positional);
  REQUIRE_THROWS_WITH(gpm::io::read_options(nlohmann::json{{"embedding", "sinusoidal"}}, nn::TimeMlpOptions(), "time_mlp"),
                      Contains("must be one of fourier, positional"));
}

TEMPLATE_TEST_CASE("TimeMlp is an Mlp on [flatten(x), emb(s)]", "[nn][time_mlp]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(12);
  for (auto kind : {nn::Embedding::fourier, nn::Embedding::positional}) {
    CAPTURE(gpm::option_name(kind));
    nn::TimeMlp net(nn::TimeMlpOptions(4, 3).mlp(nn::MlpOptions().width(32).depth(2)).embedding(kind).embedding_size(16));
    t::to_test_dtype<TestType>(*net);
    REQUIRE(linear_layers(*net->model).front()->weight.size(1) == 4 + 16);
    const auto x = torch::randn({5, 1, 2, 2}, gen, o);
    const auto s = torch::rand({5}, gen, o);
    const auto y = net(x, s);
    REQUIRE(y.sizes() == torch::IntArrayRef({5, 3}));
    CHECK(t::max_abs(y - net->model(torch::cat({x.flatten(1), net->embed(s)}, 1))) == 0.0);
    CHECK(t::max_abs(net(x, s + 0.25) - y) > 1e-4);  // the output depends on s
  }
  nn::TimeMlp fourier(nn::TimeMlpOptions(2, 1));
  CHECK(fourier->named_buffers().contains("embed.freqs"));
  CHECK(fourier->named_parameters().contains("model.mlp.0.weight"));
  REQUIRE_THROWS_WITH(fourier(torch::zeros({4, 2}), torch::zeros({3})), Contains("one scalar per particle"));
  REQUIRE_THROWS_WITH(fourier(torch::zeros({4, 3}), torch::zeros({4})), Contains("built with in = 2"));
}

TEMPLATE_TEST_CASE("Fourier features are [cos x W, sin x W] with a fixed, seeded W ~ N(0, scale^2)", "[nn][fourier_features][numeric]",
                   float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(13);
  nn::FourierFeatures features(nn::FourierFeaturesOptions(3, 8).scale(2.0).seed(5));
  t::to_test_dtype<TestType>(*features);
  REQUIRE(features->weights.sizes() == torch::IntArrayRef({3, 4}));
  CHECK(features->parameters().empty());
  REQUIRE(features->named_buffers().contains("weights"));
  const auto x = torch::randn({6, 3}, gen, o);
  const auto phi = features(x);
  REQUIRE(phi.sizes() == torch::IntArrayRef({6, 8}));
  const auto phase = x.matmul(features->weights);
  CHECK(t::max_abs(phi - torch::cat({phase.cos(), phase.sin()}, 1)) < 10 * t::eps<TestType>());
  // cos² + sin² = 1 for each frequency.
  CHECK(t::max_abs(phi.narrow(1, 0, 4).square() + phi.narrow(1, 4, 4).square() - 1) < 10 * t::eps<TestType>());
  nn::FourierFeatures same(nn::FourierFeaturesOptions(3, 8).scale(2.0).seed(5));
  nn::FourierFeatures other(nn::FourierFeaturesOptions(3, 8).scale(2.0).seed(6));
  CHECK(torch::equal(same->weights, features->weights.to(torch::kFloat32)));
  CHECK(!torch::equal(other->weights, same->weights));
  // W ~ N(0, scale²): 20,000 draws give the std to about 0.5 % (margin 3 %).
  nn::FourierFeatures big(nn::FourierFeaturesOptions(2, 20000).scale(3.0).seed(1));
  CHECK(big->weights.std().item<double>() == Approx(3.0).epsilon(0.03));
  CHECK(std::abs(big->weights.mean().item<double>()) < 0.1);  // standard error 0.02
}

TEST_CASE("Fourier features refuse odd sizes, bad scales and inputs of the wrong width", "[nn][fourier_features][errors]") {
  REQUIRE_THROWS_WITH(nn::FourierFeatures(nn::FourierFeaturesOptions(2, 7)), Contains("FourierFeatures: size must be even and >= 2") && Contains("got 7"));
  REQUIRE_THROWS_WITH(nn::FourierFeatures(nn::FourierFeaturesOptions(0, 8)), Contains("in must be >= 1"));
  REQUIRE_THROWS_WITH(nn::FourierFeatures(nn::FourierFeaturesOptions(2, 8).scale(0)), Contains("scale must be finite and > 0"));
  nn::FourierFeatures features(nn::FourierFeaturesOptions(2, 8));
  REQUIRE_THROWS_WITH(features(torch::zeros({4, 3})), Contains("x has shape [4, 3], expected [N, 2]"));
  REQUIRE_THROWS_WITH(features(torch::zeros({4, 2}, torch::kFloat64)), Contains("dtype"));
  REQUIRE_THROWS_WITH(nn::TimeMlp(nn::TimeMlpOptions(2, 1).mlp(nn::MlpOptions().input_features(-2))), Contains("mlp.input_features must be >= 0"));
  REQUIRE_THROWS_WITH(nn::Mlp(nn::MlpOptions(2, 1).input_features(-2)), Contains("Mlp: input_features must be >= 0"));
}

TEMPLATE_TEST_CASE("Mlp with input_features is an Mlp on [flatten(x), phi(flatten(x))]", "[nn][mlp]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(15);
  nn::Mlp net(nn::MlpOptions(4, 3).width(32).depth(2).input_features(10).input_feature_scale(0.5).input_feature_seed(9));
  t::to_test_dtype<TestType>(*net);
  REQUIRE(net->input_features);
  REQUIRE(linear_layers(*net).front()->weight.size(1) == 4 + 10);
  CHECK(net->named_buffers().contains("input_features.weights"));
  CHECK(net->input_features->options().scale() == 0.5);
  nn::FourierFeatures same_draw(nn::FourierFeaturesOptions(4, 10).scale(0.5).seed(9));
  CHECK(torch::equal(net->input_features->weights, same_draw->weights.to(o.dtype())));
  const auto x = torch::randn({5, 2, 2}, gen, o);
  const auto flat = x.flatten(1);
  CHECK(t::max_abs(net(x) - net->mlp->forward(torch::cat({flat, net->input_features(flat)}, 1))) == 0.0);
  nn::Mlp plain(nn::MlpOptions(4, 3));
  CHECK(!plain->input_features);
}

TEMPLATE_TEST_CASE("TimeMlp with input_features is an Mlp on [flatten(x), phi(flatten(x)), emb(s)]", "[nn][time_mlp]", float,
                   double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(14);
  nn::TimeMlp net(nn::TimeMlpOptions(4, 1).mlp(nn::MlpOptions().width(32).depth(2).input_features(10).input_feature_scale(0.5))
                      .embedding_size(16));
  t::to_test_dtype<TestType>(*net);
  REQUIRE(net->input_features);
  REQUIRE(linear_layers(*net->model).front()->weight.size(1) == 4 + 10 + 16);
  CHECK(net->named_buffers().contains("input_features.weights"));
  CHECK(net->input_features->options().scale() == 0.5);
  const auto x = torch::randn({5, 2, 2}, gen, o);
  const auto s = torch::rand({5}, gen, o);
  const auto flat = x.flatten(1);
  CHECK(t::max_abs(net(x, s) - net->model(torch::cat({flat, net->input_features(flat), net->embed(s)}, 1))) == 0.0);
  nn::TimeMlp plain(nn::TimeMlpOptions(4, 1));
  CHECK(!plain->input_features);
}

TEMPLATE_TEST_CASE("TimeMlp with one s for every particle equals the Mlp on the concatenation, gradients included",
                   "[nn][time_mlp][numeric]", float, double) {
  // The embedding's share of the input layer is then one row's product, added to every row.
  const auto o = t::options<TestType>();
  const double tol = std::is_same_v<TestType, float> ? 1e-5 : 1e-12;
  auto gen = t::generator(16);
  for (const bool features : {false, true}) {
    for (const bool batch_norm : {false, true}) {
      CAPTURE(features, batch_norm);
      nn::TimeMlp net(nn::TimeMlpOptions(3, 2)
                          .mlp(nn::MlpOptions().width(32).depth(2).batch_norm(batch_norm).input_features(features ? 6 : 0))
                          .embedding_size(16));
      t::to_test_dtype<TestType>(*net);
      const auto x = torch::randn({20, 3}, gen, o).requires_grad_(true);
      for (const auto& s : {torch::full({20}, 0.3, o), torch::full({1}, 0.3, o).expand({20})}) {
        REQUIRE(nn::detail::same_for_every_particle(s));
        const auto inputs = features ? torch::cat({x, net->input_features(x)}, 1) : x;
        const auto expected = net->model(torch::cat({inputs, net->embed(s)}, 1));
        const auto y = net(x, s);
        const double scale = t::max_abs(expected);
        CHECK(t::max_abs(y - expected) <= tol * scale);
        // Each output's gradients with respect to x and to every parameter.
        const auto weights = torch::randn_like(y);
        const auto params = net->parameters();
        std::vector<torch::Tensor> wrt{x};
        wrt.insert(wrt.end(), params.begin(), params.end());
        const auto got = torch::autograd::grad({(y * weights).sum()}, wrt);
        const auto want = torch::autograd::grad({(expected * weights).sum()}, wrt);
        // Relative to the largest gradient: the input layer's bias has none under batch norm, but rounding.
        double largest = 0;
        for (const auto& g : want) largest = std::max(largest, t::max_abs(g));
        for (size_t i = 0; i < wrt.size(); ++i) {
          INFO("gradient " << i << ": " << t::max_abs(got[i] - want[i]) << " of " << largest);
          CHECK(t::max_abs(got[i] - want[i]) <= tol * largest);
        }
      }
    }
  }
  // Scalars that differ, or that need their own gradients, take the concatenation.
  CHECK_FALSE(nn::detail::same_for_every_particle(torch::tensor({0.3, 0.3, 0.2}, o)));
  CHECK_FALSE(nn::detail::same_for_every_particle(torch::full({1}, 0.3, o)));
  const auto s = torch::full({4}, 0.3, o).requires_grad_(true);
  CHECK_FALSE(nn::detail::same_for_every_particle(s));
  nn::TimeMlp net(nn::TimeMlpOptions(2, 1).mlp(nn::MlpOptions().width(16).depth(1)).embedding_size(8));
  t::to_test_dtype<TestType>(*net);
  const auto x = torch::randn({4, 2}, gen, o);
  const auto ds = torch::autograd::grad({net(x, s).sum()}, {s})[0];
  const auto each = torch::autograd::grad({net->model(torch::cat({x, net->embed(s)}, 1)).sum()}, {s})[0];
  CHECK(t::max_abs(ds - each) <= tol * (1 + t::max_abs(each)));
  CHECK(t::max_abs(ds) > 0);
  REQUIRE_THROWS_WITH(nn::Mlp(nn::MlpOptions(4, 1).input_features(4))->forward_with_shared_row(x, torch::zeros({1, 2}, o)),
                      Contains("input features"));
  REQUIRE_THROWS_WITH(nn::Mlp(nn::MlpOptions(4, 1))->forward_with_shared_row(x, torch::zeros({1, 3}, o)),
                      Contains("expected x [N, k] and row [1, 4 − k]"));
}

TEMPLATE_TEST_CASE("EDM preconditioning at sigma = sigma_data: c_skip 1/2, c_out sd/sqrt 2, c_in 1/(sd sqrt 2)",
                   "[nn][edm][numeric]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(13);
  const double sd = 0.5;
  nn::EdmPreconditioned denoiser{Recorder(), nn::EdmPreconditioningOptions().sigma_data(sd)};
  auto& recorder = denoiser->net;
  const auto x = torch::randn({6, 3}, gen, o) + 0.5;
  const auto sigma = torch::full({6}, sd, o);
  // F = 1, so D(x, σ) = c_skip x + c_out.
  const auto d0 = denoiser(torch::zeros_like(x), sigma);
  CHECK(t::max_abs(d0 - sd / std::sqrt(2.0)) < t::eps<TestType>());
  const auto d = denoiser(x, sigma);
  CHECK(t::max_abs(d - d0 - 0.5 * x) < t::eps<TestType>());
  CHECK(t::max_abs(recorder->last_input - x / (sd * std::sqrt(2.0))) < t::eps<TestType>());
  CHECK(t::max_abs(recorder->last_noise - std::log(sd) / 4.0) < t::eps<TestType>());
  // At other levels the coefficients follow Karras et al. Table 1.
  const auto s = torch::tensor({0.002, 0.1, 1.0, 7.0, 80.0}, o);
  const auto c = nn::edm_coefficients(s, sd);
  for (int64_t i = 0; i < 5; ++i) {
    const double v = s[i].template item<double>(), total = v * v + sd * sd;
    CHECK(c.c_skip[i].template item<double>() == Approx(sd * sd / total).epsilon(t::eps<TestType>()));
    CHECK(c.c_out[i].template item<double>() == Approx(v * sd / std::sqrt(total)).epsilon(t::eps<TestType>()));
    CHECK(c.c_in[i].template item<double>() == Approx(1.0 / std::sqrt(total)).epsilon(t::eps<TestType>()));
    CHECK(c.c_noise[i].template item<double>() == Approx(std::log(v) / 4.0).epsilon(t::eps<TestType>()));
  }
  // Per-particle σ: particle i uses its own coefficients.
  const auto xs = torch::randn({5, 2}, gen, o);
  const auto ds = denoiser(xs, s);
  CHECK(t::max_abs(ds - (c.c_skip.unsqueeze(1) * xs + c.c_out.unsqueeze(1))) < t::eps<TestType>());
}

TEMPLATE_TEST_CASE("EDM denoiser on a TimeMlp keeps x's shape and tends to the identity as sigma -> 0", "[nn][edm][numeric]", float,
                   double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(14);
  auto denoiser = nn::make_edm_denoiser(nn::TimeMlp(nn::TimeMlpOptions(4, 4).mlp(nn::MlpOptions().width(32).depth(2))),
                                        nn::EdmPreconditioningOptions().sigma_max(40));
  t::to_test_dtype<TestType>(*denoiser);
  CHECK(denoiser->sigma_data() == 0.5);
  CHECK(denoiser->sigma_min() == 0.002);
  CHECK(denoiser->sigma_max() == 40.0);
  const auto x = torch::randn({8, 1, 2, 2}, gen, o);
  const auto sigma = torch::rand({8}, gen, o) * 5.0 + 0.01;
  const auto d = denoiser(x, sigma);
  REQUIRE(d.sizes() == x.sizes());
  // D = c_skip x + c_out F(c_in x, c_noise), F being the TimeMlp.
  const auto c = nn::edm_coefficients(sigma, 0.5);
  const auto f = denoiser->net(x * c.c_in.view({8, 1, 1, 1}), c.c_noise).view(x.sizes());
  CHECK(t::max_abs(d - (c.c_skip.view({8, 1, 1, 1}) * x + c.c_out.view({8, 1, 1, 1}) * f)) < 10 * t::eps<TestType>());
  // Skip path: D − x = (c_skip − 1) x + c_out F with c_skip − 1 ≈ −σ²/σ_d² and c_out ≈ σ, so D → x.
  for (double tiny : {1e-3, 1e-6}) {
    const auto level = torch::full({8}, tiny, o);
    const auto ct = nn::edm_coefficients(level, 0.5);
    const auto ft = denoiser->net(x * ct.c_in.view({8, 1, 1, 1}), ct.c_noise);
    REQUIRE(t::max_abs(ft) > 1e-3);  // the network path is not trivially zero
    const double bound = tiny * (t::max_abs(ft) + 4.0 * tiny * t::max_abs(x)) * 1.01 + t::eps<TestType>();
    CHECK(t::max_abs(denoiser(x, level) - x) < bound);
  }
  // The denoiser composes with the existing ScoreFlow.
  gpm::ScoreFlow flow(denoiser);
  CHECK(flow.velocity(x, sigma).sizes() == x.sizes());
}

TEST_CASE("EDM preconditioning rejects bad options and networks of the wrong output size", "[nn][edm][errors]") {
  REQUIRE_THROWS_WITH(nn::make_edm_denoiser(nn::TimeMlp(2, 2), nn::EdmPreconditioningOptions().sigma_data(0)),
                      Contains("sigma_data must be finite and > 0"));
  REQUIRE_THROWS_WITH(nn::make_edm_denoiser(nn::TimeMlp(2, 2), nn::EdmPreconditioningOptions().sigma_min(100)),
                      Contains("0 < sigma_min < sigma_max"));
  auto wrong = nn::make_edm_denoiser(nn::TimeMlp(nn::TimeMlpOptions(2, 1).mlp(nn::MlpOptions().width(8).depth(1))));
  REQUIRE_THROWS_WITH(wrong(torch::zeros({3, 2}), torch::ones({3})), Contains("one value per input element"));
  REQUIRE_THROWS_WITH(wrong(torch::zeros({3, 2}), torch::ones({2})), Contains("one time per particle"));
}

TEST_CASE("init_normal: weights N(0, std^2), biases 0, normalisation weights N(1, std^2); seeded", "[nn][init][numeric]") {
  nn::Mlp a(nn::MlpOptions(64, 64).width(512).depth(2).batch_norm(true));
  nn::Mlp b(nn::MlpOptions(64, 64).width(512).depth(2).batch_norm(true));
  auto gen_a = gpm::make_generator(21), gen_b = gpm::make_generator(21);
  nn::init_normal(a, 0.02, gen_a);
  nn::init_normal(*b, 0.02, gen_b);
  for (auto* l : linear_layers(*a)) {
    // ≥ 32,768 weights each: the std is known to 0.4 % (margin 3 %).
    CHECK(l->weight.std().item<double>() == Approx(0.02).epsilon(0.03));
    CHECK(std::abs(l->weight.mean().item<double>()) < 1e-3);
    CHECK(l->bias.abs().max().item<double>() == 0.0);
  }
  std::vector<torch::Tensor> bn_weights;
  for (const auto& m : a->modules())
    if (auto* bn = m->as<gpm::nn::BatchNorm>()) {
      bn_weights.push_back(bn->weight);
      CHECK(bn->bias.abs().max().item<double>() == 0.0);
    }
  REQUIRE(bn_weights.size() == 2);
  const auto w = torch::cat(bn_weights);  // 1,024 draws: mean to 6e-4, std to 2 %
  CHECK(w.mean().item<double>() == Approx(1.0).margin(0.003));
  CHECK(w.std().item<double>() == Approx(0.02).epsilon(0.1));
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) CHECK(torch::equal(pa[i], pb[i]));
}

TEMPLATE_TEST_CASE("init_orthogonal: flattened weights have orthonormal rows or columns times the gain", "[nn][init][numeric]",
                   float, double) {
  const double gain = 1.41;
  nn::Mlp mlp(nn::MlpOptions(3, 7).width(16).depth(2));
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(2, 5, 3));
  t::to_test_dtype<TestType>(*mlp);
  t::to_test_dtype<TestType>(*conv);
  auto gen = t::generator(22);
  nn::init_module(mlp, nn::Init::orthogonal, gain, gen);
  nn::init_orthogonal(conv, gain, gen);
  const auto o = t::options<TestType>();
  auto check = [&](const torch::Tensor& weight) {
    const auto m = weight.flatten(1);
    const auto small = m.size(0) <= m.size(1) ? m.matmul(m.t()) : m.t().matmul(m);
    CHECK(t::max_abs(small - gain * gain * torch::eye(small.size(0), o)) < 100 * t::eps<TestType>());
  };
  for (auto* l : linear_layers(*mlp)) {
    check(l->weight);
    CHECK(l->bias.abs().max().template item<double>() == 0.0);
  }
  check(conv->weight);  // [5, 18]: orthonormal rows
  CHECK(conv->bias.abs().max().template item<double>() == 0.0);
}

TEST_CASE("default init leaves LibTorch's weights; the schemes' config names", "[nn][init][errors]") {
  nn::Mlp mlp(nn::MlpOptions(3, 2).width(8).depth(1));
  std::vector<torch::Tensor> before;
  for (const auto& p : mlp->parameters()) before.push_back(p.clone());
  nn::init_module(mlp, nn::Init::libtorch_default, 0.02);
  const auto after = mlp->parameters();
  for (size_t i = 0; i < before.size(); ++i) CHECK(torch::equal(before[i], after[i]));
  CHECK(gpm::option_value<nn::Init>("default") == nn::Init::libtorch_default);
  CHECK(gpm::option_names_of<nn::Init>() == std::vector<std::string>{"default", "normal", "orthogonal"});
  CHECK_FALSE(gpm::option_value<nn::Init>("xavier"));
  REQUIRE_THROWS_WITH(nn::init_normal(mlp, -1.0), Contains("stddev must be >= 0"));
}

TEMPLATE_TEST_CASE("LeNet reads flat images as C × H × W and returns its features and logits", "[nn][lenet]", float, double) {
  const auto o = t::options<TestType>();
  auto gen = t::generator(12);
  nn::LeNet net(nn::LeNetOptions(gpm::ImageShape{1, 32, 32}, 10));
  t::to_test_dtype<TestType>(*net);
  const auto x = torch::rand({5, 1024}, gen, o) * 2 - 1;
  const auto features = net->features(x), logits = net->forward(x);
  REQUIRE(features.sizes() == torch::IntArrayRef({5, 84}));
  REQUIRE(logits.sizes() == torch::IntArrayRef({5, 10}));
  CHECK(features.min().template item<double>() >= 0.0);  // after ReLU
  CHECK(t::max_abs(logits - net->fc3->forward(features)) == 0.0);
  // The layers by hand on the [N, 1, 32, 32] view: 16 × 14 × 14 after the first pooling, 32 × 5 × 5 after the second.
  namespace F = torch::nn::functional;
  auto h = F::max_pool2d(torch::relu(F::conv2d(x.view({5, 1, 32, 32}), net->conv1->weight,
                                               F::Conv2dFuncOptions().bias(net->conv1->bias))), F::MaxPool2dFuncOptions(2));
  h = F::max_pool2d(torch::relu(F::conv2d(h, net->conv2->weight, F::Conv2dFuncOptions().bias(net->conv2->bias))),
                    F::MaxPool2dFuncOptions(2));
  REQUIRE(h.sizes() == torch::IntArrayRef({5, 32, 5, 5}));
  const auto by_hand = torch::relu(net->fc2->forward(torch::relu(net->fc1->forward(h.flatten(1)))));
  CHECK(t::max_abs(features - by_hand) < 100 * t::eps<TestType>());
  // (1·25 + 1)·16 + (16·25 + 1)·32 + (800 + 1)·128 + (128 + 1)·84 + (84 + 1)·10 parameters.
  CHECK(parameter_count(*net) == 416 + 12832 + 102528 + 10836 + 850);
}

TEST_CASE("LeNet takes other image shapes and options and refuses what it cannot read", "[nn][lenet][errors]") {
  nn::LeNet rgb(nn::LeNetOptions(gpm::ImageShape{3, 28, 20}, 4).conv1_channels(6).conv2_channels(8).hidden(20).features(12));
  CHECK(rgb->fc1->weight.sizes() == torch::IntArrayRef({20, 8 * 4 * 2}));  // 28 → 24 → 12 → 8 → 4; 20 → 16 → 8 → 4 → 2
  CHECK(rgb->features(torch::zeros({2, 3 * 28 * 20})).sizes() == torch::IntArrayRef({2, 12}));
  CHECK(rgb->forward(torch::zeros({2, 3 * 28 * 20})).sizes() == torch::IntArrayRef({2, 4}));
  nn::LeNet net(nn::LeNetOptions(gpm::ImageShape{1, 32, 32}, 10));
  REQUIRE_THROWS_WITH(net->forward(torch::zeros({2, 1000})), Contains("expected particles of 1×32×32 = 1024 values each"));
  REQUIRE_THROWS_WITH(nn::LeNet(nn::LeNetOptions(gpm::ImageShape{1, 12, 32}, 10)),
                      Contains("LeNet: the image is 1×12×32, expected at least 1 channel and 16×16 pixels"));
  REQUIRE_THROWS_WITH(nn::LeNet(nn::LeNetOptions(gpm::ImageShape{1, 32, 32}, 1)), Contains("classes must be >= 2, got 1"));
  const auto o = gpm::io::read_options(nlohmann::json{{"conv1_channels", 8}, {"features", 64}}, nn::LeNetOptions(), "lenet");
  CHECK(o.conv1_channels() == 8);
  CHECK(o.features() == 64);
}

TEST_CASE("Mlp with batch norm refuses a training batch of one row, naming why", "[nn][mlp][errors]") {
  nn::Mlp mlp(nn::MlpOptions(2, 1).width(4).depth(2).batch_norm(true));
  REQUIRE_THROWS_AS(mlp(torch::zeros({1, 2})), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(mlp(torch::zeros({1, 2})), Contains("Mlp::forward: x has 1 row, but batch norm in training mode") &&
                                                     Contains("needs at least 2"));
  CHECK(mlp(torch::zeros({2, 2})).sizes() == torch::IntArrayRef({2, 1}));
  mlp->eval();  // the running statistics serve a single row
  CHECK(mlp(torch::zeros({1, 2})).sizes() == torch::IntArrayRef({1, 1}));
  nn::Mlp plain(nn::MlpOptions(2, 1).width(4).depth(2));
  CHECK(plain(torch::zeros({1, 2})).sizes() == torch::IntArrayRef({1, 1}));
}
