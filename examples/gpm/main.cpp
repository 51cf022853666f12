// gpm: the command-line runner. Trains the paper's models on 2-D data or point clouds, resumes
// them, samples them, evaluates samples, and runs the demo that compares all four.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <gpm/core/cpu_runtime.hpp>
#include <gpm/metrics.hpp>

#include "plots.hpp"
#include "runs.hpp"
#include "standardized_run.hpp"
#include "training.hpp"

namespace {

using namespace gpm::runner;

json read_json_file(const fs::path& path) {
  const std::string text = gpm::io::read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw gpm::InvalidArgument(fmt::format("'{}' is not valid JSON: {}", path.string(), e.what()));
  }
}

fs::path prepare_output_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  GPM_CHECK(!ec && fs::is_directory(dir), "cannot create the output directory '{}': {}", dir.string(),
            ec ? ec.message() : "a file of that name exists");
  const auto probe = dir / ".write-test";
  std::ofstream(probe) << "";
  GPM_CHECK(fs::exists(probe), "the output directory '{}' is not writable", dir.string());
  fs::remove(probe);
  return dir;
}

/// The data denoiser network a Score GAN run was built with (its weights come from the checkpoint).
std::optional<gpm::nn::EdmMlpDenoiser> data_denoiser_network(const json& info) {
  if (!info.contains("data_denoiser")) return std::nullopt;
  const auto& d = info.at("data_denoiser");
  return gpm::make_edm_mlp_denoiser(d.at("dim").get<int64_t>(),
                                    edm_schema().read(with_predating_fields("edm", d.at("config")), default_edm()).model);
}

/// The standardization recorded in a run description, if the run trains in standardized coordinates.
std::optional<gpm::data::Standardization> stored_standardization(const json& info, const std::string& where) {
  if (!info.contains("standardization")) return std::nullopt;
  return standardization_from_json(info.at("standardization"), where);
}

/// A run directory's description (run.json) and its model, restored from the checkpoint.
struct StoredRun {
  json info;
  std::unique_ptr<Run> run;
  at::Generator data_generator;
  int64_t step = 0;
};

StoredRun open_run(const fs::path& dir) {
  GPM_CHECK(fs::is_directory(dir), "'{}' is not a run directory (it does not exist)", dir.string());
  StoredRun r{read_json_file(dir / "run.json"), nullptr, gpm::make_generator(0), 0};
  for (const char* key : {"model", "data", "dim", "config"})
    GPM_CHECK(r.info.contains(key), "'{}' lacks the field '{}'; it was not written by gpm train", (dir / "run.json").string(), key);
  r.info["config"] = with_predating_fields(r.info.at("model").get<std::string>(), r.info.at("config"));
  r.run = in_coordinates(make_run(r.info.at("model").get<std::string>(), r.info.at("dim").get<int64_t>(),
                                   r.info.at("config"), data_denoiser_network(r.info)),
                         stored_standardization(r.info, (dir / "run.json").string()));
  Checkpoint checkpoint{*r.run, r.data_generator, r.step};
  gpm::io::load(checkpoint, RunFiles{dir}.checkpoint());
  return r;
}

/// run.json describes a run (model, data, dimension, resolved config); the checkpoint holds its state
/// and step.
void write_run_info(const fs::path& dir, const json& info) {
  gpm::io::write_file_atomically(dir / "run.json", info.dump(2) + "\n");
}

struct TrainArgs {
  std::string model, data, out, config, data_denoiser, resume;
  std::optional<int64_t> steps, checkpoint_every;
  std::optional<uint64_t> seed;
  bool quiet = false;
};

