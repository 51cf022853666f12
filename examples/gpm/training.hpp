// The runner's training loop: progress line, log.jsonl (every write checked; a resume drops what was
// logged past its checkpoint), periodic evaluation, verified checkpoints with everything needed to
// resume bit-exactly (checkpoint_files.hpp), and a clean stop on a failed write or on non-finite numbers: a loss, a
// parameter, an evaluation's samples or metrics.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include <gpm/io/image_grid.hpp>
#include <gpm/metrics.hpp>

#include "checkpoint_files.hpp"
#include "device.hpp"
#include "digit_judge.hpp"
#include "distributed_training.hpp"
#include "finiteness.hpp"
#include "run.hpp"
#include "run_config.hpp"
#include "run_directory.hpp"

namespace gpm::runner {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// One terminal line that rewrites itself: step, speed, ETA and the latest losses. Silent when
/// standard error is not a terminal.
class Progress {
 public:
  Progress(std::string label, int64_t first, int64_t total, bool enabled)
      : label_(std::move(label)), first_(first), total_(total), enabled_(enabled && isatty(STDERR_FILENO)), start_(Clock::now()) {}
  void update(int64_t step, const Stats& stats) {
    if (!enabled_ || (seconds_since(last_) < 0.5 && step != total_)) return;
    last_ = Clock::now();
    const double rate = static_cast<double>(step - first_) / std::max(seconds_since(start_), 1e-9);
    std::string line = fmt::format("\r[{}] step {}/{}  {:.1f} steps/s  ETA {:.0f} s", label_, step, total_, rate,
                                   static_cast<double>(total_ - step) / std::max(rate, 1e-9));
    for (const auto& [name, value] : stats)
      if (name.find("grad_norm") == std::string::npos) line += fmt::format("  {} {:.4g}", name, value.item<double>());
    fmt::print(stderr, "{:<150}", line);
    if (step == total_) fmt::print(stderr, "\n");
  }

