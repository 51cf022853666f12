// Two-dimensional toy distributions: Gaussian mixtures on a ring or a grid, two moons, a
// checkerboard and a swiss roll. Each models gpm::data::Dataset and draws fresh points per call;
// its options are declared with GPM_OPTION, so the dataset table (registry.hpp) reads specs by them.
#pragma once

#include <cstdint>
#include <numbers>
#include <string>
#include <utility>

#include <ATen/core/Generator.h>
#include <fmt/format.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/data/dataset.hpp"

namespace gpm::data {

/// The mixture (1/K) Σ_k N(μ_k, s² I) with uniform weights: pick a centre μ_k uniformly, add
/// s·ε with ε ∼ N(0, I). `centers()` [K, D] and `std()` feed gpm::metrics::mode_coverage.
/// Models gpm::data::Dataset.
/// Example: `IsotropicMixture mix(torch::tensor({{-1.0, 0.0}, {1.0, 0.0}}), /*std=*/0.1);`
class IsotropicMixture {
 public:
  /// `centers` [K, D] (K >= 1) are converted to `options`; `std` s > 0.
  IsotropicMixture(torch::Tensor centers, double std, torch::TensorOptions options = default_options())
      : IsotropicMixture("IsotropicMixture", std::move(centers), std, options) {}

  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    detail::check_draw(n, gen, centers_.device(), where("sample").c_str());
    const auto mode = torch::randint(modes(), {n}, gen, centers_.options().dtype(torch::kLong));
    return centers_.index_select(0, mode) + std_ * torch::randn({n, dim()}, gen, centers_.options());
  }
  int64_t dim() const { return centers_.size(1); }
  /// Number of mixture components K.
  int64_t modes() const { return centers_.size(0); }
  /// The component means μ_k, [K, D], in the dataset's dtype and on its device.
  const torch::Tensor& centers() const { return centers_; }
  /// The per-coordinate standard deviation s of every component.
  double std() const { return std_; }

 protected:
  IsotropicMixture(std::string name, torch::Tensor centers, double std, const torch::TensorOptions& options)
      : name_(std::move(name)), std_(std) {
    detail::check_options(options, name_.c_str());
    GPM_CHECK(centers.defined() && centers.dim() == 2 && centers.size(0) > 0 && centers.size(1) > 0,
              "{}: centers must have shape [K, D] with K, D >= 1, got {}", name_,
              centers.defined() ? shape_string(centers) : std::string("an undefined tensor"));
    GPM_CHECK(std_ > 0, "{}: std must be > 0, got {}; it is the standard deviation of every mode", name_, std_);
    const double farthest = centers.to(torch::kFloat64).abs().max().item<double>();
    detail::check_extent(farthest + detail::kNormalReach * std_, options, name_,
                         fmt::format("centres up to {:g} plus 10 standard deviations of {:g}", farthest, std_));
    centers_ = centers.to(options);
  }

 private:
  std::string where(const char* method) const { return name_ + "::" + method; }

  std::string name_;
  torch::Tensor centers_;
  double std_;
};

/// GaussianRing's options, also its spec's parameters ("ring:modes=8,radius=2").
struct GaussianRingOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, modes, Range::at_least(1), "number of modes K on the circle") = 5;
  GPM_OPTION(double, radius, Range::above(0), "radius R of the circle of centres") = 3.0;
  GPM_OPTION(double, std, Range::above(0), "standard deviation s of every mode") = 0.5;
  GPM_OPTIONS_END
};

/// K Gaussians N(μ_k, s² I) with centres on a circle, μ_k = R (cos 2πk/K, sin 2πk/K), k = 0..K−1.
/// The defaults (K = 5, R = 3, s = 0.5) are the GPM reference mixture: 3s-discs are disjoint and
/// a fraction 1 − e^{−4.5} ≈ 0.989 of true samples lies within 3s of its centre.
/// Models gpm::data::Dataset. Example: `GaussianRing ring(GaussianRingOptions().modes(8).radius(2));`
class GaussianRing : public IsotropicMixture {
 public:
  explicit GaussianRing(GaussianRingOptions options = {}, torch::TensorOptions tensor_options = default_options())
      : IsotropicMixture("GaussianRing", ring_centers(options, tensor_options), options.std(), tensor_options),
        options_(options) {}
  const GaussianRingOptions& options() const { return options_; }