int command_train(const TrainArgs& a) {
  if (!a.resume.empty()) {
    GPM_CHECK(a.model.empty() && a.data.empty() && a.config.empty() && !a.seed, "--resume continues a run with its "
              "own model, data, config and seed; only --steps and --checkpoint-every may be given with it");
    auto stored = open_run(a.resume);  // refuses a bad checkpoint before anything is written
    json config = stored.info.at("config");
    if (a.steps) config["steps"] = *a.steps;
    if (a.checkpoint_every) config["checkpoint_every"] = *a.checkpoint_every;
    const auto model = stored.info.at("model").get<std::string>();
    config = resolve_config(model, config);
    stored.info["config"] = config;
    const auto settings = train_settings(config);
    if (stored.step >= settings.steps()) {
      fmt::print("'{}' is already at step {} of {}; pass --steps N with N > {} to train further\n", a.resume, stored.step,
                 settings.steps(), stored.step);
      return 0;
    }
    const auto data = gpm::data::parse_dataset(stored.info.at("data").get<std::string>());
    const auto result = train(*stored.run, data, settings, stored.step, stored.data_generator, RunFiles{a.resume}, model, !a.quiet);
    write_run_info(a.resume, stored.info);
    fmt::print("resumed {} and trained {} more steps to step {} in {:.1f} s\n", model, result.steps, stored.step, result.seconds);
    return 0;
  }
  GPM_CHECK(!a.model.empty() && !a.data.empty() && !a.out.empty(), "train needs --model, --data and --out (or --resume DIR)");
  json overrides = a.config.empty() ? json::object() : read_json_file(a.config);
  if (a.steps) overrides["steps"] = *a.steps;
  if (a.seed) overrides["seed"] = *a.seed;
  if (a.checkpoint_every) overrides["checkpoint_every"] = *a.checkpoint_every;
  const json config = resolve_config(a.model, overrides);
  const auto data = gpm::data::parse_dataset(a.data);
  json info = {{"model", a.model}, {"data", a.data}, {"dim", data.dim()}, {"config", config}};
  std::optional<gpm::nn::EdmMlpDenoiser> denoiser;
  std::optional<gpm::data::Standardization> denoiser_coordinates;
  if (a.model == "score-gan") {
    GPM_CHECK(!a.data_denoiser.empty(), "a Score GAN needs --data-denoiser RUN_DIR, the run directory of a trained EDM");
    const json edm = read_json_file(fs::path(a.data_denoiser) / "run.json");
    GPM_CHECK(edm.value("model", "") == "edm", "'{}' is not an EDM run; --data-denoiser needs the run directory of a "
              "trained EDM", a.data_denoiser);
    GPM_CHECK(edm.at("dim").get<int64_t>() == data.dim(), "the EDM in '{}' was trained on {}-dimensional data, but '{}' "
              "is {}-dimensional", a.data_denoiser, edm.at("dim").get<int64_t>(), a.data, data.dim());
    denoiser = load_edm_denoiser(a.data_denoiser);
    info["data_denoiser"] = {
        {"dim", edm.at("dim")}, {"config", with_predating_fields("edm", edm.at("config"))}, {"run", a.data_denoiser}};
    denoiser_coordinates = stored_standardization(edm, (fs::path(a.data_denoiser) / "run.json").string());
  }
  const auto standardization = training_coordinates(a.model, config, data, denoiser_coordinates, a.data_denoiser);
  if (standardization) {
    info["standardization"] = to_json(*standardization);
    fmt::print("{}\n", describe(*standardization));
  }
  const auto dir = prepare_output_directory(a.out);
  GPM_CHECK(!fs::exists(RunFiles{dir}.checkpoint()), "'{}' already holds a run; continue it with --resume {} or choose "
            "another --out", dir.string(), dir.string());
  auto run = in_coordinates(make_run(a.model, data.dim(), config, denoiser), standardization);
  const auto settings = train_settings(config);
  auto data_generator = gpm::make_generator(settings.seed() + 1000);
  int64_t step = 0;
  write_run_info(dir, info);
  const auto result = train(*run, data, settings, step, data_generator, RunFiles{dir}, a.model, !a.quiet);
  fmt::print("trained {} for {} steps in {:.1f} s ({:.1f} steps/s); run saved to {}\n", a.model, result.steps, result.seconds,
             static_cast<double>(result.steps) / std::max(result.seconds, 1e-9), dir.string());
  return 0;
}

