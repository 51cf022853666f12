// Convolutional image networks: spectral normalisation (against SVD, finite differences, save/load,
// eval mode, averaged state), FiLM, the DCGAN and ResNet generators and discriminators (flat shapes,
// dtypes, batch norm in eval mode, gradients, errors), their time conditioning, orthogonal init of
// convolutions, and one training step inside gpm::Generator and gpm::DiscriminatorFlow.
#include <sstream>
#include <string>

#include "gpm/gpm.hpp"
#include "gpm/io/config.hpp"
#include "gpm/nn.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;
namespace nn = gpm::nn;

namespace {

using LinearSn = nn::SpectralNorm<torch::nn::Linear>;
using ConvSn = nn::SpectralNorm<torch::nn::Conv2d>;
using ConvTransposeSn = nn::SpectralNorm<torch::nn::ConvTranspose2d>;

static_assert(gpm::GeneratorNetwork<nn::DcganGenerator>);
static_assert(gpm::GeneratorNetwork<nn::ResnetGenerator>);
static_assert(gpm::Critic<nn::DcganDiscriminator> && !gpm::TimeDependentCritic<nn::DcganDiscriminator>);
static_assert(gpm::Critic<nn::ResnetDiscriminator> && !gpm::TimeDependentCritic<nn::ResnetDiscriminator>);
static_assert(gpm::TimeDependentCritic<nn::DcganTimeDiscriminator>);
static_assert(gpm::TimeDependentCritic<nn::ResnetTimeDiscriminator>);
static_assert(gpm::Options<nn::DcganGeneratorOptions> && gpm::Options<nn::DcganDiscriminatorOptions>);
static_assert(gpm::Options<nn::DcganTimeDiscriminatorOptions> && gpm::Options<nn::ResnetTimeDiscriminatorOptions>);
static_assert(gpm::Options<nn::ResnetGeneratorOptions> && gpm::Options<nn::ResnetDiscriminatorOptions>);
static_assert(gpm::Flow<gpm::DiscriminatorFlow<nn::DcganTimeDiscriminator, gpm::NonSaturatingLoss>>);

const gpm::ImageShape kMnist{1, 32, 32};
const gpm::ImageShape kCeleba{3, 64, 64};

double top_singular_value(const torch::Tensor& matrix) {
  return torch::linalg_svdvals(matrix.detach()).max().item<double>();
}

/// Every parameter has a gradient, and a nonzero one.
void require_gradients_everywhere(torch::nn::Module& module) {
  for (const auto& p : module.named_parameters()) {
    INFO(p.key());
    REQUIRE(p.value().grad().defined());
    CHECK(p.value().grad().abs().max().item<double>() > 0);
  }
}

/// Copies every parameter and buffer of `from` into the same-named one of `to`, names in `to`
/// prefixed by `prefix`; returns how many were copied.
int64_t copy_by_name(torch::nn::Module& from, torch::nn::Module& to, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  int64_t copied = 0;
  auto params = to.named_parameters();
  auto buffers = to.named_buffers();
  for (const auto& p : from.named_parameters())
    if (auto* target = params.find(prefix + p.key())) {
      target->copy_(p.value());
      ++copied;
    }
  for (const auto& b : from.named_buffers())
    if (auto* target = buffers.find(prefix + b.key())) target->copy_(b.value());
  return copied;
}

void zero_film(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (const auto& p : module.named_parameters())
    if (p.key().find("film") != std::string::npos) p.value().zero_();
}

void set_attention_gain(torch::nn::Module& module, double gamma) {
  torch::NoGradGuard no_grad;
  for (const auto& p : module.named_parameters())
    if (p.key().ends_with("gamma")) p.value().fill_(gamma);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Spectral normalisation

TEMPLATE_TEST_CASE("SpectralNorm: sigma converges to the top singular value of the [out, in k k] weight",
                   "[nn][spectral_norm][numeric]", float, double) {
  const gpm::ScopedGlobalSeed seed(3);
  LinearSn linear(torch::nn::Linear(7, 5), nn::SpectralNormOptions().seed(1));
  ConvSn conv(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 6, 3)), nn::SpectralNormOptions().seed(2));
  ConvTransposeSn transpose(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(6, 4, 4)),
                            nn::SpectralNormOptions().seed(3));
  t::to_test_dtype<TestType>(*linear);
  t::to_test_dtype<TestType>(*conv);
  t::to_test_dtype<TestType>(*transpose);
  const auto o = t::options<TestType>();
  // The matrix convention: outputs first, the rest flattened (ConvTranspose2d's [in, out, k, k]
  // has its outputs in dimension 1).
  CHECK(torch::equal(conv->weight_matrix(), conv->layer->weight.reshape({6, 27})));
  CHECK(torch::equal(transpose->weight_matrix(), transpose->layer->weight.transpose(0, 1).reshape({4, 96})));
  const auto converge = [](auto& sn, const torch::Tensor& x) {
    for (int i = 0; i < 300; ++i) sn->forward(x);  // one power iteration per training forward
    const double expected = top_singular_value(sn->weight_matrix());
    CHECK(sn->sigma().template item<double>() == Approx(expected).epsilon(t::eps<TestType>()));
    // W / σ has spectral norm 1.
    CHECK(top_singular_value(sn->weight_matrix() / sn->sigma()) == Approx(1.0).epsilon(t::eps<TestType>()));
  };
  converge(linear, torch::randn({2, 7}, o));
  converge(conv, torch::randn({2, 3, 5, 5}, o));
  converge(transpose, torch::randn({2, 6, 3, 3}, o));
}

