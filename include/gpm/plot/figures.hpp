// The library's standard figures, as PNG files: a strip of generation snapshots over the data, a
// generated-versus-data scatter plot and training curves. Built on gpm/plot/figure.hpp (cairo).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/plot/figure.hpp"

namespace gpm::plot {

namespace detail {

/// At most `max_points` rows of host points [N, 2]: an evenly strided subset when there are more.
inline torch::Tensor at_most(const torch::Tensor& points, int64_t max_points) {
  const int64_t n = points.size(0);
  if (n <= max_points) return points;
  const int64_t stride = (n + max_points - 1) / max_points;
  return points.index_select(0, torch::arange(0, n, stride, torch::kLong)).contiguous();
}

/// The q-quantile of the finite Euclidean norms of the rows of host vectors [N, 2]; 0 when none.
inline double norm_quantile(const std::vector<torch::Tensor>& vectors, double q) {
  std::vector<double> norms;
  for (const auto& v : vectors) {
    const double* d = v.data_ptr<double>();
    for (int64_t i = 0; i < v.size(0); ++i) {
      const double n = std::hypot(d[2 * i], d[2 * i + 1]);
      if (std::isfinite(n)) norms.push_back(n);
    }
  }
  if (norms.empty()) return 0.0;
  const auto k = static_cast<size_t>(q * static_cast<double>(norms.size() - 1));
  std::nth_element(norms.begin(), norms.begin() + static_cast<ptrdiff_t>(k), norms.end());
  return norms[k];
}

/// Centred moving average of `ys` over `window` points (shorter windows at both ends), skipping
/// non-finite values.
inline std::vector<double> moving_average(const std::vector<double>& ys, size_t window) {
  std::vector<double> out(ys.size(), NAN);
  const size_t half = window / 2;
  for (size_t i = 0; i < ys.size(); ++i) {
    double sum = 0.0;
    size_t count = 0;
    for (size_t j = i >= half ? i - half : 0; j <= std::min(ys.size() - 1, i + half); ++j) {
      if (std::isfinite(ys[j])) sum += ys[j], ++count;
    }
    if (count > 0) out[i] = sum / static_cast<double>(count);
  }
  return out;
}

}  // namespace detail

/// Most panels generation_strip draws in its one row.
inline constexpr size_t max_strip_panels = 8;

/// Writes a row of panels to `path`, one per particle state [N, 2] (at most max_strip_panels), all on
/// the same axes, which cover `data` [M, 2] and every state. Each panel shows, bottom to top: the
/// background shading if `background` is given (called with the centres of an 80 × 80 grid over the
/// panel, [6400, 2] in the dtype and on the device of `data`, and the panel index; it returns 6400
/// values in any shape), the data in grey, the particles in blue, and one arrow per particle along
/// velocities[k] (when velocities has an entry k that is defined; at most 300 arrows, all panels sharing
/// one scale, so that arrow lengths compare across panels). `panel_titles` is empty (panels are titled
/// "state 0", "state 1", ...) or has one title per state. The first panel holds the legend.
/// Example:
///   gpm::plot::generation_strip("run/generation.png", {x0, x1, x2}, {v0, v1, v2}, {"t = 0", "t = 0.5",
///       "t = 1"}, data, [&](const torch::Tensor& g, size_t) { return potential(g); }, "Score flow");
inline void generation_strip(const std::filesystem::path& path, const std::vector<torch::Tensor>& states,
                             const std::vector<torch::Tensor>& velocities, const std::vector<std::string>& panel_titles,
                             const torch::Tensor& data,
                             const std::function<torch::Tensor(const torch::Tensor& grid_points, size_t panel)>&
                                 background = {},
                             const std::string& title = "") {
  constexpr const char* where = "generation_strip";
  GPM_CHECK(!states.empty() && states.size() <= max_strip_panels, "{}: got {} states, expected 1 to {} snapshots "
            "(pick every k-th state of a longer trajectory)", where, states.size(), max_strip_panels);
  GPM_CHECK(velocities.size() <= states.size(), "{}: got {} velocities for {} states; pass at most one velocity "
            "tensor per state (an undefined tensor skips a panel's arrows)", where, velocities.size(), states.size());
  GPM_CHECK(panel_titles.empty() || panel_titles.size() == states.size(), "{}: got {} panel titles for {} states; "
            "pass one title per state, or none", where, panel_titles.size(), states.size());
  const auto data_points = detail::points_2d(data, where, "data");
  std::vector<torch::Tensor> xs, vs(states.size());
  for (size_t k = 0; k < states.size(); ++k) {
    const auto name = fmt::format("states[{}]", k);
    xs.push_back(detail::points_2d(states[k], where, name.c_str()));
    if (k < velocities.size() && velocities[k].defined()) {
      const auto vname = fmt::format("velocities[{}]", k);
      vs[k] = detail::points_2d(velocities[k], where, vname.c_str());
      GPM_CHECK(vs[k].size(0) == xs[k].size(0), "{}: velocities[{}] has shape {} but states[{}] has shape {}; pass "
                "one velocity per particle", where, k, shape_string(velocities[k]), k, shape_string(states[k]));
    }
  }

  std::vector<torch::Tensor> all = xs;
  all.push_back(data_points);
  const Bounds bounds = bounds_of(all, 0.06);
  std::vector<torch::Tensor> defined_vs;
  for (const auto& v : vs)
    if (v.defined()) defined_vs.push_back(v);
  const double speed = detail::norm_quantile(defined_vs, 0.9);
  const double arrow_scale = speed > 0 ? 0.07 * std::min(bounds.width(), bounds.height()) / speed : 1.0;

  constexpr int plot_size = 270;
  const int panels = static_cast<int>(states.size());
  const int cell_w = plot_size + static_cast<int>(Figure::margin_left + Figure::margin_right);
  const int cell_h = plot_size + static_cast<int>(Figure::margin_top + Figure::margin_bottom);
  const bool titled = !title.empty();
  Figure figure(panels * cell_w, cell_h + (titled ? static_cast<int>(Figure::title_band_height) : 0), 1, panels,
                titled);
  constexpr int64_t g = 80;
  const auto shown_data = detail::at_most(data_points, 4000);
  for (size_t k = 0; k < states.size(); ++k) {
    figure.set_bounds(k, bounds, /*equal_aspect=*/true);
    if (background) {
      const auto grid = grid_points(figure.bounds(k), g).to(data.device(), data.scalar_type());
      const auto values = background(grid, k);
      GPM_CHECK(values.defined() && values.numel() == g * g, "{}: background returned {} for panel {}, expected {} "
                "values, one per grid point", where, values.defined() ? "shape " + shape_string(values) :
                std::string("an undefined tensor"), k, g * g);
      figure.shading(k, values.reshape({g, g}));
    }
    const bool first = k == 0;
    figure.scatter(k, shown_data, colours::data, 1.8, 0.45, first ? "data" : "");
    figure.scatter(k, detail::at_most(xs[k], 4000), colours::particles, 2.4, 0.85, first ? "particles" : "");
    if (vs[k].defined()) figure.arrows(k, xs[k], vs[k], colours::arrows, arrow_scale, first ? "velocity" : "");
    if (first && !defined_vs.empty()) figure.add_legend_entry(0, "velocity", Marker::arrow, colours::arrows);
    const std::string panel_title = panel_titles.empty() ? fmt::format("state {}", k) : panel_titles[k];
    figure.axes(k, panel_title, "x\u2081", first ? "x\u2082" : "");
  }
  figure.legend(0);
  if (titled) figure.title(title);
  figure.write_png(path);
}

/// Writes one panel to `path`: `data` [M, 2] in grey, `generated` [N, 2] in blue on top, on equal axes
/// covering both, with a legend.
/// Example: `gpm::plot::scatter_comparison("run/samples.png", model.sample(2000), data, "EDM, 5-mode ring");`
inline void scatter_comparison(const std::filesystem::path& path, const torch::Tensor& generated,
                               const torch::Tensor& data, const std::string& title = "") {
  const auto x = detail::points_2d(generated, "scatter_comparison", "generated");
  const auto y = detail::points_2d(data, "scatter_comparison", "data");
  const bool titled = !title.empty();
  Figure figure(600, titled ? 600 : 560, 1, 1, titled);
  figure.set_bounds(0, bounds_of({x, y}, 0.06), /*equal_aspect=*/true);
  figure.scatter(0, detail::at_most(y, 20000), colours::data, 2.0, 0.45, "data");
  figure.scatter(0, detail::at_most(x, 20000), colours::particles, 2.4, 0.8, "generated");
  figure.axes(0, fmt::format("{} generated, {} data points", x.size(0), y.size(0)), "x\u2081", "x\u2082");
  figure.legend(0);
  if (titled) figure.title(title);
  figure.write_png(path);
}

/// Writes training curves to `path`: one panel per series (up to 3 per row, 2 × 2 for four), x =
/// training step, y = value, titled by the series name; a series without finite points says
/// "no data". A series of more than 100 points is drawn as a faint raw curve under its centred moving
/// average (window: 2% of the points), with a legend saying so.
/// Example: `gpm::plot::loss_curves("run/losses.png", {{"loss", {{0, 1.2}, {100, 0.8}}}}, "training");`
inline void loss_curves(const std::filesystem::path& path,
                        const std::map<std::string, std::vector<std::pair<double, double>>>& series,
                        const std::string& title = "") {
  GPM_CHECK(!series.empty() && series.size() <= 24, "loss_curves: got {} series, expected 1 to 24", series.size());
  const int n = static_cast<int>(series.size());
  const int cols = n == 4 ? 2 : std::min(n, 3), rows = (n + cols - 1) / cols;
  const bool titled = !title.empty();
  Figure figure(cols * 440, rows * 320 + (titled ? static_cast<int>(Figure::title_band_height) : 0), rows, cols,
                titled);
  size_t panel = 0;
  for (const auto& [name, points] : series) {
    std::vector<double> xs, ys;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (const auto& [x, y] : points) {
      xs.push_back(x), ys.push_back(y);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
    const bool empty = !(xmin <= xmax);
    if (empty) xmin = 0.0, xmax = 1.0, ymin = 0.0, ymax = 1.0;
    detail::widen_degenerate(xmin, xmax);
    detail::widen_degenerate(ymin, ymax);
    const double mx = 0.02 * (xmax - xmin), my = 0.06 * (ymax - ymin);
    figure.set_bounds(panel, {xmin - mx, xmax + mx, ymin - my, ymax + my});
    const Colour colour = colours::palette(panel);
    if (xs.size() > 100) {
      const size_t window = std::max<size_t>(3, xs.size() / 50);
      figure.line(panel, xs, ys, colour, "raw", 1.0, 0.3);
      figure.line(panel, xs, detail::moving_average(ys, window), colour, fmt::format("mean of {} points", window), 2.0);
      figure.legend(panel);
    } else {
      figure.line(panel, xs, ys, colour, "", 2.0);
    }
    if (empty) figure.note(panel, "no data");
    figure.axes(panel, name, "step", "");
    ++panel;
  }
  if (titled) figure.title(title);
  figure.write_png(path);
}

}  // namespace gpm::plot