 private:
  static torch::Tensor ring_centers(const GaussianRingOptions& o, const torch::TensorOptions& tensor_options) {
    GPM_CHECK(o.modes() >= 1, "GaussianRing: modes must be >= 1, got {}", o.modes());
    GPM_CHECK(o.radius() > 0, "GaussianRing: radius must be > 0, got {}", o.radius());
    const auto angle = torch::arange(o.modes(), tensor_options.dtype(torch::kFloat64)) *
                       (2.0 * std::numbers::pi / static_cast<double>(o.modes()));
    return o.radius() * torch::stack({torch::cos(angle), torch::sin(angle)}, 1);
  }
  GaussianRingOptions options_;
};

/// GaussianGrid's options, also its spec's parameters ("grid:per_side=3,std=0.05").
struct GaussianGridOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, per_side, Range::at_least(1), "modes per side: the grid holds per_side² modes") = 5;
  GPM_OPTION(double, spacing, Range::above(0), "distance between neighbouring centres") = 2.0;
  GPM_OPTION(double, std, Range::above(0), "standard deviation s of every mode (0.05 is the other common choice)") = 0.1;
  GPM_OPTIONS_END
};

/// per_side² Gaussians N(μ_k, s² I) on a square grid centred at the origin: each coordinate of μ_k
/// takes the values spacing·(i − (per_side − 1)/2), i = 0..per_side−1. The defaults give the
/// "25 Gaussians" benchmark, means in {−4, −2, 0, 2, 4}², with s = 0.1.
/// Models gpm::data::Dataset. Example: `GaussianGrid grid(GaussianGridOptions().std(0.05));`
class GaussianGrid : public IsotropicMixture {
 public:
  explicit GaussianGrid(GaussianGridOptions options = {}, torch::TensorOptions tensor_options = default_options())
      : IsotropicMixture("GaussianGrid", grid_centers(options, tensor_options), options.std(), tensor_options),
        options_(options) {}
  const GaussianGridOptions& options() const { return options_; }

 private:
  static torch::Tensor grid_centers(const GaussianGridOptions& o, const torch::TensorOptions& tensor_options) {
    GPM_CHECK(o.per_side() >= 1, "GaussianGrid: per_side must be >= 1, got {}", o.per_side());
    GPM_CHECK(o.spacing() > 0, "GaussianGrid: spacing must be > 0, got {}", o.spacing());
    const auto coords = (torch::arange(o.per_side(), tensor_options.dtype(torch::kFloat64)) -
                         0.5 * static_cast<double>(o.per_side() - 1)) * o.spacing();
    const auto grid = torch::meshgrid({coords, coords}, "ij");
    return torch::stack({grid[0].flatten(), grid[1].flatten()}, 1);
  }
  GaussianGridOptions options_;
};

/// TwoMoons' options, also its spec's parameters ("moons:noise=0.05").
struct TwoMoonsOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, noise, Range::at_least(0), "standard deviation of the Gaussian noise added to each coordinate") = 0.1;
  GPM_OPTIONS_END
};

/// Two interleaved half circles (the scikit-learn convention): with t ∼ U[0, π], half the points
/// are (cos t, sin t) and half (1 − cos t, 1/2 − sin t), plus noise·ε, ε ∼ N(0, I). Without noise
/// the points fill [−1, 2] × [−1/2, 1]; their mean is (1/2, 1/4).
/// Models gpm::data::Dataset. Example: `TwoMoons moons(TwoMoonsOptions().noise(0.05));`
class TwoMoons {
 public:
  explicit TwoMoons(TwoMoonsOptions options = {}, torch::TensorOptions tensor_options = default_options())
      : options_(options), tensor_options_(tensor_options) {
    detail::check_options(tensor_options_, "TwoMoons");
    GPM_CHECK(options_.noise() >= 0, "TwoMoons: noise must be >= 0, got {}", options_.noise());
    detail::check_extent(2 + detail::kNormalReach * options_.noise(), tensor_options_, "TwoMoons",
                         fmt::format("2 plus 10 standard deviations of noise {:g}", options_.noise()));
  }
  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    detail::check_draw(n, gen, tensor_options_.device(), "TwoMoons::sample");
    const auto t = torch::rand({n}, gen, tensor_options_) * std::numbers::pi;
    const auto lower = torch::randint(2, {n}, gen, tensor_options_);  // 0: upper moon, 1: lower moon
    const auto c = torch::cos(t), s = torch::sin(t);
    const auto points = torch::stack({c + lower * (1.0 - 2.0 * c), s + lower * (0.5 - 2.0 * s)}, 1);
    return points + options_.noise() * torch::randn({n, 2}, gen, tensor_options_);
  }
  int64_t dim() const { return 2; }
  const TwoMoonsOptions& options() const { return options_; }

 private:
  TwoMoonsOptions options_;
  torch::TensorOptions tensor_options_;
};