TEST_CASE("SpectralNorm computes the layer with W / sigma, and its gradient matches finite differences",
          "[nn][spectral_norm][numeric]") {
  const gpm::ScopedGlobalSeed seed(4);
  namespace F = torch::nn::functional;
  ConvSn conv(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).stride(2).padding(1)));
  ConvTransposeSn transpose(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(4, 2, 4).stride(2).padding(1)));
  conv->to(torch::kFloat64);
  transpose->to(torch::kFloat64);
  const auto o = torch::TensorOptions().dtype(torch::kFloat64);
  const auto x = torch::randn({3, 2, 8, 8}, o);
  const auto y = torch::randn({3, 4, 4, 4}, o);
  conv->eval();  // u and v fixed: σ(W) = ûᵀWv̂ is then a smooth function of W
  transpose->eval();
  const auto sigma = conv->sigma().item<double>();
  CHECK(torch::allclose(conv->forward(x), F::conv2d(x, conv->layer->weight / sigma,
                                                    F::Conv2dFuncOptions().bias(conv->layer->bias).stride(2).padding(1)),
                        1e-12, 1e-12));
  const auto t_sigma = transpose->sigma().item<double>();
  CHECK(torch::allclose(transpose->forward(y),
                        F::conv_transpose2d(y, transpose->layer->weight / t_sigma,
                                            F::ConvTranspose2dFuncOptions().bias(transpose->layer->bias).stride(2).padding(1)),
                        1e-12, 1e-12));

  // d/dε L(W + εD) at 0 against <∇L, D>, L = Σ conv(x)²: the gradient flows through W and σ(W).
  const auto loss = [&] { return conv->forward(x).square().sum(); };
  auto& weight = conv->layer->weight;
  loss().backward();
  REQUIRE(weight.grad().defined());
  const auto direction = torch::randn_like(weight);
  const double analytic = (weight.grad() * direction).sum().item<double>();
  const double h = 1e-6;
  double numeric = 0;
  {
    torch::NoGradGuard no_grad;
    weight.add_(direction, h);
    numeric = loss().item<double>();
    weight.add_(direction, -2 * h);
    numeric = (numeric - loss().item<double>()) / (2 * h);
    weight.add_(direction, h);
  }
  CHECK(numeric == Approx(analytic).epsilon(1e-6));
  // Holding σ fixed would give another derivative, 2 Σ conv(x; W/σ) conv(x; D/σ): the check can fail.
  const auto frozen = F::conv2d(x, direction / sigma, F::Conv2dFuncOptions().stride(2).padding(1));
  const double frozen_sigma = 2 * (conv->forward(x) * frozen).sum().item<double>();
  CHECK(std::abs(frozen_sigma - analytic) > 1e-3 * std::abs(analytic));
}

