// The runner's entries for the extensions (registry.hpp): f-divergence flows, instance noise, SMaRt,
// top-k, Diffusion-GAN, LOGAN and adversarial score matching, trained by name (outside the demo).
#include <gpm/models/adversarial_edm.hpp>
#include <gpm/models/diffusion_gan.hpp>
#include <gpm/models/f_divergence_flow.hpp>
#include <gpm/models/instance_noise_gan.hpp>
#include <gpm/models/logan_gan.hpp>
#include <gpm/models/smart_gan.hpp>
#include <gpm/models/top_k_gan.hpp>

#include "presets.hpp"
#include "registry.hpp"

namespace gpm::runner {

namespace {

/// SMaRt on images: the image GAN's default, regularised by an image EDM's U-Net.
ModelVariant image_smart_gan_variant() {
  using Config = RunConfig<ImageSmartGanOptions>;
  return model_variant<Config>(
      "smart-gan", {{"default", {image_train_settings(6000, 64), ImageSmartGanOptions().gan(cpu_image_gan()), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<ImageSmartGan<>>>(make_image_smart_gan(
            *in.image, in.data_denoiser_as<nn::EdmUNetDenoiser>("SMaRt GAN"), in.for_run(ImageSmartGanOptions(c.model), c.train.seed())));
      });
}

/// Adversarial score matching on images: the image EDM sized for a CPU with a DCGAN discriminator.
ModelVariant image_adversarial_edm_variant() {
  using Config = RunConfig<ImageAdversarialEdmOptions, EdmSamplerOptions>;
  return model_variant<Config>(
      "adversarial-edm", {{"default", {image_train_settings(4000, 64), ImageAdversarialEdmOptions().edm(cpu_image_edm()), {}}}},
      [](const Config& c, BuildInputs in) {
        const auto options = in.for_run(ImageAdversarialEdmOptions(c.model), c.train.seed());
        return std::make_unique<EdmRun<ImageAdversarialEdm, ImageShape, ImageAdversarialEdmOptions>>(
            make_image_adversarial_edm(*in.image, options), c.sampler, *in.image, options);
      });
}

}  // namespace

/// The f-divergence flow as a particle model: the Discriminator Flow with a logistic discriminator and
/// the divergence's particle cost.
ModelEntry f_divergence_flow_entry() {
  using Config = RunConfig<FDivergenceFlowOptions>;
  return model_entry<Config>(
             "f-flow", "f-divergence flow: particles from N(0, I) descend KL, reverse KL, Jensen–Shannon or χ² to the "
             "data, the density ratio estimated by a time-dependent logistic discriminator",
             {{"default", {TrainSettings().steps(4000).standardize("always"), FDivergenceFlowOptions(), {}}},
              {"quick", {TrainSettings().steps(600).standardize("always"),
                         FDivergenceFlowOptions().flow(quick_discriminator_flow().eta(5.0)), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<ParticleRun<FDivergenceFlowModel>>(
                   make_f_divergence_flow(in.dim, in.for_run(FDivergenceFlowOptions(c.model), c.train.seed())));
             })
      .outside_demo();
}

/// The f-divergence flow with a generator: the GAN with a logistic discriminator and the divergence's
/// particle cost.
ModelEntry f_divergence_gan_entry() {
  using Config = RunConfig<FDivergenceGanOptions>;
  return model_entry<Config>(
             "f-gan", "f-divergence GAN: a generator whose samples descend KL, reverse KL, Jensen–Shannon or χ² to "
             "the data, the density ratio estimated by a logistic discriminator",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), FDivergenceGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), FDivergenceGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<FDivergenceGan>>(
                   make_f_divergence_gan(in.dim, in.for_run(FDivergenceGanOptions(c.model), c.train.seed())));
             })
      .outside_demo();
}

/// The GAN with instance noise on every discriminator input, annealed.
ModelEntry instance_noise_gan_entry() {
  using Config = RunConfig<InstanceNoiseGanOptions>;
  return model_entry<Config>(
             "instance-noise-gan", "GAN with instance noise: data and generated samples reach the discriminator noised, "
             "the noise annealed to 0",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), InstanceNoiseGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500),
                         InstanceNoiseGanOptions().gan(quick_gan()).instance_noise(InstanceNoiseOptions().anneal_updates(750)),
                         {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<InstanceNoiseGan<>>>(
                   make_instance_noise_gan(in.dim, in.for_run(InstanceNoiseGanOptions(c.model), c.train.seed())));
             })
      .outside_demo();
}

