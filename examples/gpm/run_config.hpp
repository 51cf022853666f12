// A run's config: the training loop's settings, the model's options and, for models that have
// them, its sampler's, read from and written to one flat JSON object. Every field is declared once,
// in its options struct (GPM_OPTION); nothing here lists a field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gpm/core/options.hpp>
#include <gpm/io/config.hpp>

namespace gpm::runner {

using nlohmann::json;

/// Training-loop settings shared by every model.
struct TrainSettings {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, steps, Range::at_least(0), "training steps in total") = 1000;
  GPM_OPTION(int64_t, batch_size, Range::at_least(1), "data points per training step") = 128;
  GPM_OPTION(uint64_t, seed, Range::any(), "seed of the model's initialisation and of every random stream") = 0;
  GPM_OPTION(int64_t, log_every, Range::at_least(1), "steps between two lines of log.jsonl") = 100;
  GPM_OPTION(int64_t, eval_every, Range::at_least(0),
             "steps between two evaluations on a fixed batch (0: five evaluations per run)") = 0;
  GPM_OPTION(int64_t, eval_samples, Range::at_least(2), "samples drawn at each evaluation") = 1000;
  GPM_OPTION(int64_t, checkpoint_every, Range::at_least(0), "steps between two checkpoints (0: only at the end)") = 0;
  GPM_OPTION(std::string, standardize, Range::one_of({"auto", "always", "never"}),
             "train on standardized coordinates: auto (data far from the defaults' scale), always or never") = "auto";
  GPM_OPTION(double, lr_decay, Range::between(0, 1),
             "the learning rates fall linearly to zero over this last fraction of the steps (0: constant)") = 0.0;
  GPM_OPTION(bool, sync_batch_norm, Range::any(),
             "with several processes, batch norm normalises by the whole batch over every process (false: by each "
             "process's own)") = false;
  GPM_OPTION(std::string, precision, Range::one_of({"float32", "bfloat16"}),
             "the networks' convolutions and matrix products in float32, or in bfloat16 under autocast (parameters, "
             "optimiser states and particles stay float32; docs/performance.md#mixed-precision)") = "float32";
  GPM_OPTIONS_END
};

/// The learning-rate multiplier for step `step` + 1 of `total`: 1, then over the last `decay`
/// fraction of the steps falling linearly to 1 / (decay · total) at the last step.
inline double learning_rate_factor(int64_t step, int64_t total, double decay) {
  const double remaining = static_cast<double>(total - step);
  const double span = decay * static_cast<double>(total);
  return remaining < span ? remaining / span : 1.0;
}

/// The options of a model without sampler settings.
struct NoSamplerOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTIONS_END
};

/// A run's whole config. Its JSON form is flat: the fields of the three parts side by side, each
/// name belonging to exactly one part.
template <Options Model, Options Sampler = NoSamplerOptions>
struct RunConfig {
  TrainSettings train;
  Model model;
  Sampler sampler;
};

namespace detail {
template <Options O>
bool declares(std::string_view key) {
  bool found = false;
  for_each_option<O>([&](const auto& field) { found = found || field.name == key; });
  return found;
}
}  // namespace detail

/// Every field of a config as one JSON object.
template <class Model, class Sampler>
json write_config(const RunConfig<Model, Sampler>& config) {
  json j = io::write_options(config.train);
  j.update(io::write_options(config.model));
  j.update(io::write_options(config.sampler));
  return j;
}

/// `defaults` with the fields of the JSON object `overrides`; throws gpm::InvalidArgument on an
/// unknown field (listing every valid one), a wrong type or a value out of range.
template <class Model, class Sampler>
RunConfig<Model, Sampler> read_config(const json& overrides, RunConfig<Model, Sampler> defaults, std::string_view name) {
  GPM_CHECK(overrides.is_object(), "config '{}': expected a JSON object, got {}", name, overrides.dump());
  json train = json::object(), model = json::object(), sampler = json::object();
  for (const auto& [key, value] : overrides.items()) {
    const std::string top = key.substr(0, key.find('.'));  // a dotted key belongs where its first name does
    if (detail::declares<TrainSettings>(top)) train[key] = value;
    else if (detail::declares<Model>(top)) model[key] = value;
    else if (detail::declares<Sampler>(top)) sampler[key] = value;
    else
      throw InvalidArgument(fmt::format("config '{}': unknown field '{}'; valid fields: {} (`gpm train --model {} --help` "
                                        "lists them with their defaults and ranges)", name, top,
                                        fmt::join(field_names(defaults), ", "), name));
  }
  return {io::read_options(train, defaults.train, name), io::read_options(model, defaults.model, name),
          io::read_options(sampler, defaults.sampler, name)};
}

/// The top-level field names of a config, in declaration order.
template <class Model, class Sampler>
std::vector<std::string> field_names(const RunConfig<Model, Sampler>&) {
  std::vector<std::string> names;
  const auto add = [&](const auto& field) { names.emplace_back(field.name); };
  for_each_option<TrainSettings>(add);
  for_each_option<Model>(add);
  for_each_option<Sampler>(add);
  return names;
}

/// The field table of a config with its defaults: training, model and sampler fields.
template <class Model, class Sampler>
std::vector<io::OptionRow> option_rows(const RunConfig<Model, Sampler>& defaults) {
  auto rows = io::option_rows(defaults.train);
  for (auto& r : io::option_rows(defaults.model)) rows.push_back(std::move(r));
  for (auto& r : io::option_rows(defaults.sampler)) rows.push_back(std::move(r));
  return rows;
}

/// The training settings of a resolved config (run.json's "config").
inline TrainSettings train_settings(const json& resolved) {
  json train = json::object();
  for_each_option<TrainSettings>([&](const auto& field) {
    const std::string key(field.name);
    if (resolved.contains(key)) train[key] = resolved.at(key);
  });
  return io::read_options(train, TrainSettings(), "training");
}

}  // namespace gpm::runner
