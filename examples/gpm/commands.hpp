// The runner's commands (train, sample, eval, plot, data, demo, bench, models, datasets), each a function of
// its parsed arguments; cli.cpp parses the command line into them.
#pragma once

#include <sched.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <gpm/core/cpu_runtime.hpp>
#include <gpm/io/image_grid.hpp>
#include <gpm/io/npy.hpp>
#include <gpm/metrics.hpp>

#include "bench.hpp"
#include "device.hpp"
#include "launch.hpp"
#include "machine_load.hpp"
#include "plots.hpp"
#include "registry.hpp"
#include "standardized_run.hpp"
#include "strict_json.hpp"
#include "training.hpp"

namespace gpm::runner::cli {

/// The JSON in the file `path`, read as parse_strict_json reads it (strict_json.hpp).
inline json read_json_file(const fs::path& path) { return parse_strict_json(gpm::io::read_file(path), path.string()); }

/// `dir`, created if it does not exist.
inline fs::path create_output_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  GPM_CHECK(!ec && fs::is_directory(dir), "cannot create the output directory '{}': {}", dir.string(),
            ec ? ec.message() : "a file of that name exists");
  return dir;
}

/// `dir`, created if it does not exist, once a file could be written in it.
inline fs::path prepare_output_directory(const fs::path& dir) {
  create_output_directory(dir);
  const auto probe = dir / ".write-test";
  std::ofstream(probe) << "";
  GPM_CHECK(fs::exists(probe), "the output directory '{}' is not writable", dir.string());
  fs::remove(probe);
  return dir;
}

/// The kind of data a run described by `info` (run.json, or its data denoiser's part) trains on.
inline DataKind data_kind(const json& info) { return info.contains("image_shape") ? DataKind::images : DataKind::points; }

/// The image shape recorded in a run description, if its data are images.
inline std::optional<ImageShape> stored_image_shape(const json& info) {
  if (!info.contains("image_shape")) return std::nullopt;
  const auto s = info.at("image_shape").get<std::vector<int64_t>>();
  GPM_CHECK(s.size() == 3, "run.json: 'image_shape' must be [channels, height, width], got {}", info.at("image_shape").dump());
  return ImageShape{s[0], s[1], s[2]};
}

inline json image_shape_json(const ImageShape& shape) { return {shape.channels, shape.height, shape.width}; }

/// "2-dimensional data" or "1×32×32 images", for messages.
inline std::string data_shape_words(int64_t dim, const std::optional<ImageShape>& image) {
  return image ? image->describe() + " images" : fmt::format("{}-dimensional data", dim);
}

/// The data denoiser network a run driven by one was built with (its weights come from the
/// checkpoint): the sampling denoiser of an untrained model of the kind that made it, on `device`.
inline std::optional<DataDenoiserNetwork> data_denoiser_network(const json& info, torch::Device device) {
  if (!info.contains("data_denoiser")) return std::nullopt;
  const auto& d = info.at("data_denoiser");
  const auto& entry = model(d.value("model", "edm"));
  const auto kind = data_kind(d);
  return entry.on(kind)
      .build(upgrade_stored_config(entry, d.at("config"), kind),
             {d.at("dim").get<int64_t>(), stored_image_shape(d), std::nullopt, device})
      ->sampling_denoiser();
}

/// The kind of device a run was trained on: run.json's "device" ("cpu" for a run stored before
/// the field existed).
inline std::string stored_device_kind(const json& info) { return info.value("device", std::string("cpu")); }

/// The standardization recorded in a run description, if the run trains in standardized coordinates.
inline std::optional<gpm::data::Standardization> stored_standardization(const json& info, const std::string& where) {
  if (!info.contains("standardization")) return std::nullopt;
  return standardization_from_json(info.at("standardization"), where);
}

/// Checks the fields of a run description (run.json, or its data denoiser's part under `prefix`)
/// that the runner reads, before any is read: a field of the wrong type is refused naming `file`,
/// the field, what it holds and what it must hold, rather than failing where it is read.
inline void check_run_info(const json& info, const std::string& file, const std::string& prefix = {}) {
  const auto check = [&](const char* key, bool required, auto valid, const char* expected) {
    GPM_CHECK(info.contains(key) || !required, "'{}' lacks the field '{}{}'; it was not written by gpm train", file, prefix,
              key);
    if (!info.contains(key)) return;
    GPM_CHECK(valid(info.at(key)), "'{}': the field '{}{}' must be {}, got {}; gpm train writes run.json: restore it or "
              "train the run again", file, prefix, key, expected, info.at(key).dump());
  };
  const auto positive_integer = [](const json& j) {
    return j.is_number_integer() && j.get<int64_t>() >= 1;  // an unsigned one beyond int64_t reads negative
  };
  GPM_CHECK(info.is_object(), "'{}': {} must be a JSON object, got {}", file, prefix.empty() ? "the file" : prefix,
            info.dump());
  const bool top = prefix.empty();
  check("model", top, [](const json& j) { return j.is_string(); }, "a model's name (a string)");
  check("data", top, [](const json& j) { return j.is_string(); }, "a dataset spec (a string)");
  check("dim", true, positive_integer, "an integer ≥ 1");
  check("config", true, [](const json& j) { return j.is_object(); }, "an object of config fields");
  check("image_shape", false, [&](const json& j) {
    return j.is_array() && j.size() == 3 && std::all_of(j.begin(), j.end(), positive_integer);
  }, "[channels, height, width], three integers ≥ 1");
  check("run", false, [](const json& j) { return j.is_string(); }, "a run directory (a string)");
  check("data_denoiser", false, [](const json& j) { return j.is_object(); }, "an object describing the EDM run");
  check("device", false, [](const json& j) { return j == "cpu" || j == "cuda"; }, "the device it trained on: \"cpu\" or "
        "\"cuda\"");
  check("csv_header", false, [](const json& j) {
    return j.is_string() && gpm::data::find_csv_header(j.get<std::string>()).has_value();
  }, "how its CSV data's first line is read: \"auto\", \"yes\" or \"no\"");
  if (top && info.contains("data_denoiser")) check_run_info(info.at("data_denoiser"), file, "data_denoiser.");
}

/// A run directory's description (run.json) and its model, restored from the checkpoint.
struct StoredRun {
  json info;
  std::unique_ptr<Run> run;
  at::Generator data_generator;
  int64_t step = 0;
};