/// SMaRt: the GAN whose generator also descends a trained EDM's denoising error at its samples.
ModelEntry smart_gan_entry() {
  using Config = RunConfig<SmartGanOptions>;
  return model_entry<Config>(
             "smart-gan", "SMaRt: a GAN whose generator also descends a trained EDM's denoising error at its samples, "
             "weighted and every k-th step",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), SmartGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), SmartGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<SmartGan<>>>(make_smart_gan(
                   in.dim, in.data_denoiser_as<nn::EdmMlpDenoiser>("SMaRt GAN"), in.for_run(SmartGanOptions(c.model), c.train.seed())));
             },
             {}, /*needs_data_denoiser=*/true)
      .outside_demo()
      .with_images(image_smart_gan_variant());
}

/// The GAN with top-k generator steps, the kept fraction annealed.
ModelEntry top_k_gan_entry() {
  using Config = RunConfig<TopKGanOptions>;
  return model_entry<Config>(
             "top-k-gan", "GAN with top-k generator steps: each generator step follows only the samples its "
             "discriminator finds most realistic, their fraction annealed to ν",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), TopKGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), TopKGanOptions().gan(quick_gan()).top_k(TopKOptions().epoch_evaluations(10)),
                         {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<TopKGan<>>>(
                   make_top_k_gan(in.dim, in.for_run(TopKGanOptions(c.model), c.train.seed())));
             })
      .outside_demo();
}

ModelEntry diffusion_gan_entry() {
  using Config = RunConfig<DiffusionGanOptions>;
  return model_entry<Config>(
             "diffusion-gan", "Diffusion-GAN: the discriminator sees data and generated samples after a forward "
             "diffusion of t steps, t given as its input, the longest diffusion adapted to its overfitting",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), DiffusionGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), DiffusionGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<DiffusionGan<>>>(
                   make_diffusion_gan(in.dim, in.for_run(DiffusionGanOptions(c.model), c.train.seed())));
             })
      .outside_demo();
}

ModelEntry logan_gan_entry() {
  using Config = RunConfig<LoganGanOptions>;
  return model_entry<Config>(
             "logan-gan", "LOGAN: a GAN whose training samples come from latents moved one step uphill on the "
             "discriminator's logit",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), LoganGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), LoganGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<LoganGan<>>>(
                   make_logan_gan(in.dim, in.for_run(LoganGanOptions(c.model), c.train.seed())));
             })
      .outside_demo();
}

ModelEntry adversarial_edm_entry() {
  using Config = RunConfig<AdversarialEdmOptions, EdmSamplerOptions>;
  return model_entry<Config>(
             "adversarial-edm", "adversarial score matching: EDM whose denoiser also trains against a discriminator "
             "of data versus its denoised samples",
             {{"default", {TrainSettings().steps(20000), AdversarialEdmOptions(), {}}},
              {"quick", {TrainSettings().steps(3000), AdversarialEdmOptions().edm(quick_edm()), {}}}},
             [](const Config& c, BuildInputs in) {
               const auto options = in.for_run(AdversarialEdmOptions(c.model), c.train.seed());
               return std::make_unique<EdmRun<AdversarialEdm, int64_t, AdversarialEdmOptions>>(
                   make_adversarial_edm(in.dim, options), c.sampler, in.dim, options);
             })
      .with_images(image_adversarial_edm_variant())
      .outside_demo();
}

}  // namespace gpm::runner