TEST_CASE("SpectralNorm: eval mode leaves u and v, training mode iterates, state survives save and load",
          "[nn][spectral_norm]") {
  const gpm::ScopedGlobalSeed seed(5);
  ConvSn conv(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3)), nn::SpectralNormOptions().seed(7));
  {
    torch::NoGradGuard no_grad;
    conv->layer->weight.normal_();  // u and v, fitted at construction, are now stale
  }
  const auto x = torch::randn({2, 3, 6, 6});
  auto buffers = conv->named_buffers();
  REQUIRE(buffers.contains("u"));
  REQUIRE(buffers.contains("v"));
  auto u0 = conv->u.clone(), v0 = conv->v.clone();
  conv->eval();
  conv->forward(x);
  CHECK(torch::equal(conv->u, u0));
  CHECK(torch::equal(conv->v, v0));
  conv->train();
  conv->forward(x);
  CHECK_FALSE(torch::equal(conv->u, u0));
  for (int i = 0; i < 5; ++i) conv->forward(x);

  std::stringstream stream;
  torch::save(conv, stream);
  ConvSn loaded(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3)), nn::SpectralNormOptions().seed(99));
  REQUIRE_FALSE(torch::equal(loaded->u, conv->u));
  torch::load(loaded, stream);
  CHECK(torch::equal(loaded->u, conv->u));
  CHECK(torch::equal(loaded->v, conv->v));
  loaded->eval();
  conv->eval();
  CHECK(torch::equal(loaded->forward(x), conv->forward(x)));
}

TEST_CASE("SpectralNorm: sigma uses the directions of u and v only, so an averaged state stays valid",
          "[nn][spectral_norm][numeric]") {
  const gpm::ScopedGlobalSeed seed(6);
  LinearSn linear(torch::nn::Linear(6, 4));
  linear->power_iterate(200);
  const double sigma = linear->sigma().item<double>();
  {
    torch::NoGradGuard no_grad;
    linear->u.mul_(0.3);  // as the average of unit vectors pointing in slightly different directions is
    linear->v.mul_(0.7);
  }
  CHECK(linear->sigma().item<double>() == Approx(sigma).epsilon(1e-6));
  CHECK(sigma == Approx(top_singular_value(linear->weight_matrix())).epsilon(1e-5));

  // Through gpm::WeightAverage: the averaged u and v are shorter than 1, σ stays the top singular value
  // of the averaged weights to the precision of the iteration.
  gpm::WeightAverage average(*linear, 0.5);
  const auto x = torch::randn({3, 6});
  for (int i = 0; i < 20; ++i) {
    {
      torch::NoGradGuard no_grad;
      linear->layer->weight.add_(torch::randn_like(linear->layer->weight), 0.01);
    }
    linear->forward(x);
    average.update(*linear);
  }
  average.swap(*linear);
  CHECK(linear->u.norm().item<double>() < 1.0);
  CHECK(linear->sigma().item<double>() == Approx(top_singular_value(linear->weight_matrix())).epsilon(0.01));
  average.swap(*linear);
}

TEST_CASE("SpectralNorm refuses bad options", "[nn][spectral_norm][errors]") {
  REQUIRE_THROWS_WITH(LinearSn(torch::nn::Linear(2, 2), nn::SpectralNormOptions().power_iterations(-1)),
                      Contains("power_iterations must be >= 0"));
  REQUIRE_THROWS_WITH(ConvSn(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 2, 3).padding_mode(torch::kReflect))),
                      Contains("zero padding"));
}

// ---------------------------------------------------------------------------------------------
// FiLM and conv blocks

TEMPLATE_TEST_CASE("Film is shift + h (1 + scale) with [scale, shift] = affine(c)", "[nn][film][numeric]", float,
                   double) {
  const gpm::ScopedGlobalSeed seed(8);
  nn::Film film(nn::FilmOptions(5, 3));
  t::to_test_dtype<TestType>(*film);
  const auto o = t::options<TestType>();
  const auto h = torch::randn({2, 3, 4, 4}, o), c = torch::randn({2, 5}, o);
  const auto affine = film->affine.get<torch::nn::Linear>();
  const auto params = torch::addmm(affine->bias, c, affine->weight.t());  // [2, 6]
  const auto scale = params.narrow(1, 0, 3).reshape({2, 3, 1, 1}), shift = params.narrow(1, 3, 3).reshape({2, 3, 1, 1});
  CHECK(t::max_abs(film(h, c) - (shift + h * (1 + scale))) < 10 * t::eps<TestType>());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : film->parameters()) p.zero_();
  }
  CHECK(torch::equal(film(h, c), h));
  REQUIRE_THROWS_WITH(film(h, torch::randn({2, 4}, o)), Contains("expected [2, 5]"));
}

