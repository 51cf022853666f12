// The runner's models: one entry each, with its config (defaults and named presets, from the
// library's options), how to build it, and what it needs, on point clouds and, for a model that has
// an image form, on images. Every command dispatches through this table; adding a model is adding
// its header and one entry to `models()`.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gpm/models/diffusion_gan.hpp>
#include <gpm/models/discriminator_flow_model.hpp>
#include <gpm/models/edm.hpp>
#include <gpm/models/f_divergence_flow.hpp>
#include <gpm/models/gan.hpp>
#include <gpm/models/image_discriminator_flow.hpp>
#include <gpm/models/image_edm.hpp>
#include <gpm/models/image_gan.hpp>
#include <gpm/models/image_score_gan.hpp>
#include <gpm/models/instance_noise_gan.hpp>
#include <gpm/models/logan_gan.hpp>
#include <gpm/models/score_gan.hpp>
#include <gpm/models/smart_gan.hpp>
#include <gpm/models/top_k_gan.hpp>

#include "run.hpp"
#include "run_config.hpp"

namespace gpm::runner {

/// What building a model may take besides its config: the data's dimension, their image shape for
/// images, and the data denoiser of a trained EDM, for a model that needs one.
struct BuildInputs {
  int64_t dim = 0;
  std::optional<ImageShape> image;
  std::optional<DataDenoiserNetwork> data_denoiser;

  /// The data denoiser as the network `Net` (an MLP's for points, a U-Net's for images).
  template <class Net>
  Net data_denoiser_as(const std::string& model) const {
    GPM_CHECK(data_denoiser.has_value(), "a {} needs a data denoiser: pass --data-denoiser RUN_DIR, the run directory of "
              "a trained EDM", model);
    const auto* net = std::get_if<Net>(&*data_denoiser);
    GPM_CHECK(net != nullptr, "the EDM given to the {} was trained on {}; train the EDM on the same data", model,
              image ? "point clouds, not images" : "images, not point clouds");
    return *net;
  }
};

/// What a run trains on: point clouds (2-D data, CSV files) or images (flat [N, C·H·W]).
enum class DataKind { points, images };

/// How a stored run's config becomes today's. Paths are dotted ("network.mlp.width"); a path listed
/// here must never be a field of today's config, since every stored config passes through this.
struct StoredConfigUpgrade {
  /// Fields that moved, in order: the value at the old path goes to each new path (an empty list
  /// drops a field that never had an effect).
  std::vector<std::pair<std::string, std::vector<std::string>>> moved;
  /// Fields the model gained after runs were stored, with the value those runs were trained with.
  json predating = json::object();

  void apply(json& config) const {
    const auto pointer = [](std::string path) {
      std::replace(path.begin(), path.end(), '.', '/');
      return json::json_pointer("/" + path);
    };
    for (const auto& [from, targets] : moved) {
      const auto source = pointer(from);
      if (!config.contains(source)) continue;
      const json value = config.at(source);
      config.at(source.parent_pointer()).erase(source.back());
      for (const auto& to : targets)
        if (!config.contains(pointer(to))) config[pointer(to)] = value;
    }
    for (const auto& [path, value] : predating.items())
      if (!config.contains(pointer(path))) config[pointer(path)] = value;
  }
};

/// A model's form for one kind of data, type-erased at this boundary.
struct ModelVariant {
  /// Presets by name; "default" is the library's defaults, the one a run gets without --preset.
  std::vector<std::string> presets;
  /// The full config of `preset` overridden by `overrides`, every field written (run.json's form).
  std::function<json(const std::string& preset, const json& overrides)> resolve;
  /// The field table of `preset`, for --help and the docs.
  std::function<std::vector<io::OptionRow>(const std::string& preset)> fields;
  std::function<std::unique_ptr<Run>(const json& resolved, BuildInputs inputs)> build;
  /// How a stored run's config reaches today's form, step by step (see StoredConfigUpgrade).
  StoredConfigUpgrade upgrade = {};
};

/// One model of the runner: its form on point clouds, and on images when it has one.
struct ModelEntry {
  std::string name;
  std::string summary;
  /// Whether the model is driven by a trained EDM's denoiser (`--data-denoiser RUN`), and trains in
  /// that EDM's coordinates.
  bool needs_data_denoiser = false;
  ModelVariant points;
  std::optional<ModelVariant> images = std::nullopt;
  /// Whether `gpm demo` trains it (the paper's models); an extension is trained by name.
  bool in_demo = true;

