// The image U-Net (EDM's DDPM++ as the GPM reference builds it): shapes, dtypes, the reference's
// parameter counts and outputs, gradients, dropout, errors, checkpoints, and EDM around it.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;
namespace nn = gpm::nn;

namespace {

int64_t parameter_count(torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

/// A U-Net small enough for quick CPU tests on 8×8 images: two levels of 4 and 8 channels.
nn::UNetOptions small_unet(gpm::ImageShape image = {2, 8, 8}) {
  return nn::UNetOptions(image).model_channels(4).channel_mult({1, 2}).channel_mult_emb(2).embedding_size(8)
      .attention_resolutions({image.height / 2});
}

torch::Tensor flat_images(int64_t n, const gpm::ImageShape& image, uint64_t seed) {
  return torch::randn({n, image.numel()}, t::generator(seed), t::options<float>()).clamp(-1, 1);
}

torch::Tensor noise_labels(int64_t n) { return torch::linspace(-1.5, 1.0, n, t::options<float>()); }

}  // namespace

TEST_CASE("the UNet maps flat images to flat images of the same shape", "[unet]") {
  for (const gpm::ImageShape image : {gpm::ImageShape{1, 32, 32}, gpm::ImageShape{3, 32, 32}}) {
    nn::UNet net{nn::UNetOptions(image)};
    net->to(t::device());
    const auto x = flat_images(3, image, 1);
    const auto y = net(x, noise_labels(3));
    CHECK(y.sizes() == x.sizes());
    CHECK(torch::isfinite(y).all().item<bool>());
  }
  const gpm::ImageShape large{3, 64, 64};
  nn::UNet net(small_unet(large).channel_mult({1, 1, 2, 2}).attention_resolutions({16}));
  net->to(t::device());
  net->eval();
  const auto x = flat_images(2, large, 2);
  const auto y = net(x, noise_labels(2));
  CHECK(y.sizes() == x.sizes());
  // An image batch [N, C, H, W] is read as the same particles.
  CHECK(torch::equal(net(x.reshape({2, 3, 64, 64}), noise_labels(2)), y));
}

TEST_CASE("the UNet runs in float64 and agrees with its float32 self", "[unet][numeric]") {
  nn::UNet net(small_unet());
  net->to(t::device());
  net->eval();
  const auto x = flat_images(3, {2, 8, 8}, 3);
  const auto y32 = net(x, noise_labels(3));
  net->to(torch::kFloat64);
  const auto y64 = net(x.to(torch::kFloat64), noise_labels(3).to(torch::kFloat64));
  CHECK(y64.scalar_type() == torch::kFloat64);
  CHECK(t::max_abs(y64 - y32.to(torch::kFloat64)) < 1e-4 * (1 + t::max_abs(y64)));
  // Mixed dtypes are refused with a message, not a LibTorch error deep inside.
  REQUIRE_THROWS_WITH(net(x, noise_labels(3)), Contains("UNet::forward") && Contains("dtype"));
}

// The reference figures are what PyTorch counts on the reference's own module (SongUNetBase of
// gpm/networks/score/ddpm.py, built with the configs' arguments: image side and channels of the
// data set, noise_channels = embedding_size = 256, attention at 16). By hand for the MNIST EDM
// config: mapping 256·64 + 64 + 64·64 + 64 = 20,608; encoder 75,280 (32x32_conv 160, block0 5,744,
// 16x16_down 6,016, block0 with attention 20,896, 8x8_down 21,760, block0 20,704); decoder 236,593
// (in0 24,992, in1 20,704, two 8x8 blocks of 32,064, 16x16_up 21,760, 16x16 blocks 32,064 and
// 31,200, 32x32_up 21,760, 32x32 blocks 11,200 and 8,608, aux_norm 32, aux_conv 145).
TEST_CASE("the UNet has the reference's parameter counts", "[unet]") {
  nn::UNet mnist(nn::UNetOptions(gpm::ImageShape{1, 32, 32}));
  CHECK(parameter_count(*mnist) == 332481);
  CHECK(parameter_count(*mnist->map_layer0) + parameter_count(*mnist->map_layer1) == 20608);
  CHECK(parameter_count(*mnist->enc) == 75280);
  CHECK(parameter_count(*mnist->dec) == 236593);
  nn::UNet colour(nn::UNetOptions(gpm::ImageShape{3, 32, 32}));
  CHECK(parameter_count(*colour) == 333059);
  // The Score GAN's generated-score network on MNIST (config2: model_channels 64, num_blocks 2).
  nn::UNet score_gan(nn::UNetOptions(gpm::ImageShape{1, 32, 32}).model_channels(64).num_blocks(2));
  CHECK(parameter_count(*score_gan) == 7036737);
}

// The expected values are printed by tests/support/unet_reference_values.py, which runs the
// reference's own U-Net (float64) with the same architecture, weights and inputs.
TEST_CASE("the UNet computes what the reference's U-Net computes", "[unet][numeric]") {
  nn::UNet net(nn::UNetOptions(gpm::ImageShape{2, 8, 8}).model_channels(4).channel_mult({1, 2, 2}).channel_mult_emb(2)
                   .num_blocks(1).attention_resolutions({4}).embedding_size(8).dropout(0.1));
  net->to(t::device(), torch::kFloat64);
  net->eval();
  auto named = net->named_parameters();
  std::vector<std::string> names(named.keys());
  std::sort(names.begin(), names.end());
  REQUIRE(names.size() == 200);
  CHECK(parameter_count(*net) == 19706);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < names.size(); ++i) {
      auto& p = named[names[i]];
      const double fan = p.dim() >= 2 ? static_cast<double>(p.numel() / p.size(0)) : 1.0;
      const auto j = torch::arange(p.numel(), p.options());
      p.copy_((torch::sin(0.618 * j + static_cast<double>(i)) / std::sqrt(fan)).reshape(p.sizes()));
    }
  }
  const auto options = torch::TensorOptions().dtype(torch::kFloat64).device(t::device());
  const auto k = torch::arange(2 * 128, options).reshape({2, 128});
  const auto out = net(torch::sin(0.37 * k), torch::tensor({-1.1, 0.4}, options));
  const double tol = 1e-9;
  CHECK(out.sum().item<double>() == Approx(-241.42828191381852).epsilon(tol));
  CHECK(out.square().sum().item<double>() == Approx(294.624656076831).epsilon(tol));
  CHECK((out * torch::cos(k)).sum().item<double>() == Approx(-3.6786256726962394).epsilon(tol));
  CHECK(out[0][0].item<double>() == Approx(-0.41997349483860874).epsilon(tol));
  CHECK(out[0][1].item<double>() == Approx(-0.5440293487478378).epsilon(tol));
  CHECK(out[0][2].item<double>() == Approx(-0.3594398291866667).epsilon(tol));
  CHECK(out[1][125].item<double>() == Approx(0.23917267700478084).epsilon(tol));
  CHECK(out[1][126].item<double>() == Approx(0.2589254996562884).epsilon(tol));
  CHECK(out[1][127].item<double>() == Approx(-0.15297192862009312).epsilon(tol));
}

