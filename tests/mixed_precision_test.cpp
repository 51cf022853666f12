// gpm::MixedPrecision: the autocast state of its scope, products and convolutions in bfloat16 that
// agree with float32 to bfloat16's precision, weights changed in place seen by the next pass, the
// operation census under autocast, an image Discriminator Flow's field and training step, and the
// models whose networks hand bfloat16 to float32 parts (a generator's particles, a U-Net's norms).
#include "../examples/gpm/op_census.hpp"
#include "gpm/core/mixed_precision.hpp"
#include "gpm/models/discriminator_samplers.hpp"
#include "gpm/models/gan.hpp"
#include "gpm/models/image_discriminator_flow.hpp"
#include "gpm/models/image_edm.hpp"
#include "gpm/nn/linear.hpp"
#include "support/test_support.hpp"

namespace t = gpm::test;
using gpm::MixedPrecision;
using gpm::Precision;

namespace {

bool autocast_on(const torch::Device& device) {
  return device.is_cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}

at::ScalarType autocast_dtype(const torch::Device& device) {
  return device.is_cuda() ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}

// max |a − b| over max |b|, in double.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max() / b.to(torch::kFloat64).abs().max()).item<double>();
}

// bfloat16 keeps 8 significant bits: one rounding is within 2⁻⁹ relatively; a sum of products of
// rounded operands stays within a few of them relative to the largest output.
constexpr double kBfloat16Tolerance = 3e-2;

}  // namespace

TEST_CASE("gpm::MixedPrecision turns autocast on for its scope, off in a float32 scope inside it, and restores it",
          "[core][precision]") {
  const auto device = t::device();
  const bool caching = at::autocast::is_autocast_cache_enabled();
  const auto dtype = autocast_dtype(device);
  REQUIRE_FALSE(autocast_on(device));
  {
    const MixedPrecision bf16(Precision::bfloat16, device);
    CHECK(autocast_on(device));
    CHECK(autocast_dtype(device) == at::kBFloat16);
    CHECK_FALSE(at::autocast::is_autocast_cache_enabled());
    {
      const MixedPrecision f32(Precision::float32, device);
      CHECK_FALSE(autocast_on(device));
    }
    CHECK(autocast_on(device));
    CHECK(autocast_dtype(device) == at::kBFloat16);
  }
  CHECK_FALSE(autocast_on(device));
  CHECK(autocast_dtype(device) == dtype);
  CHECK(at::autocast::is_autocast_cache_enabled() == caching);
  {
    const MixedPrecision f32(Precision::float32, device);
    CHECK_FALSE(autocast_on(device));
  }
  CHECK(at::autocast::is_autocast_cache_enabled() == caching);
  CHECK(gpm::parse_precision("bfloat16") == Precision::bfloat16);
  CHECK(gpm::precision_name(gpm::parse_precision("float32")) == "float32");
  REQUIRE_THROWS_WITH(gpm::parse_precision("float16"), Catch::Contains("float16") && Catch::Contains("float32 or bfloat16"));
}

TEST_CASE("under bfloat16, gpm's linear layers and convolutions compute in bfloat16 and agree with float32",
          "[core][precision][numeric]") {
  auto gen = t::generator(3);
  gpm::nn::Linear linear(64, 48);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(16, 32, 4).stride(2).padding(1));
  linear->to(t::device());
  conv->to(t::device());
  const auto x = torch::randn({32, 64}, gen, t::options<float>());
  const auto image = torch::randn({8, 16, 16, 16}, gen, t::options<float>());
  const auto linear32 = linear(x), conv32 = conv(image);
  REQUIRE(linear32.scalar_type() == torch::kFloat);
  const MixedPrecision bf16(Precision::bfloat16, t::device());
  const auto linear16 = linear(x), conv16 = conv(image);
  // Outside autocast gpm::nn::Linear multiplies on oneDNN in float32; under it, LibTorch's products
  // take the layer, as autocast casts them.
  CHECK(linear16.scalar_type() == torch::kBFloat16);
  CHECK(conv16.scalar_type() == torch::kBFloat16);
  CHECK(relative_difference(linear16, linear32) < kBfloat16Tolerance);
  CHECK(relative_difference(conv16, conv32) < kBfloat16Tolerance);
  CHECK(relative_difference(linear16, linear32) > 1e-5);  // not float32's result
}

TEST_CASE("under bfloat16, a weight changed in place is seen by the next pass", "[core][precision]") {
  // A GAN's generator step runs its discriminator just after updating it: a cache of cast weights
  // would hand it the old ones.
  auto gen = t::generator(4);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(8, 8, 3).padding(1).bias(false));
  gpm::nn::Linear linear(32, 32);
  conv->to(t::device());
  linear->to(t::device());
  const auto image = torch::randn({4, 8, 8, 8}, gen, t::options<float>());
  const auto x = torch::randn({16, 32}, gen, t::options<float>());
  const MixedPrecision bf16(Precision::bfloat16, t::device());
  const auto conv_before = conv(image), linear_before = linear(x) - linear->bias;
  {
    const torch::NoGradGuard no_grad;
    conv->weight.mul_(-2);
    linear->weight.mul_(-2);
  }
  CHECK(relative_difference(conv(image), -2 * conv_before) < kBfloat16Tolerance);
  CHECK(relative_difference(linear(x) - linear->bias, -2 * linear_before) < kBfloat16Tolerance);
}