  /// The model's form for `kind` of data; an error for images when it has no image form.
  const ModelVariant& on(DataKind kind) const {
    if (kind == DataKind::points) return points;
    GPM_CHECK(images.has_value(), "the model '{}' does not train on images; train it on point clouds (a CSV file or a "
              "built-in 2-D dataset)", name);
    return *images;
  }
  /// This entry, left out of `gpm demo`.
  ModelEntry outside_demo() && {
    in_demo = false;
    return std::move(*this);
  }
  /// This entry with `variant` as its image form.
  ModelEntry with_images(ModelVariant variant) && {
    images = std::move(variant);
    return std::move(*this);
  }
};

/// A model form whose config is `Config` (a RunConfig): `presets` must hold "default", and
/// `build(config, inputs)` makes the model.
template <class Config, class Build>
ModelVariant model_variant(const std::string& name, std::map<std::string, Config> presets, Build build,
                           StoredConfigUpgrade upgrade = {}) {
  GPM_CHECK(presets.contains("default"), "model '{}': the presets must include \"default\"", name);
  ModelVariant variant{{}, {}, {}, {}, std::move(upgrade)};
  for (const auto& [preset, config] : presets) variant.presets.push_back(preset);
  const auto find = [name, presets](const std::string& preset) {
    const auto it = presets.find(preset);
    if (it == presets.end()) {
      std::vector<std::string> known;
      for (const auto& [p, c] : presets) known.push_back(p);
      throw InvalidArgument(fmt::format("model '{}' has no preset '{}'; presets: {}", name, preset, fmt::join(known, ", ")));
    }
    return it->second;
  };
  variant.resolve = [name, find](const std::string& preset, const json& overrides) {
    return write_config(read_config(overrides, find(preset), name));
  };
  variant.fields = [find](const std::string& preset) { return option_rows(find(preset)); };
  variant.build = [name, find, build](const json& resolved, BuildInputs inputs) -> std::unique_ptr<Run> {
    return build(read_config(resolved, find("default"), name), std::move(inputs));
  };
  return variant;
}

/// An entry for a model on point clouds whose config is `Config` (see model_variant); give it an
/// image form with `.with_images(model_variant<ImageConfig>(...))`.
template <class Config, class Build>
ModelEntry model_entry(std::string name, std::string summary, std::map<std::string, Config> presets, Build build,
                       StoredConfigUpgrade upgrade = {}, bool needs_data_denoiser = false) {
  auto points = model_variant<Config>(name, std::move(presets), std::move(build), std::move(upgrade));
  return ModelEntry{std::move(name), std::move(summary), needs_data_denoiser, std::move(points)};
}

/// Training settings of the image presets: images are never standardized (their pixels already lie
/// in [−1, 1]), and evaluations draw fewer samples than on points, each costing a network pass per
/// generation step.
inline TrainSettings image_train_settings(int64_t steps, int64_t batch_size) {
  return TrainSettings().steps(steps).batch_size(batch_size).standardize("never").eval_samples(500);
}

/// The GAN on images: DCGAN generator and discriminator. The default is sized for a CPU
/// (docs/images.md gives its measurements); "reference" is the reference's MNIST run.
/// The image GAN sized for a CPU: width 16, a 64-dimensional latent.
inline ImageGanOptions cpu_image_gan() {
  return ImageGanOptions()
      .latent_dim(64)
      .generator(ImageGanOptions().generator().width(16))
      .discriminator(ImageGanOptions().discriminator().width(16));
}

inline ModelVariant image_gan_variant() {
  using Config = RunConfig<ImageGanOptions>;
  return model_variant<Config>(
      "gan", {{"default", {image_train_settings(6000, 64), cpu_image_gan(), {}}},
              {"reference", {image_train_settings(10000, 128), ImageGanOptions::reference(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<ImageGan<>>>(make_image_gan(*in.image, ImageGanOptions(c.model).seed(c.train.seed())));
      });
}

/// The GAN of the "quick" presets: smaller networks, one discriminator step, a higher learning rate.
inline GanOptions quick_gan() {
  return GanOptions()
      .generator(nn::MlpOptions().width(128).depth(3))
      .discriminator(nn::MlpOptions().width(128).depth(3))
      .generator_optimizer(AdamOptions().lr(5e-4).beta1(0.5))
      .discriminator_optimizer(AdamOptions().lr(5e-4).beta1(0.5))
      .latent_dim(16)
      .discriminator_steps(1);
}

inline ModelEntry gan_entry() {
  using Config = RunConfig<GanOptions>;
  return model_entry<Config>(
      "gan", "GAN: a generator whose samples follow its discriminator's field",
      {{"default", {TrainSettings().steps(28000).lr_decay(0.5), GanOptions(), {}}},
       {"reference", {TrainSettings().steps(1900), GanOptions::reference(), {}}},
       {"quick", {TrainSettings().steps(1500), quick_gan(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<Gan<>>>(make_gan(in.dim, GanOptions(c.model).seed(c.train.seed())));
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

/// EDM on images: the U-Net denoiser. The default is sized for a CPU (docs/images.md);
/// "reference" is the reference's MNIST run.
inline ModelVariant image_edm_variant() {
  using Config = RunConfig<ImageEdmOptions, EdmSamplerOptions>;
  const auto cpu = ImageEdmOptions().network(nn::UNetOptions().model_channels(8).embedding_size(64));
  return model_variant<Config>(
      "edm", {{"default", {image_train_settings(4000, 64), cpu, {}}},
              {"reference", {image_train_settings(500000, 128), ImageEdmOptions::reference(), {}}}},
      [](const Config& c, BuildInputs in) {
        const auto options = ImageEdmOptions(c.model).seed(c.train.seed());
        return std::make_unique<EdmRun<nn::EdmUNetDenoiser, ImageShape, ImageEdmOptions>>(
            make_image_edm(*in.image, options), c.sampler, *in.image, options);
      });
}

inline ModelEntry edm_entry() {
  using Config = RunConfig<EdmOptions, EdmSamplerOptions>;
  return model_entry<Config>(
      "edm", "EDM: particles from N(0, σ_max²) along a trained denoiser's probability flow",
      {{"default", {TrainSettings().steps(20000), EdmOptions(), {}}},
       {"reference", {TrainSettings().steps(10000), EdmOptions::reference(), {}}},
       {"quick", {TrainSettings().steps(3000),
                  EdmOptions().network(EdmOptions().network().mlp(EdmOptions().network().mlp().width(128).depth(3))), {}}}},
      [](const Config& c, BuildInputs in) {
        const auto options = EdmOptions(c.model).seed(c.train.seed());
        return std::make_unique<EdmRun<nn::EdmMlpDenoiser, int64_t, EdmOptions>>(make_edm(in.dim, options), c.sampler,
                                                                                in.dim, options);
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

/// The Discriminator Flow on images: a DCGAN critic modulated by FiLM of the time. The default is
/// sized for a CPU (docs/images.md); "reference" is the reference's MNIST run.
inline ModelVariant image_discriminator_flow_variant() {
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
            make_image_discriminator_flow(*in.image, ImageDiscriminatorFlowOptions(c.model).seed(c.train.seed())));
      });
}

/// The Discriminator Flow of the "quick" presets: a smaller discriminator, 32 generation steps.
inline DiscriminatorFlowModelOptions quick_discriminator_flow() {
  const auto critic = DiscriminatorFlowModelOptions().discriminator();
  return DiscriminatorFlowModelOptions()
      .discriminator(nn::TimeMlpOptions(critic).embedding_size(32).mlp(nn::MlpOptions(critic.mlp()).width(128).depth(3)))
      .generation_steps(32);
}

inline ModelEntry discriminator_flow_entry() {
  using Config = RunConfig<DiscriminatorFlowModelOptions>;
  return model_entry<Config>(
      "discr-flow", "Discriminator Flow: particles from N(0, I) along a time-dependent discriminator's field",
      {{"default", {TrainSettings().steps(4000).standardize("always"), DiscriminatorFlowModelOptions(), {}}},
       {"reference", {TrainSettings().steps(4000), DiscriminatorFlowModelOptions::reference(), {}}},
       {"quick", {TrainSettings().steps(600).standardize("always"), quick_discriminator_flow(), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<ParticleRun<DiscriminatorFlowModel<>>>(
            make_discriminator_flow(in.dim, DiscriminatorFlowModelOptions(c.model).seed(c.train.seed())));
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

/// The Score GAN on images: a DCGAN generator, the U-Net of an image EDM for the data score and
/// another for its samples' score. The default is sized for a CPU (docs/images.md); "reference" is
/// the reference's MNIST run.
inline ModelVariant image_score_gan_variant() {
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
                                 ImageScoreGanOptions(c.model).seed(c.train.seed())));
      });
}

inline ModelEntry score_gan_entry() {
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
            in.dim, in.data_denoiser_as<nn::EdmMlpDenoiser>("Score GAN"), ScoreGanOptions(c.model).seed(c.train.seed())));
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

/// The f-divergence flow as a particle model: the Discriminator Flow with a logistic discriminator and
/// the divergence's particle cost.
inline ModelEntry f_divergence_flow_entry() {
  using Config = RunConfig<FDivergenceFlowOptions>;
  return model_entry<Config>(
             "f-flow", "f-divergence flow: particles from N(0, I) descend KL, reverse KL, Jensen–Shannon or χ² to the "
             "data, the density ratio estimated by a time-dependent logistic discriminator",
             {{"default", {TrainSettings().steps(4000).standardize("always"), FDivergenceFlowOptions(), {}}},
              {"quick", {TrainSettings().steps(600).standardize("always"),
                         FDivergenceFlowOptions().flow(quick_discriminator_flow().eta(5.0)), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<ParticleRun<FDivergenceFlowModel>>(
                   make_f_divergence_flow(in.dim, FDivergenceFlowOptions(c.model).seed(c.train.seed())));
             })
      .outside_demo();
}

/// The f-divergence flow with a generator: the GAN with a logistic discriminator and the divergence's
/// particle cost.
inline ModelEntry f_divergence_gan_entry() {
  using Config = RunConfig<FDivergenceGanOptions>;
  return model_entry<Config>(
             "f-gan", "f-divergence GAN: a generator whose samples descend KL, reverse KL, Jensen–Shannon or χ² to "
             "the data, the density ratio estimated by a logistic discriminator",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), FDivergenceGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), FDivergenceGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<FDivergenceGan>>(
                   make_f_divergence_gan(in.dim, FDivergenceGanOptions(c.model).seed(c.train.seed())));
             })
      .outside_demo();
}

/// The GAN with instance noise on every discriminator input, annealed.
inline ModelEntry instance_noise_gan_entry() {
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
                   make_instance_noise_gan(in.dim, InstanceNoiseGanOptions(c.model).seed(c.train.seed())));
             })
      .outside_demo();
}

/// SMaRt on images: the image GAN's default, regularised by an image EDM's U-Net.
inline ModelVariant image_smart_gan_variant() {
  using Config = RunConfig<ImageSmartGanOptions>;
  return model_variant<Config>(
      "smart-gan", {{"default", {image_train_settings(6000, 64), ImageSmartGanOptions().gan(cpu_image_gan()), {}}}},
      [](const Config& c, BuildInputs in) {
        return std::make_unique<GeneratorRun<ImageSmartGan<>>>(make_image_smart_gan(
            *in.image, in.data_denoiser_as<nn::EdmUNetDenoiser>("SMaRt GAN"), ImageSmartGanOptions(c.model).seed(c.train.seed())));
      });
}

/// SMaRt: the GAN whose generator also descends a trained EDM's denoising error at its samples.
inline ModelEntry smart_gan_entry() {
  using Config = RunConfig<SmartGanOptions>;
  return model_entry<Config>(
             "smart-gan", "SMaRt: a GAN whose generator also descends a trained EDM's denoising error at its samples, "
             "weighted and every k-th step",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), SmartGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), SmartGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<SmartGan<>>>(make_smart_gan(
                   in.dim, in.data_denoiser_as<nn::EdmMlpDenoiser>("SMaRt GAN"), SmartGanOptions(c.model).seed(c.train.seed())));
             },
             {}, /*needs_data_denoiser=*/true)
      .outside_demo()
      .with_images(image_smart_gan_variant());
}

/// The GAN with top-k generator steps, the kept fraction annealed.
inline ModelEntry top_k_gan_entry() {
  using Config = RunConfig<TopKGanOptions>;
  return model_entry<Config>(
             "top-k-gan", "GAN with top-k generator steps: each generator step follows only the samples its "
             "discriminator finds most realistic, their fraction annealed to ν",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), TopKGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), TopKGanOptions().gan(quick_gan()).top_k(TopKOptions().epoch_evaluations(10)),
                         {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<TopKGan<>>>(
                   make_top_k_gan(in.dim, TopKGanOptions(c.model).seed(c.train.seed())));
             })
      .outside_demo();
}

inline ModelEntry diffusion_gan_entry() {
  using Config = RunConfig<DiffusionGanOptions>;
  return model_entry<Config>(
             "diffusion-gan", "Diffusion-GAN: the discriminator sees data and generated samples after a forward "
             "diffusion of t steps, t given as its input, the longest diffusion adapted to its overfitting",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), DiffusionGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), DiffusionGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<DiffusionGan<>>>(
                   make_diffusion_gan(in.dim, DiffusionGanOptions(c.model).seed(c.train.seed())));
             })
      .outside_demo();
}

