// gpm: the command-line runner. Trains the paper's models on 2-D data or point clouds, samples
// them, evaluates samples, and runs the demo that compares all four.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <gpm/metrics.hpp>

#include "runs.hpp"

namespace {

using namespace gpm::runner;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// One terminal line that rewrites itself: step, speed, ETA and the latest losses.
class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled)
      : label_(std::move(label)), total_(total), enabled_(enabled && isatty(STDERR_FILENO)), start_(Clock::now()) {}
  void update(int64_t step, const gpm::Stats& stats) {
    if (!enabled_ || (seconds_since(last_) < 0.5 && step != total_)) return;
    last_ = Clock::now();
    const double rate = static_cast<double>(step) / std::max(seconds_since(start_), 1e-9);
    std::string line = fmt::format("\r[{}] step {}/{}  {:.1f} steps/s  ETA {:.0f} s", label_, step, total_, rate,
                                   static_cast<double>(total_ - step) / std::max(rate, 1e-9));
    for (const auto& [name, value] : stats) line += fmt::format("  {} {:.4g}", name, value.item<double>());
    fmt::print(stderr, "{:<120}", line);
    if (step == total_) fmt::print(stderr, "\n");
  }

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  Clock::time_point start_;
  Clock::time_point last_{};
};

struct TrainResult {
  double seconds = 0.0;
  int64_t steps = 0;
};

/// Trains `run` on `data` for the configured number of steps.
TrainResult train(Run& run, const gpm::data::AnyDataset& data, const TrainSettings& settings, const std::string& label,
                  bool progress) {
  auto gen = gpm::make_generator(settings.seed() + 1000);
  Progress bar(label, settings.steps(), progress);
  const auto start = Clock::now();
  for (int64_t step = 1; step <= settings.steps(); ++step) {
    const auto stats = run.train_step(data.sample(settings.batch_size(), gen));
    if (step % settings.log_every() == 0 || step == settings.steps()) bar.update(step, stats);
  }
  return {seconds_since(start), settings.steps()};
}

json read_json_file(const std::string& path) {
  const std::string text = gpm::io::read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw gpm::InvalidArgument(fmt::format("'{}' is not valid JSON: {}", path, e.what()));
  }
}

fs::path prepare_output_directory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  GPM_CHECK(!ec && fs::is_directory(dir), "cannot create the output directory '{}': {}", dir, ec ? ec.message() : "not a directory");
  const auto probe = fs::path(dir) / ".write-test";
  std::ofstream(probe) << "";
  GPM_CHECK(fs::exists(probe), "the output directory '{}' is not writable", dir);
  fs::remove(probe);
  return dir;
}

/// A trained run as stored in a run directory.
struct StoredRun {
  json info;
  std::unique_ptr<Run> run;
};

std::optional<gpm::nn::EdmMlpDenoiser> data_denoiser_of(const json& info) {
  if (!info.contains("data_denoiser")) return std::nullopt;
  const auto& d = info.at("data_denoiser");
  return make_edm_mlp_denoiser(d.at("dim").get<int64_t>(), edm_schema().read(d.at("config"), default_edm()).model);
}

StoredRun open_run(const fs::path& dir) {
  const json info = read_json_file((dir / "run.json").string());
  auto run = make_run(info.at("model").get<std::string>(), info.at("dim").get<int64_t>(), info.at("config"), data_denoiser_of(info));
  run->load(dir);
  return {info, std::move(run)};
}

void write_run(const fs::path& dir, const json& info, Run& run) {
  run.save(dir);
  gpm::io::write_file_atomically(dir / "run.json", info.dump(2) + "\n");
}

struct TrainArgs {
  std::string model, data, out, config, data_denoiser;
  std::optional<int64_t> steps;
  std::optional<uint64_t> seed;
  bool quiet = false;
};

