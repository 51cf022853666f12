// Throughput of a model's training step or sampler (`gpm bench`): warm-up, then timed windows, each
// with the CPU time other processes took meanwhile (a window they disturbed is timed again); with the
// FLOPs of one step counted from the shapes of its matrix products and convolutions, and the rate
// those same operations reach alone on this machine, in the same run.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "machine_load.hpp"
#include "op_census.hpp"
#include "timing.hpp"

namespace gpm::runner {

struct BenchSettings {
  int64_t warmup = 5;           ///< untimed calls first
  int64_t windows = 3;          ///< timed windows; the figures are their median, min and max
  double window_seconds = 2.0;  ///< each window runs whole calls until this much time has passed
  double max_foreign_cores = 0.25;  ///< a window during which other processes used more is timed again
  int64_t retries = 2;          ///< at most this many extra windows per window
};

namespace detail {

/// Resident memory of this process now, in MiB (from /proc/self/statm).
inline double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  double size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

inline double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// GFLOP/s of one 256×512 by 512×512 float matrix product, the fastest of three timed blocks: a
/// probe of the machine's state, comparable with the one the reference's benchmark records.
inline double gemm_probe_gflops() {
  const auto a = torch::randn({256, 512}), b = torch::randn({512, 512});
  auto c = torch::mm(a, b);
  return 2.0 * 256 * 512 * 512 / fastest_seconds_per_call([&] { torch::mm_out(c, a, b); }, 0.1) / 1e9;
}

}  // namespace detail

/// Times `call` (one training step, or one sampler call producing `items_per_call` samples) as
/// `settings` says and returns the figures as JSON: rates per second of `unit`, FLOPs per call, the
/// achieved GFLOP/s, the same operations' rate alone, and memory.
inline nlohmann::json bench(const std::function<void()>& call, int64_t items_per_call, const std::string& unit,
                            const BenchSettings& settings) {
  using nlohmann::json;
  GPM_CHECK(settings.windows >= 1 && settings.window_seconds > 0, "a benchmark needs ≥ 1 window of > 0 s");
  const auto timed = [&](int64_t calls) {
    for (int64_t i = 0; i < calls; ++i) call();
    synchronize_devices();
  };
  const auto warmup_start = std::chrono::steady_clock::now();
  timed(settings.warmup);
  const double warmup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - warmup_start).count();
  const double rss_after_warmup = detail::resident_mib();

  json windows = json::array();
  std::vector<double> rates;
  int64_t retimed = 0;
  for (int64_t w = 0; w < settings.windows; ++w) {
    for (int64_t attempt = 0;; ++attempt) {
      const auto busy0 = detail::machine_busy_seconds();
      const double own0 = detail::process_cpu_seconds();
      const auto start = std::chrono::steady_clock::now();
      int64_t calls = 0;
      double elapsed = 0;
      do {
        timed(1);
        ++calls;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } while (elapsed < settings.window_seconds);
      const auto busy1 = detail::machine_busy_seconds();
      const double own = detail::process_cpu_seconds() - own0;
      const bool known = busy0.has_value() && busy1.has_value();
      const double foreign = known ? std::max(0.0, (busy1.value() - busy0.value() - own) / elapsed) : 0.0;
      const bool disturbed = known && foreign > settings.max_foreign_cores;
      if (disturbed && attempt < settings.retries) {
        ++retimed;
        continue;
      }
      const double rate = static_cast<double>(calls * items_per_call) / elapsed;
      rates.push_back(rate);
      windows.push_back({{"rate", rate}, {"calls", calls}, {"seconds", elapsed},
                         {"foreign_cores", known ? json(foreign) : json(nullptr)}, {"disturbed", disturbed}});
      break;
    }
  }
  const double rss_end = detail::resident_mib();
  auto sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  const auto middle = sorted.size() / 2;
  const double median = sorted.size() % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;

  // The census runs apart from the timed windows: its callback on every operation has a cost. It
  // spans whole calls until ≥ 10 of them or ≥ 1 s, so that work done every k-th call is averaged in.
  int64_t census_calls = 0;
  const auto census_start = std::chrono::steady_clock::now();
  const auto census = take_op_census([&] {
    do {
      timed(1);
      ++census_calls;
    } while (census_calls < 10 &&
             std::chrono::duration<double>(std::chrono::steady_clock::now() - census_start).count() < 1.0);
  });
  const double flops_per_call = census.flops() / static_cast<double>(census_calls);
  const double replay_per_call = replay_seconds(census) / static_cast<double>(census_calls);
  const double calls_per_second = median / static_cast<double>(items_per_call);
  const double achieved = flops_per_call * calls_per_second / 1e9;
  const double alone = replay_per_call > 0 ? flops_per_call / replay_per_call / 1e9 : 0;

  json ops = json::array();
  for (const auto& op : census.ops) {
    if (ops.size() == 8) break;
    ops.push_back({{"op", op.name.name}, {"shapes", op.shapes},
                   {"calls_per_call", static_cast<double>(op.calls) / static_cast<double>(census_calls)},
                   {"flops_share", census.flops() > 0 ? op.flops * static_cast<double>(op.calls) / census.flops() : 0.0}});
  }
  return {{"unit", unit},
          {"median", median},
          {"min", sorted.front()},
          {"max", sorted.back()},
          {"windows", windows},
          {"retimed_windows", retimed},
          {"warmup", {{"calls", settings.warmup}, {"seconds", warmup_seconds}}},
          {"threads", at::get_num_threads()},
          {"flops_per_call", flops_per_call},
          {"achieved_gflops", achieved},
          {"same_ops_alone", {{"seconds_per_call", replay_per_call}, {"gflops", alone}}},
          {"share_of_same_ops_alone", replay_per_call > 0 ? replay_per_call * calls_per_second : 0.0},
          {"gemm_probe_gflops", detail::gemm_probe_gflops()},
          {"onednn_matmul", onednn_matmul_available()},
          {"memory_mib", {{"after_warmup", rss_after_warmup}, {"end", rss_end}, {"peak", detail::peak_resident_mib()}}},
          {"top_ops", ops}};
}

}  // namespace gpm::runner