/// `config` with its sampler replaced by `name` (`gpm sample --sampler`), checked as a config is.
inline json with_sampler(const ModelVariant& variant, const std::string& model, json config, const std::string& name) {
  GPM_CHECK(config.contains("sampler"), "--sampler {}: a {} run has no sampler to choose; --sampler applies to runs that "
            "integrate a score flow (edm)", name, model);
  config["sampler"] = name;
  try {
    return variant.resolve("default", config);
  } catch (const gpm::InvalidArgument& e) {
    throw gpm::InvalidArgument(fmt::format("--sampler {}: {}", name, e.what()));
  }
}

/// The run stored in `dir`, its state loaded from the checkpoint onto `device` (a device of the kind
/// it was trained on: random streams differ between CPUs and GPUs); `sampler`, if given, replaces
/// the sampler of its config.
inline StoredRun open_run(const fs::path& dir, const std::optional<std::string>& sampler = std::nullopt,
                          torch::Device device = model_device()) {
  GPM_CHECK(fs::is_directory(dir), "'{}' is not a run directory (it does not exist)", dir.string());
  const auto file = (dir / "run.json").string();
  StoredRun r{read_json_file(file), nullptr, gpm::make_generator(0), 0};
  check_run_info(r.info, file);
  const auto from_run_json = [&](auto&& action) -> decltype(auto) {  // everything built here comes from run.json: its errors name it
    try {
      return action();
    } catch (const gpm::InvalidArgument& e) {
      const std::string what = e.what();
      throw gpm::InvalidArgument(what.find(file) != std::string::npos ? what : fmt::format("'{}': {}", file, what));
    }
  };
  const auto model_name = r.info.at("model").get<std::string>();
  const auto& entry = from_run_json([&]() -> const ModelEntry& { return model(model_name); });
  const auto kind = from_run_json([&] { return data_kind(r.info); });
  r.info["config"] = from_run_json([&] { return upgrade_stored_config(entry, r.info.at("config"), kind); });
  if (sampler) r.info["config"] = with_sampler(entry.on(kind), model_name, r.info.at("config"), *sampler);
  const auto trained_on = stored_device_kind(r.info);
  GPM_CHECK(trained_on == device_kind(device), "the run in '{}' was trained on {}, and its checkpoint holds {}'s random "
            "streams; open it on {} ({}), or train it again on {}", dir.string(), trained_on, trained_on, trained_on,
            trained_on == "cpu" ? "leave out --device" : "--device cuda", device_kind(device));
  r.run = from_run_json([&] {
    return in_coordinates(entry.on(kind).build(r.info.at("config"), {r.info.at("dim").get<int64_t>(), stored_image_shape(r.info),
                                                                      data_denoiser_network(r.info, device), device}),
                          stored_standardization(r.info, file));
  });
  r.run->set_precision(parse_precision(train_settings(r.info.at("config")).precision()));
  Checkpoint checkpoint{*r.run, r.data_generator, r.step};
  const RunFiles files{dir};
  GPM_CHECK(fs::exists(files.checkpoint()), "'{}' has no checkpoint: its training stopped before it wrote the first one "
            "(every --checkpoint-every steps, and at the end), so there is nothing to resume, sample or plot; remove the "
            "directory and train again", dir.string());
  gpm::io::load_bytes(checkpoint, read_checkpoint(files), files.checkpoint(), device);  // verified before anything is loaded
  return r;
}

/// The denoiser that the run in `dir` samples with (an EDM's: its weight average if it keeps one),
/// on `device`, and the run's description, to drive a model that needs a data denoiser. The run
/// may have been trained on another kind of device: only its weights are taken.
inline std::pair<DataDenoiserNetwork, json> load_data_denoiser(const fs::path& dir, torch::Device device) {
  GPM_CHECK(fs::is_directory(dir), "'{}' is not a run directory (it does not exist)", dir.string());
  const auto trained_on = fs::exists(dir / "run.json") ? stored_device_kind(read_json_file(dir / "run.json")) : "cpu";
  GPM_CHECK(trained_on != "cuda" || torch::cuda::is_available(), "the EDM in '{}' was trained on cuda, and its "
            "checkpoint holds cuda's random streams, which this LibTorch cannot read without a GPU; give a data denoiser "
            "trained on the cpu", dir.string());
  auto stored = open_run(dir, std::nullopt, trained_on == device_kind(device) ? device : parse_device(trained_on));
  auto denoiser = model_run(*stored.run).sampling_denoiser();
  GPM_CHECK(denoiser.has_value(), "'{}' is a {} run; --data-denoiser needs the run directory of a model that samples "
            "with a denoiser (an EDM)", dir.string(), stored.info.at("model").get<std::string>());
  std::visit([&](auto& network) { network->to(device); }, *denoiser);
  return {std::move(*denoiser), std::move(stored.info)};
}

/// run.json describes a run (model, data, dimension, resolved config); the checkpoint holds its state
/// and step.
inline void write_run_info(const fs::path& dir, const json& info) {
  gpm::io::write_file_atomically(dir / "run.json", info.dump(2) + "\n");
}

struct TrainArgs {
  std::string model, data, out, config, data_denoiser, resume, preset = "default";
  std::optional<int64_t> steps, checkpoint_every;
  std::optional<uint64_t> seed;
  std::optional<std::string> header, precision;
  bool quiet = false;
  DistributedArgs distributed;
};

/// How a run described by `info` reads its CSV data's first line: as it was trained (run.json's
/// "csv_header"; a run stored before the field existed reads it as "auto", as it then did).
inline gpm::data::CsvHeader stored_csv_header(const json& info) {
  return *gpm::data::find_csv_header(info.value("csv_header", std::string("auto")));
}

/// The --header choice `value` (default auto), refused when `applies` is false: when none of the
/// files the command reads is a CSV file (`what` says what it reads instead).
inline gpm::data::CsvHeader header_option(const std::optional<std::string>& value, bool applies, const std::string& what) {
  if (!value) return gpm::data::CsvHeader::automatic;
  GPM_CHECK(applies, "--header says how to read the first line of a CSV file, and {}: drop --header", what);
  return *gpm::data::find_csv_header(*value);
}