 private:
  std::string label_;
  int64_t first_, total_;
  bool enabled_;
  Clock::time_point start_;
  Clock::time_point last_{};
};

/// Metrics of samples against a reference batch: energy distance, mode coverage for mixtures, and
/// the image metrics for digits when a judge is given.
inline json sample_metrics(const torch::Tensor& samples, const torch::Tensor& reference, const data::AnyDataset& data,
                           const std::optional<DigitJudge>& digits = std::nullopt) {
  json m = {{"energy_distance", metrics::energy_distance(samples, reference)}};
  if (digits) {
    auto classifier = digits->classifier;
    m.update(metrics::image_metrics(classifier, samples, digits->validation).to_json());
  }
  if (data.has_modes()) {
    const auto coverage = metrics::mode_coverage(samples, data.centers(), data.std());
    m["modes_covered"] = coverage.modes_covered;
    m["modes"] = data.centers().size(0);
    m["high_quality_fraction"] = coverage.high_quality_fraction;
  }
  return m;
}

/// n samples drawn with a fixed seed, leaving the model's random stream as it was, so that
/// evaluating never changes how training continues.
inline torch::Tensor sample_aside(Run& run, int64_t n, uint64_t seed) {
  const auto state = run.generator().get_state();
  run.seed(seed);
  auto x = run.sample(n, std::nullopt);
  run.generator().set_state(state);
  return x;
}

/// The file name (without extension) of the snapshot at `step`, and the step of a snapshot file.
inline std::string snapshot_name(int64_t step) { return fmt::format("step_{:09d}", step); }
inline int64_t snapshot_step(const fs::path& file) {
  int64_t step = -1;
  GPM_CHECK(std::sscanf(file.stem().string().c_str(), "step_%ld", &step) == 1, "'{}' is not a snapshot file (step_N.csv)",
            file.string());
  return step;
}

struct TrainResult {
  double seconds = 0.0;
  int64_t steps = 0;  // steps taken in this call
};

/// The first (up to) 64 flat images of `x` as a PNG grid.
inline void write_image_snapshot(const fs::path& path, const torch::Tensor& x, const ImageShape& shape) {
  io::write_image_grid(path.string(), x.slice(0, 0, std::min<int64_t>(64, x.size(0))), shape);
}

/// Drops the lines of the log at `path` past `step`, a resumed checkpoint's: what a training stopped
/// after its last checkpoint logged beyond it, which the resumed training logs again; and a last line
/// cut short. Rewritten atomically, and only when a line goes. Returns the latest wall time among
/// the lines kept (0 if none), from which a resumed training counts on.
inline double drop_log_lines_after(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return 0;
  const std::string text = io::read_file(path);
  std::string kept;
  double kept_time = 0;
  bool dropped = false;
  for (size_t begin = 0; begin < text.size();) {
    const auto end = text.find('\n', begin);
    if (end == std::string::npos) {  // no line ends the file: its last write was cut short
      dropped = true;
      break;
    }
    const auto line = std::string_view(text).substr(begin, end + 1 - begin);
    const json entry = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    const bool later = entry.is_object() && entry.contains("step") && entry.at("step").is_number() &&
                       entry.at("step").get<double>() > static_cast<double>(step);
    if (later) {
      dropped = true;
    } else {
      kept += line;
      if (entry.is_object() && entry.contains("time") && entry.at("time").is_number())
        kept_time = std::max(kept_time, entry.at("time").get<double>());
    }
    begin = end + 1;
  }
  if (dropped) io::write_file_atomically(path, kept);
  return kept_time;
}

/// The serialized form of `object` (a Run, a Checkpoint).
template <class T>
std::string archive_bytes(const T& object) {
  torch::serialize::OutputArchive archive;
  object.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

/// The serialized state `bytes` (archive_bytes) read back, each tensor on the device it was saved from.
inline torch::serialize::InputArchive state_archive(const std::string& bytes) {
  torch::serialize::InputArchive archive;
  std::istringstream in(bytes);
  archive.load_from(in);
  return archive;
}

/// Trains `run` from step `step` up to settings.steps(), drawing batches from `data` with
/// `data_generator`, logging to and checkpointing in `files`; evaluations judge digits with `digits`.
/// A loss, parameter, sample or metric that becomes non-finite stops it with a RuntimeError that
/// ends with `advice` (divergence_advice of its config). As a rank of `group` (started from rank 0's
/// state), each step trains on this rank's shard of the batch and averages gradients over the
/// group; rank 0 alone logs (the ranks' mean losses), evaluates and writes checkpoints.
inline TrainResult train(Run& run, const data::AnyDataset& data, const TrainSettings& settings, int64_t& step,
                         at::Generator& data_generator, const RunFiles& files, const std::string& label,
                         const std::string& advice, bool progress, const std::optional<DigitJudge>& digits = std::nullopt,
                         const std::shared_ptr<distributed::ProcessGroup>& group = nullptr) {
  const bool writer = group == nullptr || group->rank() == 0;
  // Logged times count the run's wall time across resumes (less what a stop lost past its last log line).
  const double time_before = writer ? drop_log_lines_after(files.log(), step) : 0.0;
  std::ofstream log;
  if (writer) {
    log.open(files.log(), std::ios::app);
    GPM_CHECK(static_cast<bool>(log), "cannot write '{}'; check that the run directory is writable", files.log().string());
  }
  auto eval_gen = make_generator(settings.seed() + 2000);
  const auto reference = writer ? data.sample(settings.eval_samples(), eval_gen) : torch::Tensor();
  int64_t last_checkpoint = step;
  const auto start = Clock::now();
  const auto run_time = [&] { return time_before + seconds_since(start); };
  // A stop names the checkpoint that the run can be resumed from, if one was written.
  const auto stop = [&](const std::string& problem, const std::string& fix) {
    const auto resumable = fs::exists(files.checkpoint())
                               ? fmt::format("The last checkpoint is '{}' (step {})", files.checkpoint().string(),
                                             last_checkpoint)
                               : std::string("No checkpoint was written yet");
    return RuntimeError(fmt::format("{}; stopping. {}; {}", problem, resumable, fix));
  };
  // A state with non-finite numbers is never kept: its samples would be NaN, and a resume would go on
  // from it. One with a tensor off the model's device comes from a part of the model that ignores
  // its device: it stops the run rather than let it mix devices.
  const auto check_state = [&](const std::string& bytes) {
    auto archive = state_archive(bytes);
    if (const auto tensor = first_non_finite_tensor(archive))
      throw stop(fmt::format("after training step {} the model's state holds non-finite values (in '{}')", step, *tensor),
                 advice);
    if (const auto tensor = first_tensor_off_device(archive, run.device()))
      throw stop(fmt::format("after training step {} the model's state holds {} off the model's device, {}", step,
                             *tensor, run.device().str()),
                 "a part of the model ignores its device option: report it with this command line");
  };
  // A write that fails (a full disk) stops training: a run must not go on without its record.
  const auto after_failed_write = [&] {
    return fs::exists(files.checkpoint())
               ? fmt::format("make room and continue with gpm train --resume {}", files.dir.string())
               : fmt::format("make room, remove '{}' and train again", files.dir.string());
  };
  const auto write_checkpoint = [&] {
    const auto bytes = archive_bytes(Checkpoint{run, data_generator, step});
    check_state(bytes);
    try {
      save_checkpoint(files, bytes, step);
    } catch (const RuntimeError& e) {
      throw stop(fmt::format("{} at step {}", e.what(), step), after_failed_write());
    }
    last_checkpoint = step;
  };
  const auto write_log = [&](const json& entry) {
    log << entry.dump() << "\n" << std::flush;
    if (log) return;
    const auto problem = std::generic_category().message(errno);
    throw stop(fmt::format("writing '{}' failed at step {} ({})", files.log().string(), step, problem), after_failed_write());
  };
  // Evaluations also keep a snapshot of 2-D samples and their velocities (a particle model's at the
  // time of its last step, where its field is defined: Run::last_step_time), or a grid of images: a
  // generator's figures show its particles along training time.
  const auto evaluate = [&] {
    // Sampling and velocities may draw from the model's random streams (Score GAN's noising): the
    // whole state is set aside and restored, so evaluating never changes how training continues.
    const auto saved = archive_bytes(run);
    check_state(saved);
    const auto restore = [&] {
      torch::serialize::InputArchive archive;
      std::istringstream in(saved);
      archive.load_from(in);
      run.load(archive);
    };
    const auto eval_start = Clock::now();
    const auto samples = sample_aside(run, settings.eval_samples(), 4242);
    const auto evaluation = fmt::format("the evaluation at step {}", step);
    if (const auto bad = non_finite_samples(samples)) throw stop(fmt::format("{} drew {}", evaluation, *bad), advice);
    auto metrics = sample_metrics(samples, reference, data, digits);
    if (const auto metric = first_non_finite_metric(metrics))
      throw stop(fmt::format("{} gave a non-finite {}", evaluation, *metric), advice);
    metrics["seconds"] = seconds_since(eval_start);
    write_log({{"step", step}, {"time", run_time()}, {"eval", metrics}});
    if (data.has_image_shape()) {
      fs::create_directories(files.snapshots());
      write_image_snapshot(files.snapshots() / (snapshot_name(step) + ".png"), samples, data.image_shape());
    } else if (data.dim() == 2) {
      fs::create_directories(files.snapshots());
      const auto name = snapshot_name(step);
      const auto velocities = run.velocity(samples, run.last_step_time());
      if (const auto bad = non_finite_samples(velocities))
        throw stop(fmt::format("{} gave velocities with {}", evaluation, *bad), advice);
      data::write_csv((files.snapshots() / (name + ".csv")).string(), torch::cat({samples, velocities}, 1),
                      {"x", "y", "vx", "vy"});
      if (run.field_follows_training()) run.save_field(files.snapshots() / (name + ".field.pt"));
    }
    restore();
  };
  const int64_t eval_every = settings.eval_every() > 0 ? settings.eval_every() : std::max<int64_t>(1, settings.steps() / 5);
  Progress bar(label, step, settings.steps(), progress && writer);
  const int64_t first = step;
  while (step < settings.steps()) {
    const double lr_scale = learning_rate_factor(step, settings.steps(), settings.lr_decay());
    run.scale_learning_rate(lr_scale);
    const auto stats = [&] {
      if (!group) return run.train_step(data.sample(settings.batch_size(), data_generator));
      try {
        const DataParallelScope scope(group, DataParallelOptions().sync_batch_norm(settings.sync_batch_norm()));
        return run.train_step(draw_rows(settings.batch_size(), [&](int64_t n) { return data.sample(n, data_generator); }));
      } catch (const CollectiveError& e) {  // a rank stopped, or a peer timed out; bad input stays bad input
        throw stop(io::first_line(e.what()), fmt::format("resume with gpm launch -n {} -- train --resume {} (or "
                   "--world-size {} on each rank)", group->world_size(), files.dir.string(), group->world_size()));
      }
    }();
    ++step;
    // One host synchronisation per step for the finiteness check; names are looked up only on failure.
    std::vector<torch::Tensor> values;
    for (const auto& [name, value] : stats) values.push_back(value.detach().reshape({}));
    if (!values.empty() && !torch::isfinite(torch::stack(values)).all().item<bool>()) {
      for (const auto& [name, value] : stats) {
        const double v = value.item<double>();
        if (!std::isfinite(v))
          throw stop(fmt::format("training step {} produced a non-finite {} ({})", step, name, v), advice + ", or check the data");
      }
    }
    if (step % settings.log_every() == 0 || step == settings.steps()) {
      const auto logged = group ? mean_over_ranks(stats, *group) : stats;
      if (writer) {
        json entry = {{"step", step}, {"time", run_time()}};
        for (const auto& [name, value] : logged) entry[name] = value.item<double>();
        if (settings.lr_decay() > 0) entry["lr_scale"] = lr_scale;
        write_log(entry);
        bar.update(step, logged);
      }
    }
    if (!writer) continue;
    if (step % eval_every == 0) evaluate();
    if (settings.checkpoint_every() > 0 && step % settings.checkpoint_every() == 0) write_checkpoint();
  }
  if (!writer) return {seconds_since(start), step - first};
  if (step % eval_every != 0) evaluate();
  write_checkpoint();
  return {seconds_since(start), step - first};
}

}  // namespace gpm::runner
