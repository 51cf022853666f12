// Discretisations of generation time: uniform on an interval, the Karras (EDM) σ schedule
// ending at 0 (clamped to a denoiser's noise range by clamp_to), and geometric noise levels. Each
// models gpm::TimeGrid.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/arg.h>

#include "gpm/core/errors.hpp"

namespace gpm {

struct UniformGridOptions {
  explicit UniformGridOptions(int64_t steps) : steps_(steps) {}
  /// Number of steps N (the grid has N + 1 points).
  TORCH_ARG(int64_t, steps);
  TORCH_ARG(double, start) = 0.0;
  TORCH_ARG(double, end) = 1.0;
};

/// N equal steps from `start` to `end` (default [0, 1]): t_k = start + k (end − start) / N.
/// Example: `UniformGrid grid(UniformGridOptions(56));`
class UniformGrid {
 public:
  explicit UniformGrid(UniformGridOptions options) : options_(options) {
    GPM_CHECK(options_.steps() >= 1, "UniformGrid: steps must be >= 1, got {}", options_.steps());
    GPM_CHECK(std::isfinite(options_.start()) && std::isfinite(options_.end()) &&
                  options_.start() != options_.end(),
              "UniformGrid: start and end must be finite and different, got [{}, {}]",
              options_.start(), options_.end());
  }
  std::vector<double> times() const {
    const auto n = options_.steps();
    std::vector<double> t(static_cast<size_t>(n + 1));
    // Each point is computed from its index, so rounding does not accumulate along the grid.
    for (int64_t k = 0; k <= n; ++k)
      t[static_cast<size_t>(k)] = options_.start() + (options_.end() - options_.start()) *
                                                         static_cast<double>(k) / static_cast<double>(n);
    return t;
  }
  int64_t steps() const { return options_.steps(); }
  const UniformGridOptions& options() const { return options_; }

 private:
  UniformGridOptions options_;
};

struct KarrasGridOptions {
  explicit KarrasGridOptions(int64_t steps) : steps_(steps) {}
  /// Number of steps N: N noise levels from σ_max down to σ_min, then a final 0.
  TORCH_ARG(int64_t, steps);
  TORCH_ARG(double, sigma_min) = 0.002;
  TORCH_ARG(double, sigma_max) = 80.0;
  TORCH_ARG(double, rho) = 7.0;
};

/// The EDM noise schedule (Karras et al. 2022, arXiv:2206.00364):
/// t_i = (σ_max^{1/ρ} + i/(N−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ for i < N, and t_N = 0.
/// Time and noise level coincide. Example: `KarrasGrid grid(KarrasGridOptions(28).sigma_max(40));`
class KarrasGrid {
 public:
  explicit KarrasGrid(KarrasGridOptions options) : options_(options) {
    GPM_CHECK(options_.steps() >= 1, "KarrasGrid: steps must be >= 1, got {}", options_.steps());
    GPM_CHECK(options_.sigma_min() > 0 && options_.sigma_min() < options_.sigma_max(),
              "KarrasGrid: need 0 < sigma_min < sigma_max, got sigma_min = {}, sigma_max = {}",
              options_.sigma_min(), options_.sigma_max());
    GPM_CHECK(options_.rho() > 0, "KarrasGrid: rho must be > 0, got {}", options_.rho());
  }
  std::vector<double> times() const {
    const auto n = options_.steps();
    const double r = options_.rho();
    const double hi = std::pow(options_.sigma_max(), 1.0 / r);
    const double lo = std::pow(options_.sigma_min(), 1.0 / r);
    std::vector<double> t(static_cast<size_t>(n + 1), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double frac = n == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(n - 1);
      t[static_cast<size_t>(i)] = std::pow(hi + frac * (lo - hi), r);
    }
    return t;
  }
  int64_t steps() const { return options_.steps(); }
  const KarrasGridOptions& options() const { return options_; }