/// The data of the run in `dir` described by `info`, read as it was trained (a CSV file's header
/// included), checked against the dimension and image shape
/// it was trained on: a data file replaced by one of another shape is refused, naming it, rather
/// than failing inside a network.
inline gpm::data::AnyDataset stored_run_data(const json& info, const fs::path& dir) {
  const auto spec = info.at("data").get<std::string>();
  auto data = gpm::data::parse_dataset(spec, gpm::data::default_options(), stored_csv_header(info));
  const auto dim = info.at("dim").get<int64_t>();
  const auto image = stored_image_shape(info);
  const auto now = data.has_image_shape() ? std::optional<ImageShape>(data.image_shape()) : std::nullopt;
  GPM_CHECK(data.dim() == dim && now == image, "the run in '{}' was trained on {}, but its data '{}' now hold {}; "
            "restore the data it was trained on, or train a new run on these", dir.string(), data_shape_words(dim, image),
            spec, data_shape_words(data.dim(), now));
  return data;
}

/// Trains `run` from `step` and writes run.json after it; the same for a new run and a resumed one.
/// As a rank of `group`, it starts from rank 0's state, and rank 0 alone writes.
inline TrainResult train_and_record(Run& run, const json& info, int64_t& step, at::Generator& data_generator, const fs::path& dir,
                             bool progress, const std::shared_ptr<distributed::ProcessGroup>& group = nullptr) {
  const auto data = stored_run_data(info, dir);
  const auto settings = train_settings(info.at("config"));
  if (group) start_from_rank_zero(*group, info, Checkpoint{run, data_generator, step}, run.device());
  const bool writer = group == nullptr || group->rank() == 0;
  const auto result = train(run, data, settings, step, data_generator, RunFiles{dir}, info.at("model").get<std::string>(),
                            divergence_advice(info.at("config")), progress,
                            writer ? digit_judge(info.at("data").get<std::string>()) : std::nullopt, group);
  if (writer) write_run_info(dir, info);
  return result;
}

/// The number of processes that trained the run described by `info` (1 unless it says otherwise).
inline int64_t stored_world_size(const json& info) { return info.value("world_size", int64_t{1}); }

/// `spec` with the file or folder it reads as an absolute path, so that run.json serves from any
/// working directory: a CSV file's path, or the value of the option a dataset takes first (images'
/// folder, also as dir=). Names and other options stay as given, and so does a folder whose absolute
/// path a spec cannot hold (with ',' in it); one with '=' in it is written as dir=.
/// Example: `anchored_data_spec("images:faces,size=64")` is "images:/home/me/faces,size=64".
inline std::string anchored_data_spec(const std::string& spec) {
  namespace detail = gpm::data::detail;
  const auto split = detail::split_spec(spec);
  const auto absolute = [](std::string_view path) { return fs::absolute(fs::path(path)).lexically_normal().string(); };
  if (split.is_file) return absolute(split.text);
  const auto* entry = gpm::data::find_builtin_dataset(split.name);
  if (entry == nullptr || entry->positional.empty() || detail::trim(split.parameters).empty()) return std::string(split.text);
  std::vector<std::string> items;
  for (const auto item : detail::split_cells(split.parameters)) {
    const auto equals = item.find('=');
    const bool positional = equals == std::string_view::npos ? items.empty()
                                                              : detail::trim(item.substr(0, equals)) == entry->positional;
    if (!positional) {
      items.emplace_back(item);
      continue;
    }
    const auto path = absolute(equals == std::string_view::npos ? item : detail::trim(item.substr(equals + 1)));
    if (path.find(',') != std::string::npos) return std::string(split.text);
    // A path with '=' in it is held only by the name=value form.
    const bool alone = equals == std::string_view::npos && path.find('=') == std::string::npos;
    items.push_back(alone ? path : entry->positional + "=" + path);
  }
  return fmt::format("{}:{}", split.name, fmt::join(items, ","));
}

/// The dotted paths of the fields named `name` that are true in `config`: "generator.batch_norm".
inline std::vector<std::string> true_fields(const json& config, const std::string& name, const std::string& prefix = {}) {
  std::vector<std::string> paths;
  for (const auto& [key, value] : config.items()) {
    const auto path = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      for (auto& p : true_fields(value, name, path)) paths.push_back(std::move(p));
    } else if (key == name && value == true) {
      paths.push_back(path);
    }
  }
  return paths;
}

/// Refuses a point-cloud config whose MLPs' batch norm would see batches of one row, which have no
/// batch statistics (BatchNorm1d fails on them in training).
inline void check_batch_norm_batches(const json& config, const std::string& model) {
  const auto batch_norm = true_fields(config, "batch_norm");
  const auto batch_size = config.at("batch_size").get<int64_t>();
  GPM_CHECK(batch_norm.empty() || batch_size >= 2, "config '{}': '{}' {} true, and batch norm normalises over the rows of a "
            "batch, which needs 'batch_size' ≥ 2, got {}; raise batch_size or turn batch norm off", model,
            fmt::join(batch_norm, "' and '"), batch_norm.size() > 1 ? "are" : "is", batch_size);
}

