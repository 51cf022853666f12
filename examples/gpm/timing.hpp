// Timing of repeated calls for the benchmark: the device's queued work waited for before a clock is
// read, and the fastest of a few timed blocks, the least disturbed estimate of one call.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

#include <torch/cuda.h>

namespace gpm::runner {

/// Waits for queued device work, so that a timer stopped after it counts it.
inline void synchronize_devices() {
  static const bool cuda = torch::cuda::is_available();
  if (cuda) torch::cuda::synchronize();
}

/// Seconds per call of `call`: the fastest of `blocks` timed blocks, each of whole calls until at
/// least `block_seconds` have passed.
template <class Call>
double fastest_seconds_per_call(const Call& call, double block_seconds, int blocks = 3) {
  double best = std::numeric_limits<double>::infinity();
  for (int block = 0; block < blocks; ++block) {
    int64_t calls = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      call();
      synchronize_devices();
      ++calls;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < block_seconds);
    best = std::min(best, elapsed / static_cast<double>(calls));
  }
  return best;
}

}  // namespace gpm::runner