TEST_CASE("ConvBlock with a zeroed FiLM equals the unconditioned block", "[nn][film]") {
  const gpm::ScopedGlobalSeed seed(9);
  const auto options = nn::ConvBlockOptions().batch_norm(true).activation(nn::Activation::leaky_relu);
  nn::ConvBlock plain(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).padding(1)), options);
  nn::ConvBlock conditioned(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).padding(1)),
                            nn::ConvBlockOptions(options).condition_size(6));
  REQUIRE(copy_by_name(*plain, *conditioned, "") == 4);  // conv weight and bias, batch norm weight and bias
  zero_film(*conditioned);
  const auto x = torch::randn({5, 3, 8, 8}), c = torch::randn({5, 6});
  CHECK(torch::allclose(conditioned(x, c), plain(x), 0, 1e-6));
  REQUIRE_THROWS_WITH(plain(x, c), Contains("has no FiLM"));
  REQUIRE_THROWS_WITH(conditioned(x), Contains("given no condition"));
}

// ---------------------------------------------------------------------------------------------
// DCGAN

TEMPLATE_TEST_CASE("DCGAN generator and discriminator map flat particles for 32x32 and 64x64 images", "[nn][dcgan]",
                   float, double) {
  const gpm::ScopedGlobalSeed seed(10);
  const auto o = t::options<TestType>();
  for (const auto& image : {kMnist, kCeleba}) {
    INFO(image.describe());
    nn::DcganGenerator g(nn::DcganGeneratorOptions(16, image).width(4));
    nn::DcganDiscriminator d(nn::DcganDiscriminatorOptions(image, 2).width(4).batch_norm(true));
    nn::DcganTimeDiscriminator f(nn::DcganTimeDiscriminatorOptions(image, 1).embedding_size(8).network(
        nn::DcganDiscriminatorOptions().width(4)));
    t::to_test_dtype<TestType>(*g);
    t::to_test_dtype<TestType>(*d);
    t::to_test_dtype<TestType>(*f);
    const auto x = g(torch::randn({3, 16}, o));
    REQUIRE(x.sizes() == torch::IntArrayRef({3, image.numel()}));
    CHECK(x.scalar_type() == t::dtype<TestType>());
    CHECK(x.abs().max().template item<double>() < 1.0);  // tanh
    CHECK(d(x).sizes() == torch::IntArrayRef({3, 2}));
    CHECK(f(x, torch::rand({3}, o)).sizes() == torch::IntArrayRef({3, 1}));
  }
  // The reference's layout: 8w channels at 4x4, a 3x3 stride-1 output layer for 32x32.
  nn::DcganGenerator g(nn::DcganGeneratorOptions(16, kMnist).width(4));
  REQUIRE(g->blocks->size() == 5);
  CHECK(g->blocks[0]->named_parameters()["conv.weight"].sizes() == torch::IntArrayRef({16, 32, 4, 4}));
  CHECK(g->blocks[4]->named_parameters()["conv.weight"].sizes() == torch::IntArrayRef({4, 1, 3, 3}));
  nn::DcganDiscriminator d(nn::DcganDiscriminatorOptions(kCeleba, 1).width(4).first_bias(false));
  CHECK(d->blocks[0]->named_parameters()["conv.weight"].sizes() == torch::IntArrayRef({4, 3, 4, 4}));
  CHECK_FALSE(d->blocks[0]->named_parameters().contains("conv.bias"));
  CHECK(d->blocks[4]->named_parameters()["conv.weight"].sizes() == torch::IntArrayRef({1, 32, 4, 4}));
}

TEST_CASE("DCGAN generator with batch norm in eval mode maps each latent on its own, deterministically",
          "[nn][dcgan]") {
  const gpm::ScopedGlobalSeed seed(11);
  nn::DcganGenerator g(nn::DcganGeneratorOptions(8, kMnist).width(4));
  const auto z = torch::randn({6, 8});
  g(z);  // one training forward moves the running statistics away from their initial values
  g->eval();
  const auto all = g(z);
  CHECK(torch::equal(g(z), all));
  CHECK(torch::allclose(g(z.narrow(0, 0, 2)), all.narrow(0, 0, 2), 1e-5, 1e-6));
  g->train();
  CHECK_FALSE(torch::allclose(g(z.narrow(0, 0, 2)), all.narrow(0, 0, 2), 1e-5, 1e-6));  // batch statistics
}