/// A new run's description and model: the resolved config, the data (a CSV file read with `header`,
/// which is recorded), the coordinates it trains in, and the data denoiser of a model that needs one
/// (read from `data_denoiser_dir`).
inline std::pair<json, std::unique_ptr<Run>> new_run(const ModelEntry& entry, const std::string& data_spec, const json& config,
                                              const std::string& data_denoiser_dir,
                                              gpm::data::CsvHeader header = gpm::data::CsvHeader::automatic) {
  const auto data = gpm::data::parse_dataset(data_spec, gpm::data::default_options(), header);
  json info = {{"model", entry.name}, {"data", anchored_data_spec(data_spec)}, {"dim", data.dim()}, {"config", config},
               {"device", device_kind(model_device())}};
  if (gpm::data::is_csv_spec(data_spec)) info["csv_header"] = std::string(gpm::data::csv_header_name(header));
  std::optional<ImageShape> image;
  if (data.has_image_shape()) {
    image = data.image_shape();
    info["image_shape"] = image_shape_json(*image);
  }
  std::optional<DataDenoiserNetwork> denoiser;
  std::optional<gpm::data::Standardization> denoiser_coordinates;
  if (entry.needs_data_denoiser) {
    GPM_CHECK(!data_denoiser_dir.empty(), "the model '{}' needs --data-denoiser RUN_DIR, the run directory of a trained "
              "EDM", entry.name);
    auto [network, edm] = load_data_denoiser(data_denoiser_dir, model_device());
    const auto edm_image = stored_image_shape(edm);
    GPM_CHECK(edm.at("dim").get<int64_t>() == data.dim() && edm_image == image, "the EDM in '{}' was trained on '{}', "
              "{}, but '{}' is {}; train the EDM on the same data", data_denoiser_dir, edm.at("data").get<std::string>(),
              data_shape_words(edm.at("dim").get<int64_t>(), edm_image), data_spec, data_shape_words(data.dim(), image));
    denoiser = std::move(network);
    info["data_denoiser"] = {{"model", edm.at("model")}, {"dim", edm.at("dim")}, {"config", edm.at("config")},
                             {"run", fs::absolute(data_denoiser_dir).lexically_normal().string()}};
    if (image) info["data_denoiser"]["image_shape"] = image_shape_json(*image);
    denoiser_coordinates = stored_standardization(edm, (fs::path(data_denoiser_dir) / "run.json").string());
  } else {
    GPM_CHECK(data_denoiser_dir.empty(), "--data-denoiser is for a model driven by a data denoiser (a Score GAN); "
              "'{}' is not one", entry.name);
  }
  GPM_CHECK(!image || config.at("standardize").get<std::string>() != "always", "\"standardize\": \"always\" is for point "
            "clouds; images train on their pixels in [-1, 1]: set it to \"never\"");
  if (!image) check_batch_norm_batches(config, entry.name);
  const auto standardization =
      image ? std::nullopt : training_coordinates(entry, config, data, denoiser_coordinates, data_denoiser_dir);
  if (standardization) info["standardization"] = to_json(*standardization);
  auto run = in_coordinates(entry.on(data_kind(info)).build(config, {data.dim(), image, std::move(denoiser), model_device()}),
                            standardization);
  run->set_precision(parse_precision(train_settings(config).precision()));
  return {std::move(info), std::move(run)};
}

/// The kind of data a --data spec gives (a CSV file's points, without reading the file).
inline DataKind spec_kind(const std::string& spec) {
  if (gpm::data::is_csv_spec(spec)) return DataKind::points;
  return gpm::data::parse_dataset(spec).has_image_shape() ? DataKind::images : DataKind::points;
}

inline int command_train(const TrainArgs& a) {
  // As a rank of a group: all ranks build the run as rank 0 does (reading the same files), rank 0 alone writes.
  const auto rendezvous = rendezvous_of(a.distributed);
  const auto group = rendezvous ? distributed::ProcessGroup::connect(*rendezvous) : nullptr;
  const int64_t world = group ? group->world_size() : 1;
  const bool writer = group == nullptr || group->rank() == 0;
  if (group && model_device().is_cuda()) model_device() = rank_device(*group);
  if (!a.resume.empty()) {
    GPM_CHECK(a.out.empty(), "--resume {} continues the run in '{}', in place; --out is for a new run (to continue a "
              "copy, copy the directory and resume the copy)", a.resume, a.resume);
    GPM_CHECK(a.model.empty() && a.data.empty() && a.config.empty() && !a.seed && a.preset == "default" && !a.header,
              "--resume continues a run with its own model, data (read as it was, --header included), config and "
              "seed; only --steps and --checkpoint-every may be given with it");
    GPM_CHECK(fs::is_directory(a.resume), "'{}' is not a run directory (it does not exist)", a.resume);
    GPM_CHECK(fs::exists(RunFiles{a.resume}.info()), "'{}' is not a run directory (it has no run.json); --resume "
              "continues a run that gpm train wrote", a.resume);
    std::optional<RunLock> lock;  // read and written by this process alone from here
    if (writer) lock.emplace(a.resume, "wait for it to finish");
    auto stored = open_run(a.resume);  // refuses a bad checkpoint before anything is written
    GPM_CHECK(stored_world_size(stored.info) == world, "the run in '{}' was trained by {} process{} with batches of {} each; "
              "resume it with as many (gpm launch -n {} -- train --resume {}, or --world-size {}): another number of "
              "processes would change the batch", a.resume, stored_world_size(stored.info),
              stored_world_size(stored.info) == 1 ? "" : "es", stored.info.at("config").at("batch_size").dump(),
              stored_world_size(stored.info), a.resume, stored_world_size(stored.info));
    json config = stored.info.at("config");
    if (a.steps) config["steps"] = *a.steps;
    if (a.checkpoint_every) config["checkpoint_every"] = *a.checkpoint_every;
    if (a.precision) config["precision"] = *a.precision;
    const auto model_name = stored.info.at("model").get<std::string>();
    stored.info["config"] = model(model_name).on(data_kind(stored.info)).resolve("default", config);
    const auto settings = train_settings(stored.info["config"]);
    stored.run->set_precision(parse_precision(settings.precision()));
    if (stored.step >= settings.steps()) {
      if (writer)
        fmt::print("'{}' is already at step {} of {}; pass --steps N with N > {} to train further\n", a.resume,
                   stored.step, settings.steps(), stored.step);
      return 0;
    }
    const auto result = train_and_record(*stored.run, stored.info, stored.step, stored.data_generator, a.resume, !a.quiet,
                                         group);
    if (writer)
      fmt::print("resumed {} and trained {} more steps to step {} in {:.1f} s\n", model_name, result.steps, stored.step,
                 result.seconds);
    return 0;
  }
  GPM_CHECK(!a.model.empty() && !a.data.empty() && !a.out.empty(), "train needs --model, --data and --out (or --resume DIR)");
  const auto& entry = model(a.model);
  json overrides = a.config.empty() ? json::object() : read_json_file(a.config);
  if (a.steps) overrides["steps"] = *a.steps;
  if (a.seed) overrides["seed"] = *a.seed;
  if (a.checkpoint_every) overrides["checkpoint_every"] = *a.checkpoint_every;
  if (a.precision) overrides["precision"] = *a.precision;
  const auto header = header_option(a.header, gpm::data::is_csv_spec(a.data),
                                    fmt::format("'{}' is a built-in dataset", a.data));
  auto [info, run] = new_run(entry, a.data, entry.on(spec_kind(a.data)).resolve(a.preset, overrides), a.data_denoiser,
                             header);
  if (world > 1) info["world_size"] = world;
  auto data_generator = gpm::make_generator(train_settings(info.at("config")).seed() + 1000);
  int64_t step = 0;
  if (!writer) {
    train_and_record(*run, info, step, data_generator, a.out, false, group);
    return 0;
  }
  if (info.contains("standardization"))
    fmt::print("{}\n", describe(stored_standardization(info, "run.json").value()));
  check_outside_run_files(a.out, "--out");
  const auto dir = create_output_directory(a.out);
  check_new_run_directory(dir);  // before a lock file goes into a directory that is refused
  const RunLock lock(dir, "wait for it to finish, or choose another --out");
  check_empty_for_run(dir);  // what another process wrote between the look and the lock
  write_run_info(dir, info);
  const auto result = train_and_record(*run, info, step, data_generator, dir, !a.quiet, group);
  fmt::print("trained {} for {} steps in {:.1f} s ({:.1f} steps/s); run saved to {}\n", a.model, result.steps, result.seconds,
             static_cast<double>(result.steps) / std::max(result.seconds, 1e-9), dir.string());
  return 0;
}