TEST_CASE("gpm bench's census counts products under bfloat16 autocast and replays them under it", "[bench][precision]") {
  auto gen = t::generator(6);
  gpm::nn::Linear layer(32, 24);
  layer->to(t::device());
  const auto x = torch::randn({40, 32}, gen, t::options<float>()).requires_grad_();
  const auto census = gpm::runner::take_op_census([&] {
    const MixedPrecision bf16(Precision::bfloat16, t::device());
    layer(x).to(torch::kFloat).square().sum().backward();
  });
  CHECK(census.flops() == 3.0 * 2 * 40 * 32 * 24);
  REQUIRE_FALSE(census.ops.empty());
  for (const auto& op : census.ops) {
    CHECK(op.precision == Precision::bfloat16);
    CHECK_THAT(op.shapes, Catch::Contains("bfloat16 autocast"));
  }
  // The forward product mixes a float32 bias and input with bfloat16 casts: replayed outside
  // autocast, LibTorch would refuse its arguments.
  const double seconds = gpm::runner::replay_seconds(census, 0.001);
  CHECK(seconds > 0);
  CHECK(std::isfinite(seconds));
}

TEST_CASE("image Discriminator Flow under bfloat16: its field matches float32's, and training keeps float32 state",
          "[models][images][precision]") {
  using namespace gpm;
  const ImageShape image{1, 32, 32};
  auto critic = ImageDiscriminatorFlowOptions().discriminator();
  critic.network(nn::DcganDiscriminatorOptions(critic.network()).width(8)).embedding_size(16);
  auto df = make_image_discriminator_flow(
      image, ImageDiscriminatorFlowOptions().discriminator(critic).generation_steps(4).seed(2).device(t::device()));
  auto gen = t::generator(7);
  const auto x = torch::randn({16, image.numel()}, gen, t::options<float>());
  const auto times = particle_times(0.5, x);
  const auto field32 = df.flow().velocity(x, times);
  torch::Tensor field16;
  {
    const MixedPrecision bf16(Precision::bfloat16, t::device());
    field16 = df.flow().velocity(x, times);
  }
  // The particles' field is a gradient with respect to float32 particles: float32 itself.
  CHECK(field16.scalar_type() == torch::kFloat);
  // An input gradient through five convolutions is a small sum of large terms: rounding only the
  // critic's weights and the particles to bfloat16 (float32 arithmetic) moves it by 6.5 % in norm
  // here, and bfloat16 arithmetic by 8.2 % (cosine 0.9967). Margins: 0.15 and 0.99.
  const double cosine = (field16 * field32).sum().item<double>() / (field16.norm() * field32.norm()).item<double>();
  const double change = ((field16 - field32).norm() / field32.norm()).item<double>();
  CHECK(cosine > 0.99);
  CHECK(change < 0.15);
  CHECK(change > 1e-4);  // the critic ran in bfloat16

  std::vector<torch::Tensor> before;
  for (const auto& p : df.flow().net()->parameters()) before.push_back(p.detach().clone());
  {
    const MixedPrecision bf16(Precision::bfloat16, t::device());
    const auto data = torch::rand({8, image.numel()}, gen, t::options<float>()) * 2 - 1;
    for (int step = 0; step < 2; ++step)
      for (const auto& [name, value] : df.train_step(data)) CHECK(std::isfinite(value.item<double>()));
  }
  const auto after = df.flow().net()->parameters();
  bool moved = false;
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].scalar_type() == torch::kFloat);
    CHECK(torch::isfinite(after[i]).all().item<bool>());
    moved = moved || !torch::equal(after[i], before[i]);
  }
  CHECK(moved);
}

TEST_CASE("under bfloat16, a GAN's generator gives float32 particles, refined latents too, and trains", "[models][precision]") {
  using namespace gpm;
  auto gan = make_gan(2, GanOptions().seed(3).device(t::device()));
  auto gen = t::generator(8);
  const auto data = torch::randn({64, 2}, gen, t::options<float>());
  const MixedPrecision bf16(Precision::bfloat16, t::device());
  // The generator's last layer returns bfloat16 under autocast; the particles, which the flows, the
  // runner and the files take, are float32.
  CHECK(gan.sample(16).scalar_type() == torch::kFloat);
  CHECK(sample_with_latent_refinement(gan, 8, LatentRefinementOptions().steps(2)).scalar_type() == torch::kFloat);
  for (int step = 0; step < 2; ++step)
    for (const auto& [name, value] : gan.train_step(data)) CHECK(std::isfinite(value.item<double>()));
  for (const auto& p : gan.dynamics().net()->parameters()) CHECK(p.scalar_type() == torch::kFloat);
}

TEST_CASE("under bfloat16, an image EDM's U-Net trains and samples", "[models][images][precision]") {
  using namespace gpm;
  // Its group norms take the bfloat16 output of convolutions with float32 parameters; its attention
  // (at 16×16) multiplies bfloat16 queries and keys.
  const auto unet = nn::UNetOptions().model_channels(8).channel_mult({1, 2}).num_blocks(1).embedding_size(16).dropout(0);
  auto edm = make_image_edm(ImageShape{1, 32, 32}, ImageEdmOptions().network(unet).sampling_steps(3).seed(1).device(t::device()));
  auto gen = t::generator(9);
  const auto images = torch::rand({4, 1024}, gen, t::options<float>()) * 2 - 1;
  const MixedPrecision bf16(Precision::bfloat16, t::device());
  for (const auto& [name, value] : edm.train_step(images)) CHECK(std::isfinite(value.item<double>()));
  const auto x = edm.sample(2);
  CHECK(x.scalar_type() == torch::kFloat);
  CHECK(torch::isfinite(x).all().item<bool>());
}