TEMPLATE_TEST_CASE("gpm::nn::conv_transpose2d equals LibTorch's, with its gradients and second derivatives",
                   "[nn][conv_transpose][numeric]", float, double) {
  namespace F = torch::nn::functional;
  struct Geometry {
    int64_t in, out, kernel, size, stride, padding, output_padding, dilation, groups;
    bool bias;
  };
  // A DCGAN generator's first and middle layers and its 32×32 output layer, then the other options.
  const std::vector<Geometry> geometries{{6, 8, 4, 1, 1, 0, 0, 1, 1, false}, {8, 4, 4, 4, 2, 1, 0, 1, 1, true},
                                         {4, 1, 3, 8, 1, 1, 0, 1, 1, false}, {4, 6, 3, 5, 2, 0, 1, 2, 2, true}};
  const auto o = t::options<TestType>();
  auto gen = t::generator(31);
  for (const auto& g : geometries) {
    INFO("in " << g.in << ", out " << g.out << ", kernel " << g.kernel << ", stride " << g.stride << ", groups " << g.groups);
    const auto x = torch::randn({3, g.in, g.size, g.size}, gen, o).requires_grad_();
    const auto w = torch::randn({g.in, g.out / g.groups, g.kernel, g.kernel}, gen, o).requires_grad_();
    const auto b = g.bias ? torch::randn({g.out}, gen, o).requires_grad_() : torch::Tensor();
    const auto options = F::ConvTranspose2dFuncOptions().bias(b).stride(g.stride).padding(g.padding)
                             .output_padding(g.output_padding).dilation(g.dilation).groups(g.groups);
    const auto ours = nn::conv_transpose2d(x, w, options), theirs = F::conv_transpose2d(x, w, options);
    REQUIRE(ours.sizes() == theirs.sizes());
    const double scale = t::max_abs(theirs);
    CHECK(t::max_abs(ours - theirs) < t::eps<TestType>() * scale);
    // First derivatives under a random cotangent, then the derivative of the input gradient's norm.
    const auto cotangent = torch::randn(theirs.sizes(), gen, o);
    std::vector<torch::Tensor> inputs{x, w};
    if (g.bias) inputs.push_back(b);
    const auto first = [&](const torch::Tensor& y) {
      return torch::autograd::grad({(y * cotangent).sum().square()}, inputs, {}, true, true);
    };
    const auto ours_first = first(ours), theirs_first = first(theirs);
    for (size_t i = 0; i < inputs.size(); ++i)
      CHECK(t::max_abs(ours_first[i] - theirs_first[i]) < t::eps<TestType>() * t::max_abs(theirs_first[i]));
    const auto second = [&](const std::vector<torch::Tensor>& grads) {
      return torch::autograd::grad({grads[0].square().sum()}, {w}, {}, true)[0];
    };
    const auto ours_second = second(ours_first), theirs_second = second(theirs_first);
    CHECK(t::max_abs(ours_second - theirs_second) < t::eps<TestType>() * t::max_abs(theirs_second));
  }
}

TEST_CASE("gpm::nn::ConvTranspose2d is LibTorch's layer: parameters, checkpoints and outputs", "[nn][conv_transpose]") {
  const auto options = torch::nn::ConvTranspose2dOptions(4, 3, 4).stride(2).padding(1);
  nn::ConvTranspose2d ours(options);
  torch::nn::ConvTranspose2d theirs(options);
  ours->to(t::device());
  theirs->to(t::device());
  t::round_trip<torch::nn::Module>(*ours, *theirs);
  CHECK(torch::equal(ours->weight, theirs->weight));
  const auto x = torch::randn({2, 4, 5, 5}, t::generator(3), t::options<float>());
  CHECK(t::max_abs(ours(x) - theirs(x)) < 1e-5);
  CHECK(torch::equal(ours->forward(x, std::vector<int64_t>{11, 11}), theirs->forward(x, std::vector<int64_t>{11, 11})));
  // The DCGAN generator's layers are this layer, so its checkpoints keep their names.
  nn::DcganGenerator generator(nn::DcganGeneratorOptions().latent(8).width(4));
  const auto names = generator->named_parameters().keys();
  CHECK(std::find(names.begin(), names.end(), "blocks.0.conv.weight") != names.end());
  size_t layers = 0;
  for (const auto& module : generator->modules(false)) layers += module->as<nn::ConvTranspose2dImpl>() != nullptr;
  CHECK(layers == 5);  // 1 → 4 → 8 → 16 → 32, then the 32×32 output layer
  CHECK_THROWS_WITH(nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(2, 2, 3).padding_mode(torch::kCircular))(
                        torch::zeros({1, 2, 3, 3})),
                    Contains("only zero padding"));
}

