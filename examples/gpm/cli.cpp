// The gpm command line (cli.hpp): its options and subcommands, each handed to its command
// (commands.hpp).
#include "cli.hpp"

#include "commands.hpp"

namespace gpm::runner {

int run_cli(int argc, char** argv) {
  using namespace cli;
  gpm::configure_cpu_runtime();
  CLI::App app{"gpm: train, sample and evaluate generative particle models"};
  app.require_subcommand(1);
  app.fallthrough();  // subcommands accept the global options too: `gpm train --threads 1 ...`
  // More threads than cores only compete for them (and spin while they wait).
  const int cores = available_cores();
  int threads = 0;
  app.add_option("--threads", threads, fmt::format("intra-op threads, at most the {} cores this process may use (default 0: "
                                                   "all of them)", cores))
      ->check(integer_argument<int>(0, cores, " (0: one per core this process may use)"));
  std::string device = "cpu";
  app.add_option("--device", device, "where models live and compute: cpu (default), cuda or cuda:N (with a CUDA build of "
                                     "LibTorch); data, files and metrics stay on the CPU");

  TrainArgs train_args;
  auto* train_cmd = app.add_subcommand("train", "train a model and save it to a run directory, or resume one");
  train_cmd->add_option("--model", train_args.model, fmt::format("{}", fmt::join(model_names(), " | ")))
      ->check(CLI::IsMember(model_names()));
  train_cmd->add_option("--preset", train_args.preset, "start from a named configuration: default, reference, quick");
  train_cmd->add_option("--data", train_args.data, "a CSV file or a built-in spec, e.g. ring:modes=5,radius=3,std=0.5");
  const std::string header_help = "a CSV file's first line: auto (a header when no cell is a number; the default), yes "
                                  "(always a header, skipped), no (always data)";
  const auto header_names = CLI::IsMember({"auto", "yes", "no"});
  train_cmd->add_option("--header", train_args.header, header_help + "; run.json keeps it")->check(header_names);
  train_cmd->add_option("--out", train_args.out, "run directory");
  train_cmd->add_option("--config", train_args.config, "JSON file overriding any config field");
  train_cmd->add_option("--steps", train_args.steps, "training steps in total")->check(integer_argument<int64_t>(0));
  train_cmd->add_option("--seed", train_args.seed, "random seed")->check(integer_argument<uint64_t>());
  train_cmd->add_option("--checkpoint-every", train_args.checkpoint_every, "write a checkpoint every N steps (and at the end)")
      ->check(integer_argument<int64_t>(0));
  const std::string precision_help = "float32 (default), or bfloat16: the networks' convolutions and products under "
                                     "autocast (docs/performance.md#mixed-precision)";
  train_cmd->add_option("--precision", train_args.precision, precision_help + "; with --resume, from then on")
      ->check(CLI::IsMember({"float32", "bfloat16"}));
  train_cmd->add_option("--resume", train_args.resume, "continue the run in this directory up to --steps in total");
  train_cmd->add_option("--data-denoiser", train_args.data_denoiser, "Score GAN: run directory of a trained EDM");
  train_cmd->add_flag("--quiet", train_args.quiet, "no progress line");
  auto& dist = train_args.distributed;
  train_cmd->add_option("--world-size", dist.world_size, "train as one of W processes, each on its shard of the batch "
                        "(default: the environment variable WORLD_SIZE, else 1); docs/distributed.md")
      ->check(integer_argument<int64_t>(1));
  train_cmd->add_option("--rank", dist.rank, "this process's rank in [0, W) (default: RANK); rank 0 writes the run")
      ->check(integer_argument<int64_t>(0));
  train_cmd->add_option("--master-addr", dist.master_addr, "address of rank 0's machine (default: MASTER_ADDR, else "
                        "127.0.0.1)");
  train_cmd->add_option("--master-port", dist.master_port, "port of rank 0's store (default: MASTER_PORT, else 29500)")
      ->check(integer_argument<int64_t>(1, 65535));
  train_cmd->add_option("--dist-timeout", dist.timeout_seconds, "seconds the processes wait for each other (default 300)")
      ->check(CLI::PositiveNumber);
  // --help with --model also lists the model's fields, which are known only once --model is parsed.
  bool train_help = false;
  train_cmd->set_help_flag();
  train_cmd->add_flag("-h,--help", train_help, "this help; with --model M, also M's config fields");

  std::string run_dir, sample_out;
  int64_t n = 0;
  std::optional<int64_t> sample_steps;
  std::optional<uint64_t> sample_seed;
  auto* sample_cmd = app.add_subcommand("sample", "write samples of a trained run to a .csv or .npy file, or (images) a .png grid");
  sample_cmd->add_option("--run", run_dir, "run directory")->required();
  sample_cmd->add_option("-n", n, "number of points")->required()->check(integer_argument<int64_t>(1));
  sample_cmd->add_option("--out", sample_out, "output file: .csv, .npy (images: [N, C, H, W] in [0, 1]) or .png (images: a grid)")
      ->required();
  sample_cmd->add_option("--steps", sample_steps, "stop a particle model after K of its N generation steps, or a --refine after K of its steps")
      ->check(integer_argument<int64_t>(0));
  sample_cmd->add_option("--seed", sample_seed, "random seed (default 0)")->check(integer_argument<uint64_t>());
  std::string refine;
  sample_cmd->add_option("--refine", refine, "refine a generator's samples: flow[:steps=K,time=T] (by the field that "
                                             "trained it) or denoiser[:steps=K,sigma=S] (a Score GAN's, by its EDM)");
  std::optional<std::string> sampler;
  sample_cmd->add_option("--sampler", sampler, "sample an EDM run with another stepper than its config's: heun, euler, sde, "
                                               "churn, als (annealed Langevin) or cas (consistent annealed sampling)");
  std::string guided;
  sample_cmd->add_option("--guided", guided, "sample a GAN's generator guided by its discriminator: latent[:steps=K,eta=E,"
                                             "noise=S,energy=ddls|dgflow] (refined latents) or drs[:percentile=Q] (rejection)");
  std::optional<double> truncation;
  sample_cmd->add_option("--truncation", truncation, "sample a generator from latents N(0, I) truncated to [-TAU, TAU] "
                                                     "(the truncation trick: smaller TAU, fewer but surer modes)");

  std::string samples, reference, centers;
  std::optional<double> mode_std;
  auto* eval_cmd = app.add_subcommand("eval", "print metrics between two point sets as JSON");
  eval_cmd->add_option("--samples", samples, "generated points or images (.csv or .npy, as gpm sample writes them)")
      ->required();
  eval_cmd->add_option("--reference", reference, "reference points (.csv or .npy), or mnist: generated digits against "
                                                 "MNIST's held-out ones, with the image metrics")->required();
  eval_cmd->add_option("--centers", centers, "mixture centres (CSV), for mode coverage");
  eval_cmd->add_option("--std", mode_std, "mixture component std, for mode coverage");
  std::optional<std::string> eval_header;
  int64_t max_points = kDefaultEvalPoints;
  uint64_t eval_seed = 0;
  eval_cmd->add_option("--max-points", max_points, fmt::format("at most this many points of each set (drawn at random) for "
                       "the metrics whose cost grows with the square of the points: energy distance, MMD, the image "
                       "metrics (default {}; 0: every point)", kDefaultEvalPoints))
      ->check(integer_argument<int64_t>(0));
  eval_cmd->add_option("--seed", eval_seed, "random seed of that draw (default 0)")->check(integer_argument<uint64_t>());
  eval_cmd->add_option("--header", eval_header, header_help + ", for every CSV file eval reads")->check(header_names);

  std::string data_spec, data_out, data_centers;
  int64_t data_n = 0;
  uint64_t data_seed = 0;
  auto* data_cmd = app.add_subcommand("data", "write points drawn from a dataset (and a mixture's centres) to CSV files");
  data_cmd->add_option("--data", data_spec, "a CSV file or a built-in spec, e.g. ring:modes=5,radius=3,std=0.5")->required();
  data_cmd->add_option("-n", data_n, "number of points")->required()->check(integer_argument<int64_t>(1));
  data_cmd->add_option("--out", data_out, "output CSV file")->required();
  data_cmd->add_option("--seed", data_seed, "random seed (default 0)")->check(integer_argument<uint64_t>());
  data_cmd->add_option("--centers", data_centers, "mixtures: also write the centres to this CSV file");
  std::optional<std::string> data_header;
  data_cmd->add_option("--header", data_header, header_help + ", of a --data CSV file")->check(header_names);

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

  BenchArgs bench_args;
  auto* bench_cmd = app.add_subcommand("bench", "time a model's training step or sampler and print the figures as JSON "
                                                "(docs/performance.md)");
  bench_cmd->add_option("--model", bench_args.model, fmt::format("{}", fmt::join(model_names(), " | ")))
      ->required()->check(CLI::IsMember(model_names()));
  bench_cmd->add_option("--data", bench_args.data, "a built-in spec or a CSV file (default ring: the reference's mixture)");
  bench_cmd->add_option("--preset", bench_args.preset, "default, reference (the reference's configuration: identical work "
                                                       "for comparisons), quick");
  bench_cmd->add_option("--config", bench_args.config, "JSON file overriding any config field");
  bench_cmd->add_option("--batch", bench_args.batch, "points per training step, or samples per sampler call (default: the "
                                                     "config's batch_size)")->check(integer_argument<int64_t>(1));
  bench_cmd->add_option("--what", bench_args.what, "train (one training step per call) or sample (one sampler call)")
      ->check(CLI::IsMember({"train", "sample"}));
  bench_cmd->add_option("--seed", bench_args.seed, "random seed")->check(integer_argument<uint64_t>());
  bench_cmd->add_option("--precision", bench_args.precision, precision_help)->check(CLI::IsMember({"float32", "bfloat16"}));
  bench_cmd->add_option("--data-denoiser", bench_args.data_denoiser, "Score GAN: run directory of an EDM");
  bench_cmd->add_option("--warmup", bench_args.settings.warmup, "untimed calls first (default 5)")
      ->check(integer_argument<int64_t>(0));
  bench_cmd->add_option("--windows", bench_args.settings.windows, "timed windows (default 3)")
      ->check(integer_argument<int64_t>(1));
  bench_cmd->add_option("--window-seconds", bench_args.settings.window_seconds, "length of a window: whole calls until "
                                                                              "this much time has passed (default 2)")
      ->check(CLI::PositiveNumber);

  int64_t launch_processes = 0;
  std::optional<int64_t> launch_port;
  std::vector<std::string> launch_command;
  auto* launch_cmd = app.add_subcommand("launch", "train with K processes on this machine: gpm launch -n K -- train ...");
  launch_cmd->add_option("-n,--processes", launch_processes, "number of processes (ranks)")->required()
      ->check(integer_argument<int64_t>(1));
  launch_cmd->add_option("--master-port", launch_port, "port of rank 0's store (default: a free one)")
      ->check(integer_argument<int64_t>(1, 65535));
  launch_cmd->add_option("command", launch_command, "after --: the train command each rank runs")->required();

  bool markdown = false;
  auto* models_cmd = app.add_subcommand("models", "list the models and their presets");
  models_cmd->add_flag("--markdown", markdown, "print every model's and dataset's fields as Markdown tables (docs/options.md)");
  auto* datasets_cmd = app.add_subcommand("datasets", "list the built-in datasets with their options, for --data");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    at::set_num_threads(threads > 0 ? threads : cores);
    model_device() = parse_device(device);
    if (*train_cmd && train_help) {
      fmt::print("{}", train_cmd->help());
      if (!train_args.model.empty())
        fmt::print("\nconfig fields of {} (preset \"{}\"), for --config FILE.json:\n{}", train_args.model, train_args.preset,
                   gpm::io::option_table_text(
                       model(train_args.model).on(train_args.data.empty() ? DataKind::points : spec_kind(train_args.data))
                           .fields(train_args.preset)));
      return 0;
    }
    if ((*train_cmd || *demo_cmd || *bench_cmd) && threads == 0 && cores > 1) warn_if_cores_taken(cores);
    if (*train_cmd) return command_train(train_args);
    if (*launch_cmd) return command_launch(launch_processes, launch_port, launch_command, cores);
    if (*models_cmd) return command_models(markdown);
    if (*datasets_cmd) return command_datasets();
    if (*sample_cmd) return command_sample(run_dir, n, sample_out, sample_steps, sample_seed, refine, sampler, truncation, guided);
    if (*eval_cmd) return command_eval(samples, reference, centers, mode_std, eval_header, max_points, eval_seed);
    if (*data_cmd) return command_data(data_spec, data_n, data_out, data_seed, data_centers, data_header);
    if (*plot_cmd) return command_plot(plot_run_dir, plot_out);
    if (*bench_cmd) return command_bench(bench_args);
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

}  // namespace gpm::runner
