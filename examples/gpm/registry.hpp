// The runner's models: one entry each, with its config (defaults and named presets, from the
// library's options), how to build it, and what it needs, on point clouds and, for a model that has
// an image form, on images. Every command dispatches through this table; adding a model is adding
// its header, its entry function (paper_models.cpp, extension_models.cpp), that function's
// declaration below and one line to `registry()` (docs/design.md, "Adding a model").
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

#include "run.hpp"
#include "run_config.hpp"

namespace gpm::runner {

/// What building a model may take besides its config: the data's dimension, their image shape for
/// images, the data denoiser of a trained EDM, for a model that needs one, and the device.
struct BuildInputs {
  int64_t dim = 0;
  std::optional<ImageShape> image;
  std::optional<DataDenoiserNetwork> data_denoiser;
  torch::Device device = torch::kCPU;

  /// A model's `options` with the run's seed and this build's device.
  template <class Options>
  Options for_run(Options options, uint64_t seed) const {
    return options.seed(seed).device(device);
  }

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

// The runner's own models, defined in paper_models.cpp and extension_models.cpp.
ModelEntry edm_entry();
ModelEntry gan_entry();
ModelEntry discriminator_flow_entry();
ModelEntry score_gan_entry();
ModelEntry f_divergence_flow_entry();
ModelEntry f_divergence_gan_entry();
ModelEntry instance_noise_gan_entry();
ModelEntry smart_gan_entry();
ModelEntry top_k_gan_entry();
ModelEntry diffusion_gan_entry();
ModelEntry logan_gan_entry();
ModelEntry adversarial_edm_entry();

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
                                         logan_gan_entry(),
                                         adversarial_edm_entry()};
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
