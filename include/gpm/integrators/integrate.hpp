// The integration driver: runs a stepper over a time grid, with optional early stopping and an
// observer called at every state (for trajectories, figures and checkpoints).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"

namespace gpm {

/// An observer that does nothing. Any callable `obs(const torch::Tensor& x, const Step& s)` is an
/// observer; it sees each state before the step `s` leaves it.
struct NullObserver {
  void operator()(const torch::Tensor&, const Step&) const {}
};

/// Number of steps to take on a grid of `times` (N + 1 points): all N, or the first `steps`.
inline int64_t steps_to_take(const std::vector<double>& times, std::optional<int64_t> steps, const char* where) {
  const auto total = static_cast<int64_t>(times.size()) - 1;
  GPM_CHECK(total >= 1, "{}: the time grid has {} points, need at least 2", where, times.size());
  if (!steps) return total;
  GPM_CHECK(*steps >= 0 && *steps <= total, "{}: cannot stop after {} steps of a {}-step grid; "
            "choose 0 <= steps <= {}", where, *steps, total, total);
  return *steps;
}

/// Integrates particles `x` along `flow` over the grid `times` with `integrator`, stopping after
/// `steps` of its N steps if given (early stop, as the reference's total_nb_steps). Returns the
/// particles reached.
template <Integrator I, Flow F, class Observer = NullObserver>
torch::Tensor integrate(I& integrator, F& flow, torch::Tensor x, const std::vector<double>& times,
                        at::Generator& gen, std::optional<int64_t> steps = std::nullopt, Observer&& observe = {}) {
  const int64_t total = static_cast<int64_t>(times.size()) - 1;
  const int64_t n = steps_to_take(times, steps, "gpm::integrate");
  for (int64_t k = 0; k < n; ++k) {
    const Step s{times[static_cast<size_t>(k)], times[static_cast<size_t>(k + 1)], k, total};
    observe(x, s);
    x = integrator.step(flow, x, s, gen);
  }
  return x;
}

}  // namespace gpm