TEST_CASE("DCGAN networks with spectral norm pass a gradient to every parameter", "[nn][dcgan]") {
  const gpm::ScopedGlobalSeed seed(12);
  nn::DcganGenerator g(nn::DcganGeneratorOptions(8, kMnist).width(4).spectral_norm(true).activation(nn::Activation::silu));
  nn::DcganTimeDiscriminator f(nn::DcganTimeDiscriminatorOptions(kMnist, 1).embedding_size(8).network(
      nn::DcganDiscriminatorOptions().width(4).spectral_norm(true).batch_norm(true)));
  const auto x = g(torch::randn({4, 8}));
  f(x, torch::rand({4})).square().sum().backward();
  require_gradients_everywhere(*g);
  require_gradients_everywhere(*f);
  CHECK(f->named_buffers().contains("network.blocks.0.conv.u"));
  CHECK(f->named_buffers().contains("network.blocks.0.film.affine.v"));
}

TEST_CASE("DcganTimeDiscriminator with zeroed FiLM is the plain discriminator, whatever t", "[nn][dcgan][film]") {
  const gpm::ScopedGlobalSeed seed(13);
  const auto options = nn::DcganDiscriminatorOptions().width(4);
  nn::DcganDiscriminator plain(nn::DcganDiscriminatorOptions(options).image(kMnist).out(1));
  nn::DcganTimeDiscriminator timed(nn::DcganTimeDiscriminatorOptions(kMnist, 1).network(options).embedding_size(8));
  REQUIRE(copy_by_name(*plain, *timed, "network.") == 9);  // 5 conv weights, 4 biases (no bias in the last)
  const auto x = torch::randn({3, kMnist.numel()});
  CHECK_FALSE(torch::allclose(timed(x, torch::zeros({3})), plain(x)));
  zero_film(*timed);
  CHECK(torch::allclose(timed(x, torch::zeros({3})), plain(x), 0, 1e-6));
  CHECK(torch::allclose(timed(x, torch::rand({3})), plain(x), 0, 1e-6));
}

TEST_CASE("DCGAN networks refuse other image sizes and inputs of the wrong shape, naming the expected one",
          "[nn][dcgan][errors]") {
  REQUIRE_THROWS_WITH(nn::DcganGenerator(nn::DcganGeneratorOptions(8, gpm::ImageShape{1, 28, 28})),
                      Contains("32×32 or 64×64") && Contains("1×28×28"));
  REQUIRE_THROWS_WITH(nn::DcganDiscriminator(nn::DcganDiscriminatorOptions(gpm::ImageShape{3, 64, 32}, 1)),
                      Contains("32×32 or 64×64"));
  nn::DcganGenerator g(nn::DcganGeneratorOptions(8, kMnist).width(2));
  REQUIRE_THROWS_WITH(g(torch::zeros({2, 9})), Contains("expected [N, 8]"));
  nn::DcganDiscriminator d(nn::DcganDiscriminatorOptions(kMnist, 1).width(2));
  REQUIRE_THROWS_WITH(d(torch::zeros({2, 100})), Contains("1×32×32 = 1024 values"));
  REQUIRE_THROWS_WITH(d->conditioned(torch::zeros({2, 1024}), torch::zeros({2, 4})), Contains("call forward(x)"));
  nn::DcganTimeDiscriminator f(nn::DcganTimeDiscriminatorOptions(kMnist, 1).embedding_size(8)
                                   .network(nn::DcganDiscriminatorOptions().width(2)));
  REQUIRE_THROWS_WITH(f(torch::zeros({2, 1024}), torch::zeros({3})), Contains("one time per particle"));
  REQUIRE_THROWS_WITH(f->network->forward(torch::zeros({2, 1024})), Contains("call conditioned(x, c)"));
  REQUIRE_THROWS_WITH(nn::DcganTimeDiscriminator(nn::DcganTimeDiscriminatorOptions(kMnist, 1).embedding_size(7)),
                      Contains("size must be even"));
}

// ---------------------------------------------------------------------------------------------
// ResNet