int command_sample(const std::string& dir, int64_t n, const std::string& out, std::optional<int64_t> steps,
                   std::optional<uint64_t> seed) {
  GPM_CHECK(n > 0, "-n must be > 0, got {}", n);
  auto stored = open_run(dir);
  stored.run->seed(seed.value_or(0));
  const auto x = stored.run->sample(n, steps);
  gpm::data::write_csv(out, x);
  fmt::print("wrote {} samples to {}\n", n, out);
  return 0;
}

int command_plot(const fs::path& dir, const std::string& out) {
  auto stored = open_run(dir);
  const auto data = gpm::data::parse_dataset(stored.info.at("data").get<std::string>());
  const auto figures = plot_run(dir, *stored.run, stored.info, data, out.empty() ? dir / "figures" : fs::path(out));
  for (const auto& f : figures) fmt::print("{}\n", f.string());
  return 0;
}

int command_eval(const std::string& samples, const std::string& reference, const std::string& centers, std::optional<double> std) {
  GPM_CHECK(centers.empty() == !std.has_value(), "--centers and --std go together: the mode metrics need both");
  const auto x = gpm::data::PointCloud::from_csv(samples).points();
  const auto y = gpm::data::PointCloud::from_csv(reference).points();
  GPM_CHECK(x.size(1) == y.size(1), "'{}' has {} coordinates per point but '{}' has {}", samples, x.size(1), reference, y.size(1));
  json m = {{"energy_distance", gpm::metrics::energy_distance(x, y)},
            {"squared_mmd", gpm::metrics::squared_mmd(x, y)},
            {"sliced_wasserstein", gpm::metrics::sliced_wasserstein(x, y)}};
  if (!centers.empty()) {
    const auto c = gpm::data::PointCloud::from_csv(centers).points();
    const auto coverage = gpm::metrics::mode_coverage(x, c, *std);
    m["modes_covered"] = coverage.modes_covered;
    m["modes"] = c.size(0);
    m["high_quality_fraction"] = coverage.high_quality_fraction;
  }
  fmt::print("{}\n", m.dump(2));
  return 0;
}