int command_train(const TrainArgs& a) {
  json overrides = a.config.empty() ? json::object() : read_json_file(a.config);
  if (a.steps) overrides["steps"] = *a.steps;
  if (a.seed) overrides["seed"] = *a.seed;
  const json config = resolve_config(a.model, overrides);
  const auto data = gpm::data::parse_dataset(a.data);
  const auto dir = prepare_output_directory(a.out);
  json info = {{"model", a.model}, {"data", a.data}, {"dim", data.dim()}, {"config", config}};
  std::optional<gpm::nn::EdmMlpDenoiser> denoiser;
  if (a.model == "score-gan") {
    GPM_CHECK(!a.data_denoiser.empty(), "a Score GAN needs --data-denoiser RUN_DIR, the run directory of a trained EDM");
    denoiser = load_edm_denoiser(a.data_denoiser);
    const json edm = read_json_file((fs::path(a.data_denoiser) / "run.json").string());
    GPM_CHECK(edm.at("dim").get<int64_t>() == data.dim(), "the EDM in '{}' was trained on {}-dimensional data, but '{}' "
              "is {}-dimensional", a.data_denoiser, edm.at("dim").get<int64_t>(), a.data, data.dim());
    info["data_denoiser"] = {{"dim", edm.at("dim")}, {"config", edm.at("config")}, {"run", a.data_denoiser}};
  }
  auto run = make_run(a.model, data.dim(), config, denoiser);
  const auto result = train(*run, data, train_settings(config), a.model, !a.quiet);
  info["steps_done"] = result.steps;
  write_run(dir, info, *run);
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

json metrics_json(const torch::Tensor& samples, const torch::Tensor& reference, const torch::Tensor& centers, double std) {
  json m = {{"energy_distance", gpm::metrics::energy_distance(samples, reference)},
            {"squared_mmd", gpm::metrics::squared_mmd(samples, reference)},
            {"sliced_wasserstein", gpm::metrics::sliced_wasserstein(samples, reference)}};
  if (centers.defined()) {
    const auto coverage = gpm::metrics::mode_coverage(samples, centers, std);
    m["modes_covered"] = coverage.modes_covered;
    m["modes"] = centers.size(0);
    m["high_quality_fraction"] = coverage.high_quality_fraction;
  }
  return m;
}

int command_eval(const std::string& samples, const std::string& reference, const std::string& centers, std::optional<double> std) {
  GPM_CHECK(centers.empty() == !std.has_value(), "--centers and --std go together: the mode metrics need both");
  const auto x = gpm::data::PointCloud::from_csv(samples).points();
  const auto y = gpm::data::PointCloud::from_csv(reference).points();
  const auto c = centers.empty() ? torch::Tensor() : gpm::data::PointCloud::from_csv(centers).points();
  fmt::print("{}\n", metrics_json(x, y, c, std.value_or(0.0)).dump(2));
  return 0;
}

int command_demo(const std::string& out, bool quick, bool quiet) {
  const auto dir = prepare_output_directory(out);
  const std::string spec = "ring:modes=5,radius=3,std=0.5";
  const auto data = gpm::data::parse_dataset(spec);
  auto gen = gpm::make_generator(12345);
  const auto reference = data.sample(2000, gen);
  // Quick mode: small networks and short runs, a first look in a few minutes.
  const auto settings = [&](json fields) {
    if (quick) fields.update({{"width", 128}, {"depth", 3}});
    return fields;
  };
  struct Row {
    std::string name;
    TrainResult trained;
    double sample_seconds;
    json metrics;
  };
  std::vector<Row> rows;
  std::optional<gpm::nn::EdmMlpDenoiser> edm_denoiser;
  const std::vector<std::pair<std::string, json>> plan = {
      {"edm", settings(quick ? json{{"steps", 3000}} : json::object())},
      {"gan", settings(quick ? json{{"steps", 1500}} : json::object())},
      {"discr-flow", settings(quick ? json{{"steps", 600}, {"embedding_size", 32}} : json::object())},
      {"score-gan", quick ? json{{"steps", 3000}, {"score_steps", 5}, {"width", 128}, {"depth", 3}, {"denoiser_width", 128},
                                 {"denoiser_depth", 3}, {"denoiser_embedding_size", 32}}
                          : json::object()},
  };
  for (const auto& [model, fields] : plan) {
    const json config = resolve_config(model, fields);
    auto run = make_run(model, data.dim(), config, model == "score-gan" ? edm_denoiser : std::nullopt);
    const auto trained = train(*run, data, train_settings(config), model, !quiet);
    const auto start = Clock::now();
    run->seed(7);
    const auto samples = run->sample(2000, std::nullopt);
    const double sample_seconds = seconds_since(start);
    const auto run_dir = dir / model;
    fs::create_directories(run_dir);
    json info = {{"model", model}, {"data", spec}, {"dim", data.dim()}, {"config", config}, {"steps_done", trained.steps}};
    write_run(run_dir, info, *run);
    gpm::data::write_csv((run_dir / "samples.csv").string(), samples);
    if (model == "edm") edm_denoiser = dynamic_cast<EdmRun&>(*run).denoiser();
    rows.push_back(Row{model, trained, sample_seconds, metrics_json(samples, reference, data.centers(), data.std())});
  }
  fmt::print("\n{:<11} {:>10} {:>9} {:>11} {:>10} {:>6} {:>8}\n", "model", "train (s)", "steps/s", "sample (s)", "energy d.",
             "modes", "HQ frac");
  for (const auto& r : rows)
    fmt::print("{:<11} {:>10.1f} {:>9.1f} {:>11.3f} {:>10.4f} {:>4}/{} {:>8.3f}\n", r.name, r.trained.seconds,
               static_cast<double>(r.trained.steps) / r.trained.seconds, r.sample_seconds,
               r.metrics["energy_distance"].get<double>(), r.metrics["modes_covered"].get<int64_t>(),
               r.metrics["modes"].get<int64_t>(), r.metrics["high_quality_fraction"].get<double>());
  fmt::print("\nruns and samples written to {}\n", dir.string());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  at::globalContext().setFlushDenormal(true);
  CLI::App app{"gpm: train, sample and evaluate generative particle models"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")->check(CLI::NonNegativeNumber);

  TrainArgs train_args;
  auto* train_cmd = app.add_subcommand("train", "train a model and save it to a run directory");
  train_cmd->add_option("--model", train_args.model, "gan | edm | discr-flow | score-gan")->required()
      ->check(CLI::IsMember(model_names()));
  train_cmd->add_option("--data", train_args.data, "a CSV file or a built-in spec, e.g. ring:modes=5,radius=3,std=0.5")->required();
  train_cmd->add_option("--out", train_args.out, "run directory")->required();
  train_cmd->add_option("--config", train_args.config, "JSON file overriding any config field");
  train_cmd->add_option("--steps", train_args.steps, "training steps")->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--seed", train_args.seed, "random seed");
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
  sample_cmd->add_option("--steps", sample_steps, "particle models: stop after K of the N generation steps");
  sample_cmd->add_option("--seed", sample_seed, "random seed (default 0)");

  std::string samples, reference, centers;
  std::optional<double> mode_std;
  auto* eval_cmd = app.add_subcommand("eval", "print metrics between two point sets as JSON");
  eval_cmd->add_option("--samples", samples, "generated points (CSV)")->required();
  eval_cmd->add_option("--reference", reference, "reference points (CSV)")->required();
  eval_cmd->add_option("--centers", centers, "mixture centres (CSV), for mode coverage");
  eval_cmd->add_option("--std", mode_std, "mixture component std, for mode coverage");

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
    if (*demo_cmd) return command_demo(demo_out, quick, demo_quiet);
  } catch (const gpm::InvalidArgument& e) {
    fmt::print(stderr, "gpm: error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "gpm: failed: {}\n", e.what());
    return 1;
  }
  return 0;
}