TEST_CASE("a gradient reaches every parameter of the UNet", "[unet]") {
  nn::UNet net(small_unet());
  net->to(t::device());
  const auto x = flat_images(4, {2, 8, 8}, 4);
  net(x, noise_labels(4)).square().sum().backward();
  for (const auto& item : net->named_parameters()) {
    INFO(item.key());
    REQUIRE(item.value().grad().defined());
    CHECK(item.value().grad().abs().sum().item<double>() > 0);
  }
}

TEST_CASE("the UNet's dropout acts in training only", "[unet]") {
  nn::UNet net(small_unet().dropout(0.5));
  net->to(t::device());
  const auto x = flat_images(4, {2, 8, 8}, 5);
  const auto s = noise_labels(4);
  net->eval();
  const auto first = net(x, s);
  CHECK(torch::equal(net(x, s), first));
  net->train();
  CHECK(!torch::equal(net(x, s), net(x, s)));
  // No dropout: training and evaluation agree.
  nn::UNet plain(small_unet().dropout(0.0));
  plain->to(t::device());
  const auto trained = plain(x, s);
  plain->eval();
  CHECK(torch::equal(plain(x, s), trained));
}

TEST_CASE("the UNet's dropout masks follow its seed and its count of training passes, which checkpoints keep",
          "[unet]") {
  const auto x = flat_images(4, {2, 8, 8}, 5);
  const auto s = noise_labels(4);
  nn::UNet a(small_unet().dropout(0.5).seed(3));
  a->to(t::device());
  a->train();
  const auto first = a(x, s);
  // A module loaded from a's checkpoint (weights and pass count) continues a's stream of masks.
  std::stringstream stream;
  torch::save(a, stream);
  const auto second = a(x, s);
  nn::UNet b(small_unet().dropout(0.5).seed(3));
  torch::load(b, stream);
  b->to(t::device());
  b->train();
  CHECK(torch::equal(b(x, s), second));
  CHECK(!torch::equal(first, second));
  // Another seed draws other masks.
  nn::UNet c(small_unet().dropout(0.5).seed(4));
  c->to(t::device());
  torch::NoGradGuard no_grad;
  for (auto& p : c->named_parameters()) p.value().copy_(a->named_parameters()[p.key()]);
  c->train();
  CHECK(!torch::equal(c(x, s), first));
}