inline ModelEntry logan_gan_entry() {
  using Config = RunConfig<LoganGanOptions>;
  return model_entry<Config>(
             "logan-gan", "LOGAN: a GAN whose training samples come from latents moved one step uphill on the "
             "discriminator's logit",
             {{"default", {TrainSettings().steps(28000).lr_decay(0.5), LoganGanOptions(), {}}},
              {"quick", {TrainSettings().steps(1500), LoganGanOptions().gan(quick_gan()), {}}}},
             [](const Config& c, BuildInputs in) {
               return std::make_unique<GeneratorRun<LoganGan<>>>(
                   make_logan_gan(in.dim, LoganGanOptions(c.model).seed(c.train.seed())));
             })
      .outside_demo();
}

namespace detail {
inline std::vector<ModelEntry>& registry() {
  static std::vector<ModelEntry> entries{edm_entry(),
                                         gan_entry(),
                                         discriminator_flow_entry(),
                                         score_gan_entry(),
                                         f_divergence_flow_entry(),
                                         f_divergence_gan_entry(),
                                         instance_noise_gan_entry(),
                                         smart_gan_entry(),
                                         top_k_gan_entry(),
                                         diffusion_gan_entry(),
                                         logan_gan_entry()};
  return entries;
}
}  // namespace detail