 private:
  KarrasGridOptions options_;
};

/// A denoiser that declares the noise range it was trained for: nn::EdmPreconditioned (through its
/// module holder), or any class with `sigma_min()` and `sigma_max()`.
template <class D>
concept DeclaresNoiseRange = requires(const D& d) {
  { d->sigma_min() } -> std::convertible_to<double>;
  { d->sigma_max() } -> std::convertible_to<double>;
} || requires(const D& d) {
  { d.sigma_min() } -> std::convertible_to<double>;
  { d.sigma_max() } -> std::convertible_to<double>;
};

/// `options` with σ_min raised to the denoiser's σ_min and σ_max lowered to its σ_max, as the
/// reference EDM sampler does. A trained denoiser has only seen noise levels in its range; outside
/// it, it extrapolates. Use it (and a prior of std σ_max of the result) wherever a Karras grid is
/// built for a denoiser; `make_edm` and `denoise_refine` do. A denoiser that declares no range (a
/// closed-form one, exact at every σ) leaves the options unchanged.
/// Example: `KarrasGrid grid(clamp_to(KarrasGridOptions(28).sigma_max(80), denoiser));`
template <class D>
KarrasGridOptions clamp_to(KarrasGridOptions options, const D& denoiser) {
  if constexpr (DeclaresNoiseRange<D>) {
    const auto range = [&] {
      if constexpr (requires { denoiser->sigma_min(); })
        return std::pair<double, double>(denoiser->sigma_min(), denoiser->sigma_max());
      else
        return std::pair<double, double>(denoiser.sigma_min(), denoiser.sigma_max());
    }();
    const double lo = std::max(options.sigma_min(), range.first), hi = std::min(options.sigma_max(), range.second);
    GPM_CHECK(lo < hi, "clamp_to: the grid's noise range [{}, {}] does not overlap the denoiser's [{}, {}]; "
              "ask for noise levels the denoiser was trained on", options.sigma_min(), options.sigma_max(),
              range.first, range.second);
    options.sigma_min(lo).sigma_max(hi);
  }
  return options;
}

struct GeometricGridOptions {
  GeometricGridOptions(int64_t steps, double start, double end) : steps_(steps), start_(start), end_(end) {}
  TORCH_ARG(int64_t, steps);
  TORCH_ARG(double, start);
  TORCH_ARG(double, end);
  /// Whether a final 0 follows the levels, so that the last step of an annealed sampler denoises.
  TORCH_ARG(bool, final_zero) = false;
};

/// N + 1 geometrically spaced levels from `start` to `end` (both > 0), as the noise levels of
/// annealed Langevin sampling: t_k = start · (end / start)^{k / N}; then 0 if `final_zero`.
/// Example: `GeometricGrid grid(GeometricGridOptions(99, 40, 0.002).final_zero(true));` (100 levels, 0)
class GeometricGrid {
 public:
  explicit GeometricGrid(GeometricGridOptions options) : options_(options) {
    GPM_CHECK(options_.steps() >= 1, "GeometricGrid: steps must be >= 1, got {}", options_.steps());
    GPM_CHECK(options_.start() > 0 && options_.end() > 0 && options_.start() != options_.end(),
              "GeometricGrid: start and end must be positive and different, got {} and {}",
              options_.start(), options_.end());
  }
  std::vector<double> times() const {
    const auto n = options_.steps();
    std::vector<double> t(static_cast<size_t>(n + 1));
    const double ratio = options_.end() / options_.start();
    for (int64_t k = 0; k <= n; ++k)
      t[static_cast<size_t>(k)] = options_.start() * std::pow(ratio, static_cast<double>(k) / static_cast<double>(n));
    if (options_.final_zero()) t.push_back(0.0);
    return t;
  }
  int64_t steps() const { return options_.steps() + (options_.final_zero() ? 1 : 0); }
  const GeometricGridOptions& options() const { return options_; }

 private:
  GeometricGridOptions options_;
};

}  // namespace gpm