TEST_CASE("the UNet refuses architectures and inputs it cannot take, saying why", "[unet][errors]") {
  const auto build = [](const nn::UNetOptions& o) { return nn::UNet(o); };
  REQUIRE_THROWS_WITH(build(nn::UNetOptions(gpm::ImageShape{1, 30, 30})),
                      Contains("side 30") && Contains("divisible by 2^2"));
  REQUIRE_THROWS_WITH(build(nn::UNetOptions(gpm::ImageShape{1, 32, 16})), Contains("not square"));
  REQUIRE_THROWS_WITH(build(nn::UNetOptions(gpm::ImageShape{1, 28, 28}).channel_mult({1, 2})),
                      Contains("attention_resolutions holds 16") && Contains("sides 28, 14"));
  REQUIRE_THROWS_WITH(build(nn::UNetOptions().model_channels(2)), Contains("model_channels must be >= 4"));
  REQUIRE_THROWS_WITH(build(nn::UNetOptions().channel_mult({})), Contains("channel_mult is empty"));
  REQUIRE_THROWS_WITH(build(nn::UNetOptions().channel_mult({1, 0})), Contains("multipliers >= 1"));
  REQUIRE_THROWS_WITH(build(nn::UNetOptions().embedding_size(7)), Contains("must be even"));
  REQUIRE_THROWS_WITH(build(nn::UNetOptions().dropout(1.0)), Contains("dropout must be in [0, 1)"));
  // 28×28 images work with attention where the levels are.
  CHECK_NOTHROW(build(nn::UNetOptions(gpm::ImageShape{1, 28, 28}).channel_mult({1, 2}).attention_resolutions({14})));

  nn::UNet net(small_unet());
  net->to(t::device());
  REQUIRE_THROWS_WITH(net(flat_images(2, {1, 8, 8}, 6), noise_labels(2)),
                      Contains("UNet::forward") && Contains("2×8×8 = 128 values"));
  REQUIRE_THROWS_WITH(net(flat_images(2, {2, 8, 8}, 6), noise_labels(3)), Contains("one noise label per particle"));
}

TEST_CASE("a UNet saved and loaded computes the same outputs", "[unet][checkpoint]") {
  const auto make = [](uint64_t seed) {
    const gpm::ScopedGlobalSeed scoped(seed);
    nn::UNet net(small_unet().embedding(nn::Embedding::fourier).seed(seed));
    net->to(t::device());
    net->eval();
    return net;
  };
  auto saved = make(7);
  auto loaded = make(8);
  const auto x = flat_images(3, {2, 8, 8}, 7);
  const auto s = noise_labels(3);
  REQUIRE(!torch::equal(saved(x, s), loaded(x, s)));
  std::stringstream stream;
  torch::save(saved, stream);
  torch::load(loaded, stream);
  CHECK(torch::equal(saved(x, s), loaded(x, s)));
  CHECK(torch::equal(saved->fourier->freqs, loaded->fourier->freqs));
}

TEST_CASE("the EDM denoiser on a UNet keeps x as σ → 0 and composes with EDM's training", "[unet]") {
  using Denoiser = nn::EdmUNetDenoiser;
  using Flow = gpm::DenoisingScoreFlow<Denoiser>;
  static_assert(gpm::Denoiser<Denoiser> && gpm::DataTrainableFlow<Flow>);
  const gpm::ImageShape image{2, 8, 8};
  auto denoiser = gpm::make_edm_unet_denoiser(image, small_unet(), nn::EdmPreconditioningOptions().sigma_max(40.0), 9,
                                              t::device());
  denoiser->eval();
  denoiser->to(torch::kFloat64);
  const auto x = flat_images(3, image, 9).to(torch::kFloat64);
  const auto sigma = torch::full({3}, 1e-6, x.options());
  const auto d = denoiser(x, sigma);
  // D(x, σ) = c_skip x + c_out F(c_in x, c_noise), with c_skip → 1 and c_out ≈ σ.
  const auto c = nn::edm_coefficients(sigma, 0.5);
  const auto f = denoiser->net(c.c_in.unsqueeze(1) * x, c.c_noise);
  CHECK(t::max_abs(d - (c.c_skip.unsqueeze(1) * x + c.c_out.unsqueeze(1) * f)) < 1e-12);
  CHECK(t::max_abs(d - x) < 1e-5);

  // One EDM training step on images: a finite loss, and the weights move.
  auto net = gpm::make_edm_unet_denoiser(image, small_unet(), nn::EdmPreconditioningOptions(), 10, t::device());
  // The seed alone decides the initial weights.
  const auto same = gpm::make_edm_unet_denoiser(image, small_unet(), nn::EdmPreconditioningOptions(), 10, t::device());
  const auto other = gpm::make_edm_unet_denoiser(image, small_unet(), nn::EdmPreconditioningOptions(), 11, t::device());
  CHECK(torch::equal(same->net->dec->parameters().back(), net->net->dec->parameters().back()));
  CHECK(!torch::equal(other->net->dec->parameters().back(), net->net->dec->parameters().back()));
  const auto before = net->net->map_layer0->weight.clone();
  Flow flow(gpm::DenoiserTrainer<Denoiser, torch::optim::Adam, gpm::LogNormalSigma>(
      net, gpm::LogNormalSigma(), torch::optim::AdamOptions(1e-3), gpm::DenoiserTrainerOptions().seed(11)));
  const auto stats = flow.update(flat_images(4, image, 10));
  CHECK(std::isfinite(stats.at("denoising_loss").item<double>()));
  CHECK(!torch::equal(net->net->map_layer0->weight, before));
  const auto v = flow.velocity(flat_images(4, image, 11), torch::full({4}, 2.0, t::options<float>()));
  CHECK(v.sizes() == std::vector<int64_t>{4, image.numel()});
}