TEMPLATE_TEST_CASE("ResNet generator and discriminator map flat particles, with self-attention and spectral norm",
                   "[nn][resnet]", float, double) {
  const gpm::ScopedGlobalSeed seed(14);
  const auto o = t::options<TestType>();
  for (const auto& image : {kMnist, kCeleba}) {
    INFO(image.describe());
    nn::ResnetGenerator g(nn::ResnetGeneratorOptions(16, image).width(4).attention_resolution(16).spectral_norm(true));
    nn::ResnetDiscriminator d(nn::ResnetDiscriminatorOptions(image, 1).width(4).attention_resolution(16)
                                  .spectral_norm(true).batch_norm(true));
    nn::ResnetTimeDiscriminator f(nn::ResnetTimeDiscriminatorOptions(image, 1).embedding_size(8)
                                      .network(nn::ResnetDiscriminatorOptions().width(4).attention_resolution(8)));
    REQUIRE(!g->attention.is_empty());
    REQUIRE(!d->attention.is_empty());
    t::to_test_dtype<TestType>(*g);
    t::to_test_dtype<TestType>(*d);
    t::to_test_dtype<TestType>(*f);
    set_attention_gain(*g, 0.5);
    set_attention_gain(*d, 0.5);
    set_attention_gain(*f, 0.5);
    const auto x = g(torch::randn({3, 16}, o));
    REQUIRE(x.sizes() == torch::IntArrayRef({3, image.numel()}));
    CHECK(x.abs().max().template item<double>() < 1.0);
    const auto logits = d(x);
    CHECK(logits.sizes() == torch::IntArrayRef({3, 1}));
    (logits.sum() + f(x, torch::rand({3}, o)).sum()).backward();
    require_gradients_everywhere(*g);
    require_gradients_everywhere(*d);
    require_gradients_everywhere(*f);
  }
}

TEST_CASE("ResNet networks refuse other image sizes and attention resolutions no block has", "[nn][resnet][errors]") {
  REQUIRE_THROWS_WITH(nn::ResnetGenerator(nn::ResnetGeneratorOptions(8, gpm::ImageShape{3, 128, 128})),
                      Contains("32×32 or 64×64"));
  REQUIRE_THROWS_WITH(nn::ResnetGenerator(nn::ResnetGeneratorOptions(8, kMnist).width(2).attention_resolution(4)),
                      Contains("the blocks output 8, 16, 32"));
  REQUIRE_THROWS_WITH(nn::ResnetDiscriminator(nn::ResnetDiscriminatorOptions(kCeleba, 1).width(2).attention_resolution(64)),
                      Contains("the blocks output 32, 16, 8, 4, 4"));
  REQUIRE_THROWS_WITH(nn::SelfAttention(nn::SelfAttentionOptions(4)), Contains("channels must be >= 8"));
  nn::ResnetDiscriminator d(nn::ResnetDiscriminatorOptions(kCeleba, 1).width(2));
  REQUIRE_THROWS_WITH(d(torch::zeros({2, 1024})), Contains("3×64×64 = 12288 values"));
}

TEST_CASE("Self-attention starts as the identity and attends over pooled positions", "[nn][resnet][numeric]") {
  const gpm::ScopedGlobalSeed seed(15);
  nn::SelfAttention attention(nn::SelfAttentionOptions(16));
  const auto x = torch::randn({2, 16, 8, 8});
  CHECK(torch::equal(attention(x), x));  // γ = 0
  set_attention_gain(*attention, 1.0);
  // A constant map: every position attends uniformly to the same values, so the output is constant too.
  const auto constant = torch::randn({1, 16, 1, 1}).expand({1, 16, 8, 8}).contiguous();
  const auto y = attention(constant);
  CHECK(t::max_abs(y - y.narrow(2, 0, 1).narrow(3, 0, 1)) < 1e-5);
  CHECK(t::max_abs(y - constant) > 1e-3);
}

// ---------------------------------------------------------------------------------------------
// Options, initialisation and composition with the models

TEST_CASE("image network options read from JSON like an MLP's, the discriminator's nested", "[nn][options]") {
  using nlohmann::json;
  const auto timed = gpm::io::read_options(
      json::parse(R"({"network": {"width": 32, "activation": "silu"}, "embedding_size": 64, "embedding": "positional"})"),
      nn::DcganTimeDiscriminatorOptions(), "discriminator");
  CHECK(timed.network().width() == 32);
  CHECK(timed.network().activation() == nn::Activation::silu);
  CHECK(timed.network().first_bias());  // untouched fields keep their defaults
  CHECK(timed.embedding_size() == 64);
  CHECK(timed.embedding() == nn::Embedding::positional);
  const auto resnet = gpm::io::read_options(json::parse(R"({"attention_resolution": 16, "spectral_norm": true})"),
                                            nn::ResnetGeneratorOptions(), "generator");
  CHECK(resnet.attention_resolution() == 16);
  CHECK(gpm::io::write_options(resnet)["spectral_norm"] == true);
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"network.width": 0})"),
                                            nn::ResnetTimeDiscriminatorOptions(), "discriminator"),
                      Contains("network.width"));
}