struct BenchArgs {
  std::string model, data = "ring", config, data_denoiser, what = "train", preset = "default";
  std::optional<int64_t> batch;
  std::optional<uint64_t> seed;
  std::optional<std::string> precision;
  BenchSettings settings;
};

/// `gpm bench`: a new run of the model built as `gpm train` builds it, its training step or sampler
/// timed on batches drawn beforehand (drawing data is not part of a step); the figures as JSON.
inline int command_bench(const BenchArgs& a) {
  GPM_CHECK(!a.model.empty(), "bench needs --model");
  const auto& entry = model(a.model);
  json overrides = a.config.empty() ? json::object() : read_json_file(a.config);
  if (a.seed) overrides["seed"] = *a.seed;
  if (a.batch && a.what == "train") overrides["batch_size"] = *a.batch;
  if (a.precision) overrides["precision"] = *a.precision;
  auto [info, run] = new_run(entry, a.data, entry.on(spec_kind(a.data)).resolve(a.preset, overrides), a.data_denoiser);
  const auto settings = train_settings(info.at("config"));
  const auto data = gpm::data::parse_dataset(a.data);
  auto data_generator = gpm::make_generator(settings.seed() + 1000);
  json result = {{"model", a.model}, {"data", a.data}, {"preset", a.preset}, {"what", a.what},
                 {"precision", settings.precision()}};
  if (a.what == "train") {
    std::vector<torch::Tensor> batches;
    for (int i = 0; i < 16; ++i) batches.push_back(data.sample(settings.batch_size(), data_generator));
    size_t next = 0;
    result["batch"] = settings.batch_size();
    result.update(bench([&] { run->train_step(batches[next++ % batches.size()]); }, 1, "steps/s", a.settings));
  } else {
    const int64_t batch = a.batch.value_or(settings.batch_size());
    result["batch"] = batch;
    if (const auto steps = run->generation_steps(); steps > 0) result["generation_steps"] = steps;
    result.update(bench([&] { run->sample(batch, std::nullopt); }, batch, "samples/s", a.settings));
  }
  fmt::print("{}\n", result.dump(2));
  return 0;
}

/// `kind[:key=value,...]` (values as JSON: numbers, true, false; anything else a string), the value
/// of the option `option` (--refine, --guided).
inline RefinementRequest parse_refinement(const std::string& spec, const std::string& option) {
  const auto colon = spec.find(':');
  RefinementRequest request{spec.substr(0, colon), json::object()};
  GPM_CHECK(!request.kind.empty(), "{} '{}': give a kind, e.g. {}", option, spec,
            option == "--refine" ? "flow or flow:steps=20,time=2" : "latent or latent:steps=50");
  if (colon == std::string::npos) return request;
  std::stringstream items(spec.substr(colon + 1));
  for (std::string item; std::getline(items, item, ',');) {
    const auto equals = item.find('=');
    GPM_CHECK(equals != std::string::npos && equals > 0, "{} '{}': '{}' is not of the form key=value", option, spec, item);
    const auto value = item.substr(equals + 1);
    GPM_CHECK(!request.options.contains(item.substr(0, equals)), "{} '{}': '{}' is given twice; keep one", option, spec,
              item.substr(0, equals));
    const json parsed = json::parse(value, nullptr, /*allow_exceptions=*/false);
    request.options[item.substr(0, equals)] = parsed.is_discarded() ? json(value) : parsed;
  }
  return request;
}

/// Writes samples to `path` by its extension: .csv (one point per row, flat), .npy (points [N, dim];
/// images [N, C, H, W] with pixel values in [0, 1]) or, for images, .png (a grid).
inline void write_samples(const fs::path& path, const torch::Tensor& x, const std::optional<ImageShape>& image) {
  const auto extension = path.extension().string();
  if (extension == ".npy") {
    gpm::io::write_npy(path, image ? ((image->unflatten(x, "gpm sample") + 1) / 2).clamp(0, 1) : x);
  } else if (extension == ".png") {
    GPM_CHECK(image.has_value(), "--out '{}': a PNG grid is for runs on images; write points to a .csv or .npy file",
              path.string());
    gpm::io::write_image_grid(path.string(), x, *image);
  } else {
    GPM_CHECK(extension == ".csv", "--out '{}': write samples to a .csv, .npy or (images) .png file", path.string());
    gpm::data::write_csv(path.string(), x);
  }
}

/// n samples of a generator run from latents N(0, I) truncated to [−τ, τ] (the truncation trick),
/// drawn with a stream seeded by `seed`.
inline torch::Tensor sample_truncated(Run& run, const std::string& model, int64_t n, double truncation, uint64_t seed) {
  const auto dim = run.latent_dim();
  GPM_CHECK(dim > 0, "--truncation: a {} run samples along its own flow, from no latent; truncation draws a generator's "
            "latents: sample the run of a model with a generator", model);
  auto gen = gpm::make_generator(seed);
  return run.generate(gpm::TruncatedGaussianPrior(gpm::TruncatedGaussianPriorOptions({dim}, truncation))
                          .sample(n, torch::TensorOptions(torch::kFloat32), gen));
}

