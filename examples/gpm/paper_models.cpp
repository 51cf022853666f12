// The runner's entries for the paper's four models (registry.hpp): EDM, the GAN, the Discriminator
// Flow and the Score GAN, each on point clouds and on images.
#include <gpm/models/discriminator_flow_model.hpp>
#include <gpm/models/edm.hpp>
#include <gpm/models/gan.hpp>
#include <gpm/models/image_discriminator_flow.hpp>
#include <gpm/models/image_edm.hpp>
#include <gpm/models/image_gan.hpp>
#include <gpm/models/image_score_gan.hpp>
#include <gpm/models/score_gan.hpp>

#include "presets.hpp"
#include "registry.hpp"

namespace gpm::runner {

namespace {

/// The GAN on images: DCGAN generator and discriminator. The default is sized for a CPU
/// (docs/images.md gives its measurements); "reference" is the reference's MNIST run.
ModelVariant image_gan_variant() {
  using Config = RunConfig<ImageGanOptions>;
  return model_variant<Config>(
      "gan", {{"default", {image_train_settings(6000, 64), cpu_image_gan(), {}}},
              {"reference", {image_train_settings(10000, 128), ImageGanOptions::reference(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<ImageGan<>>>(make_image_gan(*in.image, in.for_run(ImageGanOptions(c.model), c.train.seed())));
      });
}

/// EDM on images: the U-Net denoiser. The default is sized for a CPU (docs/images.md);
/// "reference" is the reference's MNIST run.
ModelVariant image_edm_variant() {
  using Config = RunConfig<ImageEdmOptions, EdmSamplerOptions>;
  return model_variant<Config>(
      "edm", {{"default", {image_train_settings(4000, 64), cpu_image_edm(), {}}},
              {"reference", {image_train_settings(500000, 128), ImageEdmOptions::reference(), {}}}},
      [](const Config& c, BuildInputs in) {
        const auto options = in.for_run(ImageEdmOptions(c.model), c.train.seed());
        return std::make_unique<EdmRun<ImageEdm<>, ImageShape, ImageEdmOptions>>(
            make_image_edm(*in.image, options), c.sampler, *in.image, options);
      });
}

/// The Discriminator Flow on images: a DCGAN critic modulated by FiLM of the time. The default is
/// sized for a CPU (docs/images.md); "reference" is the reference's MNIST run.
ModelVariant image_discriminator_flow_variant() {
  using Config = RunConfig<ImageDiscriminatorFlowOptions>;
  auto critic = ImageDiscriminatorFlowOptions().discriminator();
  const auto cpu = ImageDiscriminatorFlowOptions()
                       .discriminator(critic.network(critic.network().width(16)).embedding_size(32))
                       .generation_steps(16);
  return model_variant<Config>(
      "discr-flow", {{"default", {image_train_settings(3000, 64), cpu, {}}},
                     {"reference", {image_train_settings(200000, 128), ImageDiscriminatorFlowOptions::reference(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<ParticleRun<ImageDiscriminatorFlow<>>>(
            make_image_discriminator_flow(*in.image, in.for_run(ImageDiscriminatorFlowOptions(c.model), c.train.seed())));
      });
}

/// The Score GAN on images: a DCGAN generator, the U-Net of an image EDM for the data score and
/// another for its samples' score. The default is sized for a CPU (docs/images.md); "reference" is
/// the reference's MNIST run.
ModelVariant image_score_gan_variant() {
  using Config = RunConfig<ImageScoreGanOptions>;
  const auto cpu = ImageScoreGanOptions()
                       .latent_dim(64)
                       .generator(ImageScoreGanOptions().generator().width(16))
                       .denoiser(nn::UNetOptions().model_channels(8).embedding_size(64));
  return model_variant<Config>(
      "score-gan", {{"default", {image_train_settings(2500, 64), cpu, {}}},
                    {"reference", {image_train_settings(100000, 256), ImageScoreGanOptions::reference(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<ImageScoreGan<>>>(
            make_image_score_gan(*in.image, in.data_denoiser_as<nn::EdmUNetDenoiser>("Score GAN"),
                                 in.for_run(ImageScoreGanOptions(c.model), c.train.seed())));
      });
}

}  // namespace

ModelEntry gan_entry() {
  using Config = RunConfig<GanOptions>;
  return model_entry<Config>(
      "gan", "GAN: a generator whose samples follow its discriminator's field",
      {{"default", {TrainSettings().steps(28000).lr_decay(0.5), GanOptions(), {}}},
       {"reference", {TrainSettings().steps(1900), GanOptions::reference(), {}}},
       {"quick", {TrainSettings().steps(1500), quick_gan(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<Gan<>>>(make_gan(in.dim, in.for_run(GanOptions(c.model), c.train.seed())));
      },
      {.moved = {{"width", {"generator.width", "discriminator.width"}},
                 {"depth", {"generator.depth", "discriminator.depth"}},
                 {"generator_batch_norm", {"generator.batch_norm"}},
                 {"input_features", {"discriminator.input_features"}},
                 {"input_feature_scale", {"discriminator.input_feature_scale"}},
                 {"lr", {"generator_optimizer.lr", "discriminator_optimizer.lr"}},
                 {"beta1", {"generator_optimizer.beta1", "discriminator_optimizer.beta1"}},
                 {"beta2", {"generator_optimizer.beta2", "discriminator_optimizer.beta2"}}}})
      .with_images(image_gan_variant());
}

ModelEntry edm_entry() {
  using Config = RunConfig<EdmOptions, EdmSamplerOptions>;
  return model_entry<Config>(
      "edm", "EDM: particles from N(0, σ_max²) along a trained denoiser's probability flow",
      {{"default", {TrainSettings().steps(20000), EdmOptions(), {}}},
       {"reference", {TrainSettings().steps(10000), EdmOptions::reference(), {}}},
       {"quick", {TrainSettings().steps(3000), quick_edm(), {}}}},
      [](const Config& c, BuildInputs in) {
        const auto options = in.for_run(EdmOptions(c.model), c.train.seed());
        return std::make_unique<EdmRun<Edm<>, int64_t, EdmOptions>>(make_edm(in.dim, options), c.sampler, in.dim, options);
      },
      {.moved = {{"width", {"network.mlp.width"}},
                 {"depth", {"network.mlp.depth"}},
                 {"embedding_size", {"network.embedding_size"}},
                 {"fourier_scale", {"network.fourier_scale"}},
                 {"input_features", {"network.mlp.input_features"}},
                 {"input_feature_scale", {"network.mlp.input_feature_scale"}},
                 {"sigma_data", {"preconditioning.sigma_data"}},
                 {"sigma_min", {"preconditioning.sigma_min"}},
                 {"sigma_max", {"preconditioning.sigma_max"}},
                 {"lr", {"optimizer.lr"}},
                 {"beta1", {"optimizer.beta1"}},
                 {"beta2", {"optimizer.beta2"}}},
       .predating = {{"network.mlp.input_features", 0}}})
      .with_images(image_edm_variant());
}

ModelEntry discriminator_flow_entry() {
  using Config = RunConfig<DiscriminatorFlowModelOptions>;
  return model_entry<Config>(
      "discr-flow", "Discriminator Flow: particles from N(0, I) along a time-dependent discriminator's field",
      {{"default", {TrainSettings().steps(4000).standardize("always"), DiscriminatorFlowModelOptions(), {}}},
       {"reference", {TrainSettings().steps(4000), DiscriminatorFlowModelOptions::reference(), {}}},
       {"quick", {TrainSettings().steps(600).standardize("always"), quick_discriminator_flow(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<ParticleRun<DiscriminatorFlowModel<>>>(
            make_discriminator_flow(in.dim, in.for_run(DiscriminatorFlowModelOptions(c.model), c.train.seed())));
      },
      {.moved = {{"width", {"discriminator.mlp.width"}},
                 {"depth", {"discriminator.mlp.depth"}},
                 {"embedding_size", {"discriminator.embedding_size"}},
                 {"fourier_scale", {"discriminator.fourier_scale"}},
                 {"input_features", {"discriminator.mlp.input_features"}},
                 {"input_feature_scale", {"discriminator.mlp.input_feature_scale"}},
                 {"lr", {"optimizer.lr"}},
                 {"beta1", {"optimizer.beta1"}},
                 {"beta2", {"optimizer.beta2"}}},
       .predating = {{"discriminator.mlp.input_features", 0}}})
      .with_images(image_discriminator_flow_variant());
}

ModelEntry score_gan_entry() {
  using Config = RunConfig<ScoreGanOptions>;
  return model_entry<Config>(
      "score-gan", "Score GAN: a generator following a trained EDM's data score minus its own samples' score",
      {{"default", {TrainSettings().steps(50400).log_every(1000), ScoreGanOptions(), {}}},
       {"reference", {TrainSettings().steps(31500).log_every(1000), ScoreGanOptions::reference(), {}}},
       {"quick", {TrainSettings().steps(6000),
                  ScoreGanOptions()
                      .score_steps(5)
                      .generator(ScoreGanOptions().generator().width(128).depth(2))
                      .latent_dim(16)
                      .generator_optimizer(AdamOptions().lr(1e-3))
                      .denoiser(ScoreGanOptions().denoiser().embedding_size(16).mlp(nn::MlpOptions().width(64).depth(2))),
                  {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<ScoreGan<>>>(make_score_gan(
            in.dim, in.data_denoiser_as<nn::EdmMlpDenoiser>("Score GAN"), in.for_run(ScoreGanOptions(c.model), c.train.seed())));
      },
      {.moved = {{"width", {"generator.width"}},
                 {"depth", {"generator.depth"}},
                 {"generator_batch_norm", {"generator.batch_norm"}},
                 {"generator_lr", {"generator_optimizer.lr"}},
                 {"score_lr", {"denoiser_optimizer.lr"}},
                 {"denoiser.width", {"denoiser.mlp.width"}},
                 {"denoiser.depth", {"denoiser.mlp.depth"}},
                 {"denoiser.input_features", {"denoiser.mlp.input_features"}},
                 {"denoiser.input_feature_scale", {"denoiser.mlp.input_feature_scale"}},
                 {"denoiser.sigma_data", {"denoiser_preconditioning.sigma_data"}},
                 {"denoiser.sigma_min", {"denoiser_preconditioning.sigma_min"}},
                 {"denoiser.sigma_max", {"denoiser_preconditioning.sigma_max"}},
                 // D_φ's EDM training and sampling fields, never used by a Score GAN.
                 {"denoiser.p_mean", {}},
                 {"denoiser.p_std", {}},
                 {"denoiser.lr", {}},
                 {"denoiser.beta1", {}},
                 {"denoiser.beta2", {}},
                 {"denoiser.sampling_steps", {}},
                 {"denoiser.rho", {}},
                 {"denoiser.weight_average", {}}}},
      /*needs_data_denoiser=*/true)
      .with_images(image_score_gan_variant());
}

}  // namespace gpm::runner
