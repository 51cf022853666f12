// How busy other processes keep this machine: the CPU time the whole machine spent busy (from
// /proc/stat) less this process's own. OpenMP threads that spin while another process holds their
// core slow a run severalfold, so the runner measures this before long commands and the benchmark
// during each window.
#pragma once

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

namespace gpm::runner {

namespace detail {

/// CPU seconds the whole machine spent busy (all processes), from /proc/stat; nothing where it is not
/// readable.
inline std::optional<double> machine_busy_seconds() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu")
    return std::nullopt;
  return (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace detail

/// The cores' worth of CPU time other processes took per second over the next `duration` (this
/// process sleeping meanwhile); nothing where /proc/stat is not readable.
inline std::optional<double> foreign_cores(std::chrono::milliseconds duration) {
  const auto busy0 = detail::machine_busy_seconds();
  const double own0 = detail::process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(duration);
  const auto busy1 = detail::machine_busy_seconds();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!busy0 || !busy1) return std::nullopt;
  return std::max(0.0, (*busy1 - *busy0 - (detail::process_cpu_seconds() - own0)) / elapsed);
}

}  // namespace gpm::runner