/// Every model of the runner, in the order the demo trains them (a model that needs a data denoiser
/// after the EDM that provides it).
inline const std::vector<ModelEntry>& models() { return detail::registry(); }

/// Adds a model to the runner: a program that registers its own model before calling run_cli gets
/// every command for it. A name already taken is an error.
inline void register_model(ModelEntry entry) {
  for (const auto& m : models())
    GPM_CHECK(m.name != entry.name, "register_model: a model named '{}' is already registered", entry.name);
  detail::registry().push_back(std::move(entry));
}

inline std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& m : models()) names.push_back(m.name);
  return names;
}

/// The entry named `name`; an unknown name is an error listing the known ones.
inline const ModelEntry& model(const std::string& name) {
  for (const auto& m : models())
    if (m.name == name) return m;
  throw InvalidArgument(fmt::format("unknown model '{}'; choose one of {}", name, fmt::join(model_names(), ", ")));
}

/// A stored run's config in today's form: fields renamed since it was written take their new names
/// (flat penalty_*, denoiser_* and s_* fields became nested objects; then each model's `moved`
/// fields), refinement fields (now a sampling option, `gpm sample --refine`) are dropped, and fields
/// the runner gained after the run was stored take the value it was trained with (the model's
/// `predating`; without standardize, the data's own coordinates; without lr_decay, a constant rate).
inline json upgrade_stored_config(const ModelEntry& entry, json stored, DataKind kind) {
  if (!stored.is_object() || kind == DataKind::images) return stored;  // image runs are all of today's form
  const auto& variant = entry.points;
  std::set<std::string> today;  // the top-level fields of today's config
  for (const auto& row : variant.fields("default")) today.insert(row.name.substr(0, row.name.find('.')));
  // Moves the fields whose names start with `prefix` (but are not today's) into the object `object`,
  // under `name(key)`.
  const auto nest = [&](const std::string& prefix, const std::string& object, auto name) {
    std::vector<std::string> moved;
    for (const auto& [key, value] : stored.items())
      if (key.starts_with(prefix) && !today.contains(key)) moved.push_back(key);
    for (const auto& key : moved) {
      stored[object][name(key)] = stored[key];
      stored.erase(key);
    }
  };
  const auto without = [](size_t n) { return [n](const std::string& key) { return key.substr(n); }; };
  nest("penalty_", "penalty", without(8));
  nest("denoiser_", "denoiser", without(9));
  nest("s_", "churn", without(0));
  for (const char* key : {"refine_steps", "refine_time", "refine_sigma"}) stored.erase(key);
  variant.upgrade.apply(stored);
  if (!stored.contains("standardize")) stored["standardize"] = "never";
  if (!stored.contains("lr_decay")) stored["lr_decay"] = 0.0;
  return stored;
}

}  // namespace gpm::runner