inline int command_sample(const std::string& dir, int64_t n, const std::string& out, std::optional<int64_t> steps,
                   std::optional<uint64_t> seed, const std::string& refine, const std::optional<std::string>& sampler,
                   std::optional<double> truncation, const std::string& guided) {
  GPM_CHECK(n > 0, "-n must be > 0, got {}", n);
  GPM_CHECK(!truncation || *truncation > 0, "--truncation must be > 0 (smaller keeps latents nearer 0), got {}",
            truncation.value_or(0));
  check_outside_run_files(out, "--out");
  const auto request = refine.empty() ? std::optional<RefinementRequest>() : parse_refinement(refine, "--refine");
  const auto guide = guided.empty() ? std::optional<RefinementRequest>() : parse_refinement(guided, "--guided");
  GPM_CHECK(!guide || !truncation, "--guided draws its own latents (N(0, I)); leave out --truncation or --guided");
  auto stored = open_run(dir, sampler);
  stored.run->seed(seed.value_or(0));
  GPM_CHECK(!truncation || !steps || request, "--steps stops a particle model's flow or a refinement early, but a "
            "truncated generator samples in one pass; pass --refine to refine its samples");
  auto x = truncation ? sample_truncated(*stored.run, stored.info.at("model").get<std::string>(), n, *truncation,
                                         seed.value_or(0))
           : guide    ? stored.run->guided_sample(n, *guide)
                      : stored.run->sample(n, request ? std::nullopt : steps);
  if (request) x = stored.run->refine(x, *request, steps);
  if (const auto bad = non_finite_samples(x))
    throw gpm::RuntimeError(fmt::format("sampling '{}' produced {}; nothing was written to '{}'. The model's samples are "
                                        "not numbers: {} and train again", dir, *bad, out,
                                        divergence_advice(stored.info.at("config"))));
  write_samples(out, x, stored_image_shape(stored.info));
  fmt::print("wrote {} samples to {}\n", n, out);
  return 0;
}

inline int command_plot(const fs::path& dir, const std::string& out) {
  if (!out.empty()) check_outside_run_files(out, "--out");
  auto stored = open_run(dir);
  const auto data = stored_run_data(stored.info, dir);
  const auto figures = plot_run(dir, *stored.run, stored.info, data, out.empty() ? dir / "figures" : fs::path(out));
  for (const auto& f : figures) fmt::print("{}\n", f.string());
  return 0;
}

/// The points of a .csv (its first line read as `header` says) or .npy file as [N, dim]; images
/// stored as [N, C, H, W] in [0, 1] (as `gpm sample` writes them) come back flat in [−1, 1].
inline torch::Tensor read_samples(const std::string& path, gpm::data::CsvHeader header) {
  if (fs::path(path).extension() != ".npy")
    return gpm::data::PointCloud::from_csv(path, gpm::data::default_options(), header).points();
  const auto x = gpm::io::read_npy(path);
  GPM_CHECK(x.dim() == 2 || x.dim() == 4, "'{}' holds an array of {} dimensions; expected points [N, dim] or images "
            "[N, C, H, W]", path, x.dim());
  const auto bad = x.numel() - torch::isfinite(x).sum().item<int64_t>();
  GPM_CHECK(bad == 0, "'{}' holds {} NaN or infinite values; metrics need finite points", path, bad);
  return x.dim() == 2 ? x : (x * 2 - 1).flatten(1);
}

/// How many points of each set `gpm eval` gives the metrics whose cost grows with the product of the
/// sets' sizes, unless --max-points says otherwise: 10,000 against 10,000 points take about 10 s on
/// one core, where 60,000 against 60,000 took minutes.
inline constexpr int64_t kDefaultEvalPoints = 10000;

