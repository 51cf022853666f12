// The paper models on images: each composes with its image networks, takes training steps with
// finite statistics, samples flat images of the right shape and range, and round-trips a checkpoint.
#include <sstream>

#include "gpm/models/image_discriminator_flow.hpp"
#include "gpm/models/image_edm.hpp"
#include "gpm/models/image_gan.hpp"
#include "gpm/models/image_score_gan.hpp"

namespace {

using namespace gpm;

const ImageShape kImage{1, 32, 32};

/// Stand-in image batches in [−1, 1]: smooth blobs, so that the critics see structure.
torch::Tensor image_batch(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  const auto grid = torch::linspace(-1, 1, 32);
  const auto centre = torch::rand({n, 2, 1, 1}, gen) * 1.2 - 0.6;
  const auto yy = grid.view({1, 32, 1}), xx = grid.view({1, 1, 32});
  const auto d2 = (yy - centre.select(1, 0)).square() + (xx - centre.select(1, 1)).square();
  return (2 * torch::exp(-d2 / 0.05) - 1).reshape({n, kImage.numel()});
}

nn::UNetOptions image_model_unet() {
  return nn::UNetOptions().model_channels(8).channel_mult({1, 2}).num_blocks(1).embedding_size(16).attention_resolutions({}).dropout(0);
}

void require_finite(const Stats& stats) {
  REQUIRE_FALSE(stats.empty());
  for (const auto& [name, value] : stats) {
    INFO(name);
    REQUIRE(std::isfinite(value.item<double>()));
  }
}

/// Samples are flat images; `bounded` ones (a tanh generator) lie in [−1, 1].
void require_images(const torch::Tensor& x, int64_t n, bool bounded) {
  REQUIRE(x.sizes() == torch::IntArrayRef({n, kImage.numel()}));
  REQUIRE(torch::isfinite(x).all().item<bool>());
  if (bounded) REQUIRE(x.abs().max().item<double>() <= 1.0);
  REQUIRE(kImage.unflatten(x, "test").sizes() == torch::IntArrayRef({n, 1, 32, 32}));
}

/// Saving `model` and loading it into `other` (built alike from another seed) makes them sample alike.
template <class Model>
void require_checkpoint_round_trip(Model& model, Model& other, int64_t n) {
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to(buffer);
  }
  torch::serialize::InputArchive archive;
  archive.load_from(buffer);
  other.load(archive);
  model.seed(7);
  other.seed(7);
  REQUIRE(torch::allclose(model.sample(n), other.sample(n)));
}

}  // namespace

TEST_CASE("image GAN: DCGAN networks train and sample flat images", "[models][images]") {
  const auto options = ImageGanOptions()
                           .latent_dim(16)
                           .generator(nn::DcganGeneratorOptions().width(8))
                           .discriminator(ImageGanOptions().discriminator().width(8));
  auto gan = make_image_gan(kImage, ImageGanOptions(options).seed(1));
  for (int step = 0; step < 3; ++step) require_finite(gan.train_step(image_batch(16, step)));
  require_images(gan.sample(10), 10, /*bounded=*/true);
  auto other = make_image_gan(kImage, ImageGanOptions(options).seed(2));
  require_checkpoint_round_trip(gan, other, 6);
}

TEST_CASE("image EDM: the U-Net denoiser trains and Heun samples flat images", "[models][images]") {
  const auto options = ImageEdmOptions().network(image_model_unet()).sampling_steps(4).weight_average(0.9);
  auto edm = make_image_edm(kImage, ImageEdmOptions(options).seed(1));
  for (int step = 0; step < 3; ++step) require_finite(edm.train_step(image_batch(8, step)));
  require_images(edm.sample(4), 4, /*bounded=*/false);
  REQUIRE(edm.steps() == 4);
  auto other = make_image_edm(kImage, ImageEdmOptions(options).seed(2));
  require_checkpoint_round_trip(edm, other, 3);

  // The sampling denoiser's copy is the averaged one, and drives other models.
  auto copy = copy_sampling_denoiser(edm, kImage, options);
  const auto x = image_batch(2, 9);
  const auto sigma = torch::full({2}, 0.5);
  torch::NoGradGuard no_grad;
  const auto weights = edm.flow().averaged_weights();
  REQUIRE(torch::allclose(copy->forward(x, sigma), edm.flow().net()->forward(x, sigma)));
}

TEST_CASE("image EDM: sampling runs the U-Net in eval mode, so its dropout leaves samples alone", "[models][images]") {
  auto edm = make_image_edm(kImage, ImageEdmOptions().network(nn::UNetOptions(image_model_unet()).dropout(0.5)).sampling_steps(3));
  require_finite(edm.train_step(image_batch(8, 0)));
  REQUIRE(edm.flow().net()->is_training());
  auto gen = make_generator(5);
  const auto x0 = torch::randn({2, kImage.numel()}, gen) * 80;
  // In training mode each pass draws new dropout masks: the same start would give other samples.
  REQUIRE(torch::equal(edm.sample_from(x0), edm.sample_from(x0)));
  REQUIRE(edm.flow().net()->is_training());
}

TEST_CASE("image Discriminator Flow: the FiLM-conditioned critic trains and its flow samples", "[models][images]") {
  auto discriminator = ImageDiscriminatorFlowOptions().discriminator();
  discriminator.network(nn::DcganDiscriminatorOptions(discriminator.network()).width(8)).embedding_size(16);
  const auto options = ImageDiscriminatorFlowOptions().discriminator(discriminator).generation_steps(4);
  auto df = make_image_discriminator_flow(kImage, ImageDiscriminatorFlowOptions(options).seed(1));
  for (int step = 0; step < 2; ++step) require_finite(df.train_step(image_batch(8, step)));
  require_images(df.sample(4), 4, /*bounded=*/false);
  auto other = make_image_discriminator_flow(kImage, ImageDiscriminatorFlowOptions(options).seed(2));
  require_checkpoint_round_trip(df, other, 3);
}

TEST_CASE("image Score GAN: a DCGAN generator follows a U-Net EDM's score difference", "[models][images]") {
  auto edm = make_image_edm(kImage, ImageEdmOptions().network(image_model_unet()));
  const auto options = ImageScoreGanOptions()
                           .latent_dim(16)
                           .generator(nn::DcganGeneratorOptions().width(8))
                           .denoiser(image_model_unet());
  auto sgan = make_image_score_gan(kImage, copy_sampling_denoiser(edm, kImage, ImageEdmOptions().network(image_model_unet())),
                                   ImageScoreGanOptions(options).seed(1));
  for (int step = 0; step < 2; ++step) require_finite(sgan.train_step(image_batch(8, step)));
  require_images(sgan.sample(4), 4, /*bounded=*/true);
}

TEST_CASE("image models refuse image sizes their networks do not have", "[models][images]") {
  REQUIRE_THROWS_WITH(make_image_gan(ImageShape{1, 28, 28}), Catch::Contains("32") && Catch::Contains("64"));
  REQUIRE_THROWS_WITH(make_image_discriminator_flow(ImageShape{1, 28, 28}), Catch::Contains("32"));
}