/// Checkerboard's options, also its spec's parameters ("checkerboard:cells=6,size=6").
struct CheckerboardOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, cells, Range::at_least(2), "cells per side of the board") = 4;
  GPM_OPTION(double, size, Range::above(0), "side length of the board, which covers [−size/2, size/2]²") = 4.0;
  GPM_OPTIONS_END
};

/// Uniform on the filled cells of a checkerboard: the board [−size/2, size/2]² is cut into
/// cells × cells squares and cell (i, j) (column i from the left, row j from the bottom) is filled
/// when i + j is even. The defaults give 8 unit squares on [−2, 2]².
/// Models gpm::data::Dataset. Example: `Checkerboard board(CheckerboardOptions().cells(6).size(6));`
class Checkerboard {
 public:
  explicit Checkerboard(CheckerboardOptions options = {}, torch::TensorOptions tensor_options = default_options())
      : options_(options), tensor_options_(tensor_options) {
    detail::check_options(tensor_options_, "Checkerboard");
    GPM_CHECK(options_.cells() >= 2, "Checkerboard: cells must be >= 2, got {}", options_.cells());
    GPM_CHECK(options_.size() > 0, "Checkerboard: size must be > 0, got {}", options_.size());
    detail::check_extent(options_.size(), tensor_options_, "Checkerboard",
                         fmt::format("the board's side {:g}", options_.size()));
    const auto index = torch::arange(options_.cells(), tensor_options_.dtype(torch::kLong));
    const auto grid = torch::meshgrid({index, index}, "ij");
    const auto i = grid[0].flatten(), j = grid[1].flatten();
    const auto filled = (i + j).remainder(2) == 0;
    const auto cell = torch::stack({i.masked_select(filled), j.masked_select(filled)}, 1).to(tensor_options_);
    corners_ = cell * cell_width() - 0.5 * options_.size();
  }
  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    detail::check_draw(n, gen, tensor_options_.device(), "Checkerboard::sample");
    const auto cell = torch::randint(corners_.size(0), {n}, gen, tensor_options_.dtype(torch::kLong));
    return corners_.index_select(0, cell) + cell_width() * torch::rand({n, 2}, gen, tensor_options_);
  }
  int64_t dim() const { return 2; }
  const CheckerboardOptions& options() const { return options_; }

 private:
  double cell_width() const { return options_.size() / static_cast<double>(options_.cells()); }
  CheckerboardOptions options_;
  torch::TensorOptions tensor_options_;
  torch::Tensor corners_;  // lower-left corners of the filled cells, [cells²/2 (rounded up), 2]
};

/// SwissRoll's options, also its spec's parameters ("swissroll:noise=0.05").
struct SwissRollOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, noise, Range::at_least(0),
             "standard deviation of the Gaussian noise added to each coordinate, in output units") = 0.1;
  GPM_OPTIONS_END
};

/// A two-dimensional swiss roll (spiral): with t = 1.5π (1 + 2u), u ∼ U[0, 1],
/// x = 0.2 · t (cos t, sin t) + noise·ε, ε ∼ N(0, I). The scale 0.2 (`kScale`) keeps the roll
/// within radius 0.94..2.83 (about [−3, 3]²) with 1.26 between successive turns.
/// Models gpm::data::Dataset. Example: `SwissRoll roll(SwissRollOptions().noise(0.05));`
class SwissRoll {
 public:
  static constexpr double kScale = 0.2;

  explicit SwissRoll(SwissRollOptions options = {}, torch::TensorOptions tensor_options = default_options())
      : options_(options), tensor_options_(tensor_options) {
    detail::check_options(tensor_options_, "SwissRoll");
    GPM_CHECK(options_.noise() >= 0, "SwissRoll: noise must be >= 0, got {}", options_.noise());
    detail::check_extent(kScale * 4.5 * std::numbers::pi + detail::kNormalReach * options_.noise(), tensor_options_,
                         "SwissRoll", fmt::format("2.83 plus 10 standard deviations of noise {:g}", options_.noise()));
  }
  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    detail::check_draw(n, gen, tensor_options_.device(), "SwissRoll::sample");
    const auto t = 1.5 * std::numbers::pi * (1.0 + 2.0 * torch::rand({n}, gen, tensor_options_));
    const auto points = kScale * torch::stack({t * torch::cos(t), t * torch::sin(t)}, 1);
    return points + options_.noise() * torch::randn({n, 2}, gen, tensor_options_);
  }
  int64_t dim() const { return 2; }
  const SwissRollOptions& options() const { return options_; }

 private:
  SwissRollOptions options_;
  torch::TensorOptions tensor_options_;
};

}  // namespace gpm::data