/// `x`, or `limit` of its points drawn at random without replacement with `gen` when it has more
/// (`limit` 0: all of them).
/// Example: `at_most(samples, 10000, gen)`
inline torch::Tensor at_most(const torch::Tensor& x, int64_t limit, at::Generator& gen) {
  if (limit == 0 || x.size(0) <= limit) return x;
  const auto order = torch::randperm(x.size(0), gen, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  return x.index_select(0, order.narrow(0, 0, limit));
}

/// Prints `metrics` of the points in `samples` as JSON. A metric that is not a finite number is a
/// failure, never a `null` in the output.
inline void print_metrics(const json& metrics, const std::string& samples) {
  if (const auto metric = first_non_finite_metric(metrics))
    throw gpm::RuntimeError(fmt::format("the metrics of '{}' are not all finite numbers: {}; the points are too large or "
                                        "too far apart for float arithmetic: rescale them", samples, *metric));
  fmt::print("{}\n", metrics.dump(2));
}

/// The metrics of `samples` against `reference`. Those whose cost grows with the product of the two
/// sets' sizes (energy distance, squared MMD, the image metrics) see at most `max_points` of each
/// set (0: every point), drawn with `seed`; the others every point. The output's "points_used" says
/// how many points of each set every metric used, and standard error says when points were left out.
inline int command_eval(const std::string& samples, const std::string& reference, const std::string& centers,
                         std::optional<double> std, const std::optional<std::string>& header_choice, int64_t max_points,
                         uint64_t seed) {
  GPM_CHECK(centers.empty() == !std.has_value(), "--centers and --std go together: the mode metrics need both");
  GPM_CHECK(max_points != 1, "--max-points 1 would leave one point of each set, and the metrics compare pairs of points: "
            "give at least 2, or 0 for every point");
  const auto is_csv = [](const std::string& path) { return fs::path(path).extension() != ".npy"; };
  const auto header = header_option(header_choice, is_csv(samples) || (!is_mnist_spec(reference) && is_csv(reference)) ||
                                                       !centers.empty(), "every file eval reads here is a .npy file");
  const auto x = read_samples(samples, header);
  auto gen = gpm::make_generator(seed);
  const auto used = [](const torch::Tensor& a, const torch::Tensor& b) {
    return json{{"samples", a.size(0)}, {"reference", b.size(0)}};
  };
  // Subsets of the sets `all_x` and `all_y` for the metrics `names`, said on standard error when they
  // leave points out (`others`: what the other metrics use).
  const auto subsets = [&](const torch::Tensor& all_x, const torch::Tensor& all_y, std::string_view names,
                           std::string_view others) {
    auto pair = std::pair(at_most(all_x, max_points, gen), at_most(all_y, max_points, gen));
    if (pair.first.size(0) < all_x.size(0) || pair.second.size(0) < all_y.size(0))
      fmt::print(stderr, "gpm eval: {}, whose cost grows with the square of the points, use {} of the {} samples and {} of "
                 "the {} reference points, drawn at random with --seed {} (--max-points {}; 0 uses every point){}\n", names,
                 pair.first.size(0), all_x.size(0), pair.second.size(0), all_y.size(0), seed, max_points, others);
    return pair;
  };
  if (is_mnist_spec(reference)) {
    // Generated digits against MNIST's held-out digits: the image metrics (docs/images.md#metrics).
    auto judge = mnist_judge();
    GPM_CHECK(x.size(1) == judge.validation.size(1), "'{}' holds images of {} pixels, but MNIST's have {} (1×32×32)",
              samples, x.size(1), judge.validation.size(1));
    const auto [xs, ys] = subsets(x, judge.validation, "energy_distance and the image metrics", "");
    json m = {{"energy_distance", gpm::metrics::energy_distance(xs, ys)}};
    m.update(gpm::metrics::image_metrics(judge.classifier, xs, ys).to_json());
    m["points_used"] = {{"energy_distance", used(xs, ys)}, {"image_metrics", used(xs, ys)}};
    print_metrics(m, samples);
    return 0;
  }
  const auto y = read_samples(reference, header);
  GPM_CHECK(x.size(1) == y.size(1), "'{}' has {} coordinates per point but '{}' has {}", samples, x.size(1), reference, y.size(1));
  const auto* others = centers.empty() ? "; sliced_wasserstein uses every point"
                                        : "; sliced_wasserstein and the mode coverage use every point";
  const auto [xs, ys] = subsets(x, y, "energy_distance and squared_mmd", others);
  json m = {{"energy_distance", gpm::metrics::energy_distance(xs, ys)},
            {"squared_mmd", gpm::metrics::squared_mmd(xs, ys)},
            {"sliced_wasserstein", gpm::metrics::sliced_wasserstein(x, y)}};
  json points_used = {{"energy_distance", used(xs, ys)}, {"squared_mmd", used(xs, ys)}, {"sliced_wasserstein", used(x, y)}};
  if (!centers.empty()) {
    const auto c = gpm::data::PointCloud::from_csv(centers, gpm::data::default_options(), header).points();
    const auto coverage = gpm::metrics::mode_coverage(x, c, *std);
    m["modes_covered"] = coverage.modes_covered;
    m["modes"] = c.size(0);
    m["high_quality_fraction"] = coverage.high_quality_fraction;
    points_used["mode_coverage"] = {{"samples", x.size(0)}};
  }
  m["points_used"] = points_used;
  print_metrics(m, samples);
  return 0;
}

inline int command_data(const std::string& spec, int64_t n, const std::string& out, uint64_t seed, const std::string& centers,
                         const std::optional<std::string>& header_choice) {
  GPM_CHECK(n > 0, "-n must be > 0, got {}", n);
  check_outside_run_files(out, "--out");
  if (!centers.empty()) check_outside_run_files(centers, "--centers");
  const auto header = header_option(header_choice, gpm::data::is_csv_spec(spec), fmt::format("'{}' is a built-in dataset", spec));
  const auto data = gpm::data::parse_dataset(spec, gpm::data::default_options(), header);
  auto gen = gpm::make_generator(seed);
  gpm::data::write_csv(out, data.sample(n, gen));
  fmt::print("wrote {} points of {} to {}\n", n, spec, out);
  if (!centers.empty()) {
    GPM_CHECK(data.has_modes(), "'{}' is not a Gaussian mixture: it has no centres to write; drop --centers", spec);
    gpm::data::write_csv(centers, data.centers());
    fmt::print("wrote its {} centres to {}; its components have std {} (gpm eval --centers {} --std {})\n",
               data.centers().size(0), centers, data.std(), centers, data.std());
  }
  return 0;
}

inline int command_demo(const fs::path& out, bool quick, bool quiet) {
  check_outside_run_files(out, "--out");
  const auto dir = prepare_output_directory(out);
  const std::string spec = "ring:modes=5,radius=3,std=0.5";
  const auto data = gpm::data::parse_dataset(spec);
  auto gen = gpm::make_generator(12345);
  const auto reference = data.sample(2000, gen);
  const std::string preset = quick ? "quick" : "default";
  struct Row {
    std::string name;
    std::optional<TrainResult> trained;
    double sample_seconds;
    json metrics;
  };
  std::vector<Row> rows, refined;
  std::vector<fs::path> figures;
  std::string denoiser_run;  // the first model that samples with a denoiser drives those that need one
  fmt::print("training every model on {} (preset \"{}\"); runs go to {}\n", spec, preset, dir.string());
  for (const auto& entry : models()) {
    if (!entry.in_demo) continue;
    const auto run_dir = prepare_output_directory(dir / entry.name);
    const RunLock lock(run_dir, "wait for it to finish, or choose another --out");
    fs::remove(RunFiles{run_dir}.log());
    fs::remove(RunFiles{run_dir}.checkpoint());
    fs::remove(RunFiles{run_dir}.manifest());
    auto [info, run] = new_run(entry, spec, entry.points.resolve(preset, json::object()),
                               entry.needs_data_denoiser ? denoiser_run : std::string());
    auto data_generator = gpm::make_generator(train_settings(info.at("config")).seed() + 1000);
    int64_t step = 0;
    write_run_info(run_dir, info);
    const auto trained = train_and_record(*run, info, step, data_generator, run_dir, !quiet);
    const auto start = Clock::now();
    const auto samples = sample_aside(*run, 2000, 7);
    const double sample_seconds = seconds_since(start);
    const auto measured = [&](const torch::Tensor& x, const std::string& what) {
      const auto advice = divergence_advice(info.at("config"));
      if (const auto bad = non_finite_samples(x))
        throw gpm::RuntimeError(fmt::format("{} produced {}; {}", what, *bad, advice));
      auto m = sample_metrics(x, reference, data);
      if (const auto metric = first_non_finite_metric(m))
        throw gpm::RuntimeError(fmt::format("the metrics of {} are not all finite numbers: {}; {}", what, *metric, advice));
      return m;
    };
    auto metrics = measured(samples, "sampling " + entry.name);  // before samples that are not numbers are written
    gpm::data::write_csv((run_dir / "samples.csv").string(), samples);
    if (denoiser_run.empty() && model_run(*run).sampling_denoiser()) denoiser_run = run_dir.string();
    rows.push_back(Row{entry.name, trained, sample_seconds, std::move(metrics)});
    // Refinements are reported beside the model's own samples, named after what refines them.
    for (const auto& kind : run->refinements()) {
      const auto refine_start = Clock::now();
      const auto x = run->refine(samples, RefinementRequest{kind}, std::nullopt);
      refined.push_back(Row{fmt::format("{} + {}", entry.name, kind == "denoiser" ? "EDM denoiser" : "own flow"), std::nullopt,
                            sample_seconds + seconds_since(refine_start), measured(x, "refining " + entry.name)});
    }
    for (const auto& f : plot_run(run_dir, *run, info, data, run_dir / "figures")) figures.push_back(f);
    if (quiet) fmt::print("  {} done in {:.1f} s\n", entry.name, trained.seconds);
  }
  const auto print = [](const Row& r) {
    fmt::print("{:<24} {:>10} {:>9} {:>11.3f} {:>10.4f} {:>4}/{} {:>8.3f}\n", r.name,
               r.trained ? fmt::format("{:.1f}", r.trained->seconds) : "",
               r.trained ? fmt::format("{:.1f}", static_cast<double>(r.trained->steps) / r.trained->seconds) : "",
               r.sample_seconds, r.metrics["energy_distance"].get<double>(), r.metrics["modes_covered"].get<int64_t>(),
               r.metrics["modes"].get<int64_t>(), r.metrics["high_quality_fraction"].get<double>());
  };
  fmt::print("\n{:<24} {:>10} {:>9} {:>11} {:>10} {:>6} {:>8}\n", "model", "train (s)", "steps/s", "sample (s)",
             "energy d.", "modes", "HQ frac");
  for (const auto& r : rows) print(r);
  fmt::print("\nrefined samples, beside the models' own (gpm sample --refine):\n");
  for (const auto& r : refined) print(r);
  fmt::print("\n2,000 samples per model against 2,000 fresh data points; runs and samples in {}\nfigures:\n", dir.string());
  for (const auto& f : figures) fmt::print("  {}\n", f.string());
  return 0;
}

/// Every model with its presets, or the field tables of every model and dataset in Markdown (docs/options.md).
inline int command_models(bool markdown) {
  if (!markdown) {
    for (const auto& m : models())
      fmt::print("{:<11} {}\n{:<11} presets: {}{}\n", m.name, m.summary, "", fmt::join(m.points.presets, ", "),
                 m.images ? fmt::format("; on images: {}", fmt::join(m.images->presets, ", ")) : std::string());
    fmt::print("\n`gpm train --model M --help` lists a model's fields with their defaults and ranges.\n");
    return 0;
  }
  fmt::print("# Model and dataset options\n\nGenerated by `gpm models --markdown` from the options' declarations; a test keeps this "
             "file in step with them. A run's config is one JSON object of these fields (nested options as nested "
             "objects, e.g. `{{\"penalty\": {{\"weight\": 1}}}}`); `--preset reference` starts from the reference's "
             "configuration instead of the defaults.\n");
  for (const auto& m : models()) {
    fmt::print("\n## {}\n\n{}. Presets: {}.\n\n{}", m.name, m.summary, fmt::join(m.points.presets, ", "),
               gpm::io::option_table_markdown(m.points.fields("default")));
    if (m.images)
      fmt::print("\n### {} on images\n\nWith image data (`--data mnist`, `--data images:DIR`). Presets: {} (the "
                 "default is sized for a CPU; see [images](images.md)).\n\n{}", m.name, fmt::join(m.images->presets, ", "),
                 gpm::io::option_table_markdown(m.images->fields("default")));
  }
  fmt::print("\n# Datasets\n\nA `--data` spec is `name:key=value,...` with a dataset below and values of its options "
             "(omitted options keep their defaults; `images` takes its folder first, `images:DIR,size=64`), or the path "
             "of a CSV file (containing '/' or ending in .csv: one point per row, an optional header line, see `--header` "
             "in [the runner](runner.md#csv-files)). Image datasets are described in [images](images.md#data).\n\n{}",
             gpm::data::builtin_datasets_markdown());
  return 0;
}

/// The built-in datasets with their options (`gpm datasets`).
inline int command_datasets() {
  fmt::print("{}\nA --data spec is one of these, name:key=value,... (omitted options keep their defaults; images takes "
             "its folder first, images:DIR,size=64), or the path of a CSV file (containing '/' or ending in .csv).\n",
             gpm::data::builtin_datasets_text());
  return 0;
}

/// The decimal integer `text` as T, or nothing when it is not one or T cannot hold it.
template <class T>
std::optional<T> integer_value(std::string_view text) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// A validator for an integer argument of type T from `low` to `high`: checked in the text, before
/// CLI11 converts it, since its conversion saturates ("99999999999999999999" becomes T's largest
/// value) and wraps ("-1" becomes 2⁶⁴ − 1 in an unsigned T). `note` follows the range in the message.
template <class T>
CLI::Validator integer_argument(T low = std::numeric_limits<T>::min(), T high = std::numeric_limits<T>::max(),
                                std::string note = {}) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const auto value = integer_value<T>(text);
        if (value && *value >= low && *value <= high) return {};
        // Beyond the upper end (T's largest value, without a bound), the message names both ends.
        const bool whole = !text.empty() && text.find_first_not_of("+-0123456789") == std::string::npos;
        const bool too_large = value ? *value > high : whole && !text.starts_with('-');
        const auto range = high != std::numeric_limits<T>::max() || too_large ? fmt::format("from {} to {}", low, high)
                                                                               : fmt::format("≥ {}", low);
        return fmt::format("must be an integer {}{}, got '{}'", range, note, text);
      },
      "INT");
}

/// The cores this process may run on (its CPU affinity, which a container or `taskset` narrows),
/// or else the machine's.
inline int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// Before a long command on every core: a warning when other processes keep some of them busy, since
/// an OpenMP thread that spins while another process holds its core holds up every step.
inline void warn_if_cores_taken(int cores) {
  const auto foreign = foreign_cores(std::chrono::milliseconds(250));
  if (!foreign || *foreign < 0.5) return;
  const int free = std::max(1, cores - static_cast<int>(std::lround(*foreign)));
  fmt::print(stderr, "gpm: other processes keep {:.1f} of the {} cores busy, and a thread on each core waits for the ones "
             "they hold (a step can take several times as long); pass --threads {}, or start gpm with "
             "OMP_WAIT_POLICY=passive (docs/performance.md#threads)\n", *foreign, cores, free);
}

}  // namespace gpm::runner::cli