TEST_CASE("init_orthogonal reaches spectrally normalised convolutions: flattened weights are gain times orthonormal",
          "[nn][init][numeric]") {
  const double gain = 1.41;
  nn::DcganDiscriminator d(nn::DcganDiscriminatorOptions(kMnist, 1).width(4).spectral_norm(true));
  nn::DcganGenerator g(nn::DcganGeneratorOptions(8, kMnist).width(4));
  auto gen = gpm::make_generator(17);
  nn::init_orthogonal(d, gain, gen);
  nn::init_orthogonal(g, gain, gen);
  int64_t checked = 0;
  for (auto* net : {static_cast<torch::nn::Module*>(d.get()), static_cast<torch::nn::Module*>(g.get())})
    for (const auto& p : net->named_parameters())
      if (p.key().ends_with("weight") && p.value().dim() == 4) {
        INFO(p.key());
        const auto m = p.value().flatten(1);  // [dim 0, rest], as torch.nn.init.orthogonal_
        const auto small = m.size(0) <= m.size(1) ? m.matmul(m.t()) : m.t().matmul(m);
        CHECK(t::max_abs(small - gain * gain * torch::eye(small.size(0))) < 1e-4);
        ++checked;
      }
  CHECK(checked == 10);
}

TEST_CASE("DCGAN networks train in gpm::Generator and gpm::DiscriminatorFlow: one step, finite losses",
          "[nn][dcgan][models]") {
  const gpm::ScopedGlobalSeed seed(18);
  auto gen = t::generator(19);
  const auto o = torch::TensorOptions().device(t::device());
  const auto adam = torch::optim::AdamOptions(2e-4).betas({0.5, 0.999});
  const auto real = torch::rand({4, kMnist.numel()}, o) * 2 - 1;

  // A Discriminator Flow on images: time-dependent critic, gradient penalty, averaged weights.
  nn::DcganTimeDiscriminator critic(nn::DcganTimeDiscriminatorOptions(kMnist, 1).embedding_size(8).network(
      nn::DcganDiscriminatorOptions().width(4).spectral_norm(true)));
  critic->to(t::device());
  nn::init_orthogonal(critic, 1.41, gen);
  gpm::DiscriminatorFlow flow(critic, gpm::NonSaturatingLoss{}, adam,
                              gpm::DiscriminatorFlowOptions().penalty(gpm::GradientPenaltyOptions().weight(0.04))
                                  .weight_average(0.9));
  const auto fake = torch::randn({4, kMnist.numel()}, o);
  const auto times = torch::rand({4}, o);
  for (const auto& [name, value] : flow.update(real, fake, times)) {
    INFO(name);
    CHECK(std::isfinite(value.item<double>()));
  }
  {
    const auto averaged = flow.averaged_weights();
    const auto v = flow.velocity(fake, times);
    CHECK(v.sizes() == fake.sizes());
    CHECK(torch::isfinite(v).all().item<bool>());
  }

  // A GAN: the DCGAN generator along a plain DCGAN discriminator's field.
  nn::DcganDiscriminator discriminator(nn::DcganDiscriminatorOptions(kMnist, 1).width(4));
  nn::DcganGenerator generator_net(nn::DcganGeneratorOptions(8, kMnist).width(4));
  discriminator->to(t::device());
  generator_net->to(t::device());
  gpm::DiscriminatorFlow gan_critic(discriminator, gpm::NonSaturatingLoss{}, adam);
  gpm::Generator<nn::DcganGenerator, torch::optim::Adam> generator(
      generator_net, gpm::GaussianPrior(gpm::GaussianPriorOptions({8})), adam);
  const auto generated = generator.training_sample(4, gen);
  CHECK(generated.sizes() == torch::IntArrayRef({4, kMnist.numel()}));
  for (const auto& [name, value] : gan_critic.update(real, generated, torch::zeros({4}, o))) {
    INFO(name);
    CHECK(std::isfinite(value.item<double>()));
  }
  for (const auto& [name, value] : generator.step(gan_critic, 4, gen)) {
    INFO(name);
    CHECK(std::isfinite(value.item<double>()));
  }
  CHECK(generator.sample(3, gen).sizes() == torch::IntArrayRef({3, kMnist.numel()}));
}