int command_data(const std::string& spec, int64_t n, const std::string& out, uint64_t seed, const std::string& centers) {
  GPM_CHECK(n > 0, "-n must be > 0, got {}", n);
  const auto data = gpm::data::parse_dataset(spec);
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

int command_demo(const fs::path& out, bool quick, bool quiet) {
  const auto dir = prepare_output_directory(out);
  const std::string spec = "ring:modes=5,radius=3,std=0.5";
  const auto data = gpm::data::parse_dataset(spec);
  auto gen = gpm::make_generator(12345);
  const auto reference = data.sample(2000, gen);
  // Quick mode: small networks and short runs, a first look in a few minutes.
  const std::vector<std::pair<std::string, json>> plan = {
      {"edm", quick ? json{{"steps", 3000}, {"width", 128}, {"depth", 3}, {"lr", 1e-3}} : json::object()},
      {"gan", quick ? json{{"steps", 1500}, {"width", 128}, {"depth", 3}, {"lr", 5e-4}, {"latent_dim", 16},
                           {"discriminator_steps", 1}, {"lr_decay", 0.0}}
                    : json::object()},
      {"discr-flow", quick ? json{{"steps", 600}, {"width", 128}, {"depth", 3}, {"embedding_size", 32}, {"generation_steps", 32}}
                           : json::object()},
      {"score-gan", quick ? json{{"steps", 6000}, {"score_steps", 5}, {"width", 128}, {"depth", 2}, {"latent_dim", 16},
                                 {"generator_lr", 1e-3}, {"score_lr", 1e-3}, {"denoiser_width", 64}, {"denoiser_depth", 2},
                                 {"denoiser_embedding_size", 16}}
                          : json::object()},
  };
  struct Row {
    std::string name;
    TrainResult trained;
    double sample_seconds;
    json metrics;
  };
  std::vector<Row> rows;
  std::vector<fs::path> figures;
  std::optional<gpm::nn::EdmMlpDenoiser> edm_denoiser;
  std::optional<gpm::data::Standardization> edm_coordinates;
  fmt::print("training the four models on {} ({}); runs go to {}\n", spec, quick ? "quick settings" : "default settings",
             dir.string());
  for (const auto& [model, fields] : plan) {
    const json config = resolve_config(model, fields);
    const auto coordinates = training_coordinates(model, config, data, edm_coordinates, (dir / "edm").string());
    auto run = in_coordinates(make_run(model, data.dim(), config, model == "score-gan" ? edm_denoiser : std::nullopt),
                              coordinates);
    const auto run_dir = prepare_output_directory(dir / model);
    fs::remove(RunFiles{run_dir}.log());
    json info = {{"model", model}, {"data", spec}, {"dim", data.dim()}, {"config", config}};
    if (coordinates) info["standardization"] = to_json(*coordinates);
    if (model == "score-gan")
      info["data_denoiser"] = {{"dim", data.dim()}, {"config", resolve_config("edm", plan[0].second)}, {"run", (dir / "edm").string()}};
    const auto settings = train_settings(config);
    auto data_generator = gpm::make_generator(settings.seed() + 1000);
    int64_t step = 0;
    const auto trained = train(*run, data, settings, step, data_generator, RunFiles{run_dir}, model, !quiet);
    write_run_info(run_dir, info);
    const auto start = Clock::now();
    const auto samples = sample_aside(*run, 2000, 7);
    const double sample_seconds = seconds_since(start);
    gpm::data::write_csv((run_dir / "samples.csv").string(), samples);
    if (model == "edm") {
      edm_denoiser = dynamic_cast<EdmRun&>(model_run(*run)).sampling_denoiser();
      edm_coordinates = coordinates;
    }
    rows.push_back(Row{model, trained, sample_seconds, sample_metrics(samples, reference, data)});
    for (const auto& f : plot_run(run_dir, *run, info, data, run_dir / "figures")) figures.push_back(f);
    if (quiet) fmt::print("  {} done in {:.1f} s\n", model, trained.seconds);
  }
  fmt::print("\n{:<11} {:>10} {:>9} {:>11} {:>10} {:>6} {:>8}\n", "model", "train (s)", "steps/s", "sample (s)", "energy d.",
             "modes", "HQ frac");
  for (const auto& r : rows)
    fmt::print("{:<11} {:>10.1f} {:>9.1f} {:>11.3f} {:>10.4f} {:>4}/{} {:>8.3f}\n", r.name, r.trained.seconds,
               static_cast<double>(r.trained.steps) / r.trained.seconds, r.sample_seconds,
               r.metrics["energy_distance"].get<double>(), r.metrics["modes_covered"].get<int64_t>(),
               r.metrics["modes"].get<int64_t>(), r.metrics["high_quality_fraction"].get<double>());
  fmt::print("\n2,000 samples per model against 2,000 fresh data points; runs and samples in {}\nfigures:\n", dir.string());
  for (const auto& f : figures) fmt::print("  {}\n", f.string());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gpm::configure_cpu_runtime();
  CLI::App app{"gpm: train, sample and evaluate generative particle models"};
  app.require_subcommand(1);
  app.fallthrough();  // subcommands accept the global options too: `gpm train --threads 1 ...`
  int threads = 0;
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")->check(CLI::NonNegativeNumber);

  TrainArgs train_args;
  auto* train_cmd = app.add_subcommand("train", "train a model and save it to a run directory, or resume one");
  train_cmd->add_option("--model", train_args.model, "gan | edm | discr-flow | score-gan")->check(CLI::IsMember(model_names()));
  train_cmd->add_option("--data", train_args.data, "a CSV file or a built-in spec, e.g. ring:modes=5,radius=3,std=0.5");
  train_cmd->add_option("--out", train_args.out, "run directory");
  train_cmd->add_option("--config", train_args.config, "JSON file overriding any config field");
  train_cmd->add_option("--steps", train_args.steps, "training steps in total")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--seed", train_args.seed, "random seed");
  train_cmd->add_option("--checkpoint-every", train_args.checkpoint_every, "write a checkpoint every N steps (and at the end)")
      ->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--resume", train_args.resume, "continue the run in this directory up to --steps in total");
  train_cmd->add_option("--data-denoiser", train_args.data_denoiser, "Score GAN: run directory of a trained EDM");
  train_cmd->add_flag("--quiet", train_args.quiet, "no progress line");

  std::string run_dir, sample_out;
  int64_t n = 0;
  std::optional<int64_t> sample_steps;
  std::optional<uint64_t> sample_seed;
  auto* sample_cmd = app.add_subcommand("sample", "write generated points of a trained run to a CSV file");
  sample_cmd->add_option("--run", run_dir, "run directory")->required();
  sample_cmd->add_option("-n", n, "number of points")->required();
  sample_cmd->add_option("--out", sample_out, "output CSV file")->required();
  sample_cmd->add_option("--steps", sample_steps, "particle models: stop after K of the N generation steps (the GAN: of its refinement steps)");
  sample_cmd->add_option("--seed", sample_seed, "random seed (default 0)");

  std::string samples, reference, centers;
  std::optional<double> mode_std;
  auto* eval_cmd = app.add_subcommand("eval", "print metrics between two point sets as JSON");
  eval_cmd->add_option("--samples", samples, "generated points (CSV)")->required();
  eval_cmd->add_option("--reference", reference, "reference points (CSV)")->required();
  eval_cmd->add_option("--centers", centers, "mixture centres (CSV), for mode coverage");
  eval_cmd->add_option("--std", mode_std, "mixture component std, for mode coverage");

  std::string data_spec, data_out, data_centers;
  int64_t data_n = 0;
  uint64_t data_seed = 0;
  auto* data_cmd = app.add_subcommand("data", "write points drawn from a dataset (and a mixture's centres) to CSV files");
  data_cmd->add_option("--data", data_spec, "a CSV file or a built-in spec, e.g. ring:modes=5,radius=3,std=0.5")->required();
  data_cmd->add_option("-n", data_n, "number of points")->required();
  data_cmd->add_option("--out", data_out, "output CSV file")->required();
  data_cmd->add_option("--seed", data_seed, "random seed (default 0)");
  data_cmd->add_option("--centers", data_centers, "mixtures: also write the centres to this CSV file");

  std::string plot_run_dir, plot_out;
  auto* plot_cmd = app.add_subcommand("plot", "draw a run's figures (PNG): snapshots with velocities, samples, curves");
  plot_cmd->add_option("--run", plot_run_dir, "run directory")->required();
  plot_cmd->add_option("--out", plot_out, "output directory (default: RUN/figures)");

  std::string demo_out = "demo-out";
  bool quick = false, demo_quiet = false;
  auto* demo_cmd = app.add_subcommand("demo", "train and compare the four models on the 5-mode ring");
  demo_cmd->add_option("--out", demo_out, "output directory");
  demo_cmd->add_flag("--quick", quick, "small networks, short runs: a first look in a few minutes");
  demo_cmd->add_flag("--quiet", demo_quiet, "no progress line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  at::set_num_threads(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  try {
    if (*train_cmd) return command_train(train_args);
    if (*sample_cmd) return command_sample(run_dir, n, sample_out, sample_steps, sample_seed);
    if (*eval_cmd) return command_eval(samples, reference, centers, mode_std);
    if (*data_cmd) return command_data(data_spec, data_n, data_out, data_seed, data_centers);
    if (*plot_cmd) return command_plot(plot_run_dir, plot_out);
    if (*demo_cmd) return command_demo(demo_out, quick, demo_quiet);
  } catch (const gpm::InvalidArgument& e) {
    fmt::print(stderr, "gpm: error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "gpm: failed: {}\n", gpm::io::first_line(e.what()));
    return 1;
  }
  return 0;
}
