// PNG figures on cairo: a grid of panels with nice ticks, grids, legends, scatter plots, arrows,
// heat-map shading and curves. Opt-in: link gpm::plot (cairo); gpm/gpm.hpp does not include it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <cairo.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::plot {

/// An RGB colour, each channel in [0, 1].
struct Colour {
  double r = 0.0, g = 0.0, b = 0.0;
};

/// The library's colour scheme: every figure uses these, so that data, particles and arrows look
/// the same everywhere.
namespace colours {
/// Data (target) points: a neutral grey that stays behind the particles.
inline constexpr Colour data{0.60, 0.60, 0.60};
/// Particles and generated points: a strong blue.
inline constexpr Colour particles{0.10, 0.40, 0.80};
/// Arrows (velocities): a dark navy, darker than the particles they start from.
inline constexpr Colour arrows{0.04, 0.14, 0.34};
/// Text, tick labels and titles.
inline constexpr Colour text{0.12, 0.12, 0.12};
/// Panel frames and tick marks.
inline constexpr Colour frame{0.30, 0.30, 0.30};
/// Grid lines.
inline constexpr Colour grid{0.86, 0.86, 0.86};

/// The i-th colour of a categorical palette (Tableau 10), for several curves in one panel.
/// Example: `figure.line(0, xs, ys, gpm::plot::colours::palette(2), "mmd");`
inline Colour palette(size_t i) {
  static constexpr std::array<Colour, 10> table{{{0.122, 0.467, 0.706}, {1.000, 0.498, 0.055},
                                                 {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
                                                 {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
                                                 {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
                                                 {0.737, 0.741, 0.133}, {0.090, 0.745, 0.812}}};
  return table[i % table.size()];
}
}  // namespace colours

/// How shading() maps values to colours.
enum class ColourMap {
  /// `diverging` when the values take both signs, `sequential` otherwise.
  automatic,
  /// White → light orange, from the smallest to the largest value.
  sequential,
  /// Light blue → white → light red, symmetric around zero (white at 0).
  diverging,
};

/// A rectangle in data coordinates: x in [xmin, xmax], y in [ymin, ymax].
struct Bounds {
  double xmin = 0.0, xmax = 1.0, ymin = 0.0, ymax = 1.0;
  double width() const { return xmax - xmin; }
  double height() const { return ymax - ymin; }
};

/// Where legend() places the legend box inside a panel; `automatic` picks the corner that hides the
/// fewest drawn points (preferring top right, then top left) and leaves the colour bar free.
enum class Corner { automatic, top_left, top_right, bottom_left, bottom_right };

/// The symbol drawn next to a legend label.
enum class Marker { point, line, arrow };

namespace detail {

/// Any real tensor as a contiguous float64 CPU tensor, detached from autograd.
inline torch::Tensor host_double(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
}

/// Checks that `p` holds 2-D points [N, 2] and returns it as float64 on the CPU.
inline torch::Tensor points_2d(const torch::Tensor& p, const char* where, const char* name) {
  GPM_CHECK(p.defined(), "{}: {} is an undefined tensor; pass 2-D points of shape [N, 2]", where, name);
  GPM_CHECK(p.dim() == 2 && p.size(1) == 2, "{}: {} has shape {}, expected 2-D points of shape [N, 2] "
            "(select or project two coordinates first)", where, name, shape_string(p));
  GPM_CHECK(!p.is_complex() && p.scalar_type() != torch::kBool, "{}: {} has dtype {}, expected real numbers",
            where, name, std::string(c10::toString(p.scalar_type())));
  return host_double(p);
}

/// Widens [lo, hi] when it is empty or a single value, so that it can be drawn.
inline void widen_degenerate(double& lo, double& hi) {
  const double scale = std::max({1.0, std::abs(lo), std::abs(hi)});
  if (hi - lo > 1e-12 * scale) return;
  const double pad = std::max(0.5, 0.1 * std::max(std::abs(lo), std::abs(hi)));
  lo -= pad;
  hi += pad;
}

/// Step of nice_ticks: the smallest m·10^e with m ∈ {1, 2, 5} that is >= `raw`, as (m, e).
inline std::pair<int, int> nice_step(double raw) {
  int e = static_cast<int>(std::floor(std::log10(raw)));
  for (int attempt = 0; attempt < 3; ++attempt) {
    const double unit = std::pow(10.0, e);
    for (const int m : {1, 2, 5}) {
      if (m * unit >= raw * (1.0 - 1e-9)) return {m, e};
    }
    ++e;  // log10 rounded down one decade too far
  }
  return {1, e};
}

/// k·m·10^e, correctly rounded (so that 3·0.2 gives exactly the double nearest to 0.6).
inline double tick_value(int64_t k, int m, int e) {
  const double km = static_cast<double>(k) * m;
  return e >= 0 ? km * std::pow(10.0, e) : km / std::pow(10.0, -e);
}

struct LegendEntry {
  std::string label;
  Marker marker;
  Colour colour;
  double alpha;
};

struct PendingColourBar {
  Colour low, mid, high;
  ColourMap map;
  double vmin, vmax;
  std::string label;
};

/// Colour of `map` (sequential or diverging) at t ∈ [0, 1].
inline Colour map_colour(ColourMap map, double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto mix = [](Colour a, Colour b, double s) {
    return Colour{a.r + (b.r - a.r) * s, a.g + (b.g - a.g) * s, a.b + (b.b - a.b) * s};
  };
  if (map == ColourMap::diverging) {
    constexpr Colour blue{0.50, 0.68, 0.88}, white{0.98, 0.98, 0.98}, red{0.93, 0.55, 0.50};
    return t < 0.5 ? mix(blue, white, t / 0.5) : mix(white, red, (t - 0.5) / 0.5);
  }
  constexpr Colour white{0.99, 0.99, 0.98}, light{0.99, 0.85, 0.66}, orange{0.96, 0.66, 0.40};
  return t < 0.5 ? mix(white, light, t / 0.5) : mix(light, orange, (t - 0.5) / 0.5);
}

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

}  // namespace detail

/// "Nice" tick values for an axis over [lo, hi]: the multiples inside [lo, hi] of the smallest step
/// m·10^e (m ∈ {1, 2, 5}) that gives at most max_ticks + 1 values; with max_ticks >= 2 there is at
/// least one. Values are correctly rounded decimals: (0, 1, 5) gives exactly {0, 0.2, 0.4, 0.6, 0.8, 1}.
/// Example: `auto ticks = gpm::plot::nice_ticks(0.0, 1.0, 5);  // 0, 0.2, ..., 1`
inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6) {
  GPM_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "nice_ticks: need finite lo < hi, got [{}, {}]",
            lo, hi);
  GPM_CHECK(max_ticks >= 1 && max_ticks <= 1000, "nice_ticks: max_ticks must be in [1, 1000], got {}", max_ticks);
  // Every step below (hi − lo) / (max_ticks + 2) gives more than max_ticks + 1 values: start there.
  auto [m, e] = detail::nice_step((hi - lo) / (max_ticks + 2));
  int64_t first = 0, last = 0;
  for (;;) {
    const double step = detail::tick_value(1, m, e);
    first = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
    last = static_cast<int64_t>(std::floor(hi / step + 1e-9));
    if (last - first + 1 <= max_ticks + 1) break;
    m = m == 1 ? 2 : m == 2 ? 5 : 1;  // the next step: 1 → 2 → 5 → 10
    if (m == 1) ++e;
  }
  std::vector<double> ticks;
  for (int64_t k = first; k <= last; ++k) ticks.push_back(detail::tick_value(k, m, e));
  return ticks;
}

/// The label of tick `value` on an axis whose ticks are `step` apart: as many decimals as the step
/// needs ("0.2", "15", "0.005"), and %g notation ("2e+06", "5e-05") for very large or small values.
/// Example: `gpm::plot::tick_label(0.6, 0.2) == "0.6"`
inline std::string tick_label(double value, double step) {
  if (std::abs(value) < 1e-9 * std::abs(step)) value = 0.0;  // no "-0"
  const int e = static_cast<int>(std::floor(std::log10(std::abs(step)) + 1e-9));
  if (std::abs(value) >= 1e6 || std::abs(step) < 1e-3) {
    const int magnitude = value == 0.0 ? e : static_cast<int>(std::floor(std::log10(std::abs(value))));
    const int digits = std::max(1, magnitude - e + 1);
    return fmt::format("{:.{}g}", value, digits);
  }
  return fmt::format("{:.{}f}", value, std::max(0, -e));
}

/// The smallest Bounds containing every finite point of every set ([N, 2] tensors, any real dtype and
/// device), widened by `margin_fraction` of its width and height on each side. Empty or undefined sets
/// are skipped; without any finite point the result is [-1, 1]².
/// Example: `auto bounds = gpm::plot::bounds_of({data, samples});`
inline Bounds bounds_of(std::vector<torch::Tensor> point_sets, double margin_fraction = 0.05) {
  GPM_CHECK(margin_fraction >= 0 && std::isfinite(margin_fraction),
            "bounds_of: margin_fraction must be a finite number >= 0, got {}", margin_fraction);
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (size_t s = 0; s < point_sets.size(); ++s) {
    if (!point_sets[s].defined() || point_sets[s].numel() == 0) continue;
    const auto name = fmt::format("point_sets[{}]", s);
    const auto p = detail::points_2d(point_sets[s], "bounds_of", name.c_str());
    const double* v = p.data_ptr<double>();
    for (int64_t i = 0; i < p.size(0); ++i) {
      const double x = v[2 * i], y = v[2 * i + 1];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  }
  if (!(xmin <= xmax)) return {-1.0, 1.0, -1.0, 1.0};
  detail::widen_degenerate(xmin, xmax);
  detail::widen_degenerate(ymin, ymax);
  const double mx = margin_fraction * (xmax - xmin), my = margin_fraction * (ymax - ymin);
  return {xmin - mx, xmax + mx, ymin - my, ymax + my};
}

/// The centres of a g × g grid of cells covering `bounds`, as a float64 CPU tensor [g·g, 2] in
/// row-major order: point i·g + j has x in column j (left to right) and y in row i (bottom to top).
/// `values.reshape({g, g})` of a function evaluated on these points is what shading() expects.
/// Example: `auto points = gpm::plot::grid_points(figure.bounds(0), 80);`
inline torch::Tensor grid_points(const Bounds& bounds, int64_t g) {
  GPM_CHECK(g >= 1, "grid_points: g must be >= 1, got {}", g);
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  const auto centres = (torch::arange(g, options) + 0.5) / static_cast<double>(g);
  const auto xs = bounds.xmin + centres * bounds.width();
  const auto ys = bounds.ymin + centres * bounds.height();
  const auto mesh = torch::meshgrid({ys, xs}, "ij");
  return torch::stack({mesh[1].reshape({-1}), mesh[0].reshape({-1})}, 1).contiguous();
}

/// A PNG figure: a width × height image split into rows × cols panels (numbered row by row from 0),
/// below a band at the top for the figure title (unless constructed without one). Each panel maps its
/// data Bounds onto its plot rectangle. Draw in this order: set_bounds, shading, scatter / line /
/// arrows (the light grid is laid down before the first of them), then axes (frame, ticks, labels,
/// colour bar) and legend.
/// Tensors may be float or double on any device. Every drawing is antialiased.
/// Example:
///   gpm::plot::Figure figure(640, 560);
///   figure.set_bounds(0, gpm::plot::bounds_of({data, x}), /*equal_aspect=*/true);
///   figure.scatter(0, data, gpm::plot::colours::data, 2.0, 0.5, "data");
///   figure.scatter(0, x, gpm::plot::colours::particles, 2.5, 0.9, "particles");
///   figure.axes(0, "samples", "x1", "x2");
///   figure.legend(0);
///   figure.write_png("samples.png");
class Figure {
 public:
  /// Pixels reserved at the top of the figure for title(), when the figure has a title band.
  static constexpr double title_band_height = 40.0;
  /// Pixels around each panel's plot rectangle for its title, tick labels and axis labels.
  static constexpr double margin_left = 60.0, margin_right = 16.0, margin_top = 30.0, margin_bottom = 50.0;

  /// A white width × height figure of rows × cols panels, below a title band of title_band_height
  /// pixels if `title_band`.
  /// Example: `gpm::plot::Figure figure(1200, 420, 1, 3);`
  Figure(int width, int height, int rows = 1, int cols = 1, bool title_band = true)
      : width_(width), height_(height), rows_(rows), cols_(cols), band_(title_band ? title_band_height : 0.0) {
    GPM_CHECK(rows >= 1 && cols >= 1 && rows <= 64 && cols <= 64, "Figure: rows and cols must be in [1, 64], got "
              "{} x {}", rows, cols);
    GPM_CHECK(width >= cols * static_cast<int>(margin_left + margin_right + 40) &&
                  height >= static_cast<int>(band_) + rows * static_cast<int>(margin_top + margin_bottom + 40) &&
                  width <= 16384 && height <= 16384,
              "Figure: a {} x {} image is too small or too large for {} x {} panels (each panel needs at least "
              "{} x {} pixels, the title band {} rows, at most 16384 per side)",
              width, height, rows, cols, static_cast<int>(margin_left + margin_right + 40),
              static_cast<int>(margin_top + margin_bottom + 40), static_cast<int>(band_));
    surface_.reset(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height));
    if (cairo_surface_status(surface_.get()) != CAIRO_STATUS_SUCCESS)
      throw RuntimeError(fmt::format("Figure: cannot create a {} x {} image: {}", width, height,
                                     cairo_status_to_string(cairo_surface_status(surface_.get()))));
    cr_.reset(cairo_create(surface_.get()));
    cairo_set_antialias(cr_.get(), CAIRO_ANTIALIAS_BEST);
    cairo_font_options_t* font_options = cairo_font_options_create();
    cairo_font_options_set_antialias(font_options, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(font_options, CAIRO_HINT_STYLE_SLIGHT);
    cairo_font_options_set_hint_metrics(font_options, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr_.get(), font_options);
    cairo_font_options_destroy(font_options);
    cairo_set_source_rgb(cr_.get(), 1.0, 1.0, 1.0);
    cairo_paint(cr_.get());

    const double cell_w = static_cast<double>(width) / cols;
    const double cell_h = (static_cast<double>(height) - band_) / rows;
    panels_.resize(static_cast<size_t>(rows * cols));
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        auto& p = panels_[static_cast<size_t>(r * cols + c)];
        p.x0 = std::round(c * cell_w + margin_left);
        p.x1 = std::round((c + 1) * cell_w - margin_right);
        p.y0 = std::round(band_ + r * cell_h + margin_top);
        p.y1 = std::round(band_ + (r + 1) * cell_h - margin_bottom);
      }
    }
  }

  Figure(Figure&&) noexcept = default;
  Figure& operator=(Figure&&) noexcept = default;

  /// Image width and height in pixels, and the panel grid.
  /// Example: `for (size_t k = 0; k < figure.panels(); ++k) figure.set_bounds(k, bounds);`
  int width() const { return width_; }
  int height() const { return height_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  size_t panels() const { return panels_.size(); }

  /// The cairo context, for custom drawing in pixel coordinates (see to_pixel). Leave its state as
  /// found (cairo_save / cairo_restore).
  /// Example: `cairo_t* cr = figure.context();`
  cairo_t* context() { return cr_.get(); }

  /// Sets the data rectangle shown by `panel`. With `equal_aspect`, the shorter side is widened
  /// symmetrically so that one unit is as long in x as in y (circles stay round).
  /// Example: `figure.set_bounds(0, gpm::plot::bounds_of({data}), true);`
  void set_bounds(size_t panel, Bounds bounds, bool equal_aspect = false) {
    auto& p = at(panel, "set_bounds");
    GPM_CHECK(std::isfinite(bounds.xmin) && std::isfinite(bounds.xmax) && std::isfinite(bounds.ymin) &&
                  std::isfinite(bounds.ymax) && bounds.xmin < bounds.xmax && bounds.ymin < bounds.ymax,
              "set_bounds: bounds must be finite with xmin < xmax and ymin < ymax, got x [{}, {}], y [{}, {}]",
              bounds.xmin, bounds.xmax, bounds.ymin, bounds.ymax);
    if (equal_aspect) {
      const double per_pixel = std::max(bounds.width() / (p.x1 - p.x0), bounds.height() / (p.y1 - p.y0));
      const double cx = 0.5 * (bounds.xmin + bounds.xmax), cy = 0.5 * (bounds.ymin + bounds.ymax);
      const double hw = 0.5 * per_pixel * (p.x1 - p.x0), hh = 0.5 * per_pixel * (p.y1 - p.y0);
      bounds = {cx - hw, cx + hw, cy - hh, cy + hh};
    }
    p.bounds = bounds;
  }

  /// The data rectangle of `panel` (after any equal-aspect widening).
  /// Example: `auto points = gpm::plot::grid_points(figure.bounds(0), 80);`
  const Bounds& bounds(size_t panel) const {
    const auto& p = at(panel, "bounds");
    GPM_CHECK(p.bounds.has_value(), "bounds: panel {} has no bounds yet; call set_bounds({}, ...) first", panel, panel);
    return *p.bounds;
  }

  /// Pixel coordinates of the data point (x, y) in `panel`.
  /// Example: `auto [px, py] = figure.to_pixel(0, 1.0, 2.0);`
  std::pair<double, double> to_pixel(size_t panel, double x, double y) const {
    const auto& p = at(panel, "to_pixel");
    const auto& b = bounds(panel);
    return {p.x0 + (x - b.xmin) / b.width() * (p.x1 - p.x0), p.y1 - (y - b.ymin) / b.height() * (p.y1 - p.y0)};
  }

  /// Draws points [N, 2] as filled discs of `radius` pixels with opacity `alpha`; non-finite points are
  /// skipped. A non-empty `label` adds a legend entry.
  /// Example: `figure.scatter(0, x, gpm::plot::colours::particles, 2.5, 0.9, "particles");`
  void scatter(size_t panel, const torch::Tensor& points, Colour colour, double radius = 2.5, double alpha = 0.9,
               const std::string& label = "") {
    const auto pts = detail::points_2d(points, "scatter", "points");
    GPM_CHECK(radius > 0 && std::isfinite(radius), "scatter: radius must be a finite number > 0, got {}", radius);
    GPM_CHECK(alpha > 0 && alpha <= 1, "scatter: alpha must be in (0, 1], got {}", alpha);
    begin_data(panel, "scatter");
    cairo_t* cr = cr_.get();
    cairo_set_source_rgba(cr, colour.r, colour.g, colour.b, alpha);
    const double* v = pts.data_ptr<double>();
    for (int64_t i = 0; i < pts.size(0); ++i) {
      if (!std::isfinite(v[2 * i]) || !std::isfinite(v[2 * i + 1])) continue;
      const auto [px, py] = to_pixel(panel, v[2 * i], v[2 * i + 1]);
      panels_[panel].marks.emplace_back(static_cast<float>(px), static_cast<float>(py));
      cairo_new_sub_path(cr);
      cairo_arc(cr, px, py, radius, 0.0, 2.0 * std::numbers::pi);
      cairo_fill(cr);
    }
    cairo_restore(cr);
    if (!label.empty()) add_legend_entry(panel, label, Marker::point, colour, alpha);
  }

  /// Draws an arrow from each origin [N, 2] along scale × vector [N, 2] (data units), with a filled
  /// head. At most `max_arrows` are drawn (an evenly strided subset), arrows longer than
  /// `max_length_fraction` of the panel's width are shortened to that length (direction kept), and
  /// arrows shorter than half a pixel are skipped. A non-empty `label` adds a legend entry.
  /// Example: `figure.arrows(0, x, 0.1 * v, gpm::plot::colours::arrows, 1.0, "velocity");`
  void arrows(size_t panel, const torch::Tensor& origins, const torch::Tensor& vectors, Colour colour = colours::arrows,
              double scale = 1.0, const std::string& label = "", int64_t max_arrows = 300,
              double max_length_fraction = 0.15) {
    const auto o = detail::points_2d(origins, "arrows", "origins");
    const auto d = detail::points_2d(vectors, "arrows", "vectors");
    GPM_CHECK(o.size(0) == d.size(0), "arrows: origins has shape {} but vectors has shape {}; pass one vector per "
              "origin", shape_string(origins), shape_string(vectors));
    GPM_CHECK(std::isfinite(scale), "arrows: scale must be finite, got {}", scale);
    GPM_CHECK(max_arrows >= 1, "arrows: max_arrows must be >= 1, got {}", max_arrows);
    GPM_CHECK(max_length_fraction > 0, "arrows: max_length_fraction must be > 0, got {}", max_length_fraction);
    begin_data(panel, "arrows");
    const auto& p = panels_[panel];
    const double max_length = max_length_fraction * (p.x1 - p.x0);
    const int64_t n = o.size(0);
    const int64_t stride = std::max<int64_t>(1, (n + max_arrows - 1) / max_arrows);
    const double* ov = o.data_ptr<double>();
    const double* dv = d.data_ptr<double>();
    cairo_t* cr = cr_.get();
    cairo_set_source_rgba(cr, colour.r, colour.g, colour.b, 0.85);
    cairo_set_line_width(cr, 1.0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (int64_t i = 0; i < n; i += stride) {
      const double x = ov[2 * i], y = ov[2 * i + 1], dx = scale * dv[2 * i], dy = scale * dv[2 * i + 1];
      if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(dx) || !std::isfinite(dy)) continue;
      const auto [x0, y0] = to_pixel(panel, x, y);
      const auto [x1, y1] = to_pixel(panel, x + dx, y + dy);
      draw_arrow(x0, y0, x1 - x0, y1 - y0, max_length);
      panels_[panel].marks.emplace_back(static_cast<float>(x0), static_cast<float>(y0));
      panels_[panel].marks.emplace_back(static_cast<float>(x1), static_cast<float>(y1));
    }
    cairo_restore(cr);
    if (!label.empty()) add_legend_entry(panel, label, Marker::arrow, colour, 0.85);
  }

  /// Fills the panel's plot rectangle with a heat map of values [G, H] (G rows from ymin to ymax, H
  /// columns from xmin to xmax, as grid_points lays them out), smoothly interpolated; NaN cells stay
  /// white. axes() adds a small colour bar with the value range in the lower right corner, titled
  /// `label`. Call it before scatter / arrows / line, which draw on top.
  /// Example: `figure.shading(0, distance.reshape({80, 80}), gpm::plot::ColourMap::sequential, "distance");`
  void shading(size_t panel, const torch::Tensor& values, ColourMap map = ColourMap::automatic,
               const std::string& label = "") {
    GPM_CHECK(values.defined(), "shading: values is an undefined tensor; pass a grid of values [G, H]");
    GPM_CHECK(values.dim() == 2 && values.size(0) >= 1 && values.size(1) >= 1 && values.size(0) <= 4096 &&
                  values.size(1) <= 4096,
              "shading: values has shape {}, expected a grid [G, H] with 1 <= G, H <= 4096 (reshape a flat "
              "[G*H] tensor with .reshape({{G, H}}))", shape_string(values));
    GPM_CHECK(!values.is_complex() && values.scalar_type() != torch::kBool, "shading: values has dtype {}, expected "
              "real numbers", std::string(c10::toString(values.scalar_type())));
    auto& p = at(panel, "shading");
    require_bounds(panel, "shading");
    const auto v = detail::host_double(values);
    const int rows = static_cast<int>(v.size(0)), cols = static_cast<int>(v.size(1));
    const double* data = v.data_ptr<double>();
    double vmin = INFINITY, vmax = -INFINITY;
    for (int64_t i = 0; i < v.numel(); ++i) {
      if (std::isfinite(data[i])) vmin = std::min(vmin, data[i]), vmax = std::max(vmax, data[i]);
    }
    if (!(vmin <= vmax)) vmin = 0.0, vmax = 1.0;  // nothing finite: an all-white map
    if (map == ColourMap::automatic) map = vmin < 0 && vmax > 0 ? ColourMap::diverging : ColourMap::sequential;
    double lo = vmin, hi = vmax;
    if (map == ColourMap::diverging) hi = std::max(std::abs(vmin), std::abs(vmax)), lo = -hi;
    if (hi <= lo) hi = lo + 1.0;

    std::unique_ptr<cairo_surface_t, detail::SurfaceDeleter> image(
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, cols, rows));
    cairo_surface_flush(image.get());
    unsigned char* pixels = cairo_image_surface_get_data(image.get());
    const int stride = cairo_image_surface_get_stride(image.get());
    for (int r = 0; r < rows; ++r) {
      auto* row = reinterpret_cast<uint32_t*>(pixels + static_cast<ptrdiff_t>(r) * stride);
      for (int c = 0; c < cols; ++c) {
        const double value = data[static_cast<ptrdiff_t>(rows - 1 - r) * cols + c];  // image rows run top-down
        const Colour col = std::isfinite(value) ? detail::map_colour(map, (value - lo) / (hi - lo)) : Colour{1, 1, 1};
        auto channel = [](double x) { return static_cast<uint32_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255.0)); };
        row[c] = 0xFF000000u | (channel(col.r) << 16) | (channel(col.g) << 8) | channel(col.b);
      }
    }
    cairo_surface_mark_dirty(image.get());

    cairo_t* cr = cr_.get();
    cairo_save(cr);
    cairo_rectangle(cr, p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
    cairo_clip(cr);
    cairo_translate(cr, p.x0, p.y0);
    cairo_scale(cr, (p.x1 - p.x0) / cols, (p.y1 - p.y0) / rows);
    cairo_set_source_surface(cr, image.get(), 0.0, 0.0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
    p.colour_bar = detail::PendingColourBar{detail::map_colour(map, 0.0), detail::map_colour(map, 0.5),
                                            detail::map_colour(map, 1.0), map, vmin, vmax, label};
  }

  /// Draws a polyline through (xs[i], ys[i]), broken at non-finite values. A non-empty `label` adds a
  /// legend entry.
  /// Example: `figure.line(0, steps, losses, gpm::plot::colours::palette(0), "loss");`
  void line(size_t panel, const std::vector<double>& xs, const std::vector<double>& ys, Colour colour,
            const std::string& label = "", double line_width = 1.8, double alpha = 1.0) {
    GPM_CHECK(xs.size() == ys.size(), "line: xs has {} values but ys has {}; pass one y per x", xs.size(), ys.size());
    GPM_CHECK(line_width > 0 && std::isfinite(line_width), "line: line_width must be > 0, got {}", line_width);
    GPM_CHECK(alpha > 0 && alpha <= 1, "line: alpha must be in (0, 1], got {}", alpha);
    begin_data(panel, "line");
    cairo_t* cr = cr_.get();
    cairo_set_source_rgba(cr, colour.r, colour.g, colour.b, alpha);
    cairo_set_line_width(cr, line_width);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    bool drawing = false;
    for (size_t i = 0; i < xs.size(); ++i) {
      if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) {
        drawing = false;
        continue;
      }
      const auto [px, py] = to_pixel(panel, xs[i], ys[i]);
      panels_[panel].marks.emplace_back(static_cast<float>(px), static_cast<float>(py));
      if (drawing) {
        cairo_line_to(cr, px, py);
      } else {
        cairo_move_to(cr, px, py);
        drawing = true;
      }
    }
    cairo_stroke(cr);
    cairo_restore(cr);
    if (!label.empty()) add_legend_entry(panel, label, Marker::line, colour, alpha);
  }

  /// Draws the panel's frame, ticks at nice_ticks values with their labels, the light grid (if no
  /// data was drawn yet), the axis labels, the panel title above it, and the colour bar of shading().
  /// Example: `figure.axes(0, "t = 0.5", "x1", "x2");`
  void axes(size_t panel, const std::string& title = "", const std::string& xlabel = "",
            const std::string& ylabel = "") {
    auto& p = at(panel, "axes");
    require_bounds(panel, "axes");
    if (!p.grid_drawn) draw_grid(panel);
    const auto& b = *p.bounds;
    cairo_t* cr = cr_.get();
    // Frame, on pixel centres for crisp 1-pixel lines.
    set_colour(colours::frame);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, p.x0 - 0.5, p.y0 - 0.5, p.x1 - p.x0 + 1.0, p.y1 - p.y0 + 1.0);
    cairo_stroke(cr);

    constexpr double tick = 4.0, tick_font = 11.0, label_font = 12.5;
    const auto xt = nice_ticks(b.xmin, b.xmax, x_tick_count(p));
    const auto yt = nice_ticks(b.ymin, b.ymax, y_tick_count(p));
    const double xstep = xt.size() > 1 ? xt[1] - xt[0] : b.width();
    const double ystep = yt.size() > 1 ? yt[1] - yt[0] : b.height();
    for (const double x : xt) {
      const double px = std::round(to_pixel(panel, x, b.ymin).first) + 0.5;
      set_colour(colours::frame);
      cairo_move_to(cr, px, p.y1 + 0.5);
      cairo_line_to(cr, px, p.y1 + 0.5 + tick);
      cairo_stroke(cr);
      text(tick_label(x, xstep), px, p.y1 + tick + 3.0, tick_font, 0.5, 0.0);
    }
    double widest = 0.0;
    for (const double y : yt) {
      const double py = std::round(to_pixel(panel, b.xmin, y).second) + 0.5;
      set_colour(colours::frame);
      cairo_move_to(cr, p.x0 - 0.5, py);
      cairo_line_to(cr, p.x0 - 0.5 - tick, py);
      cairo_stroke(cr);
      widest = std::max(widest, text(tick_label(y, ystep), p.x0 - tick - 4.0, py, tick_font, 1.0, 0.5));
    }
    if (!xlabel.empty()) text(xlabel, 0.5 * (p.x0 + p.x1), p.y1 + tick + 20.0, label_font, 0.5, 0.0);
    if (!ylabel.empty()) {
      cairo_save(cr);
      cairo_translate(cr, std::max(4.0, p.x0 - tick - 10.0 - widest), 0.5 * (p.y0 + p.y1));
      cairo_rotate(cr, -std::numbers::pi / 2.0);
      text(ylabel, 0.0, 0.0, label_font, 0.5, 1.0);
      cairo_restore(cr);
    }
    if (!title.empty()) text(title, 0.5 * (p.x0 + p.x1), p.y0 - 9.0, 13.5, 0.5, 1.0, true);
    if (p.colour_bar) draw_colour_bar(p);
  }

  /// Adds a legend entry to `panel` without drawing anything (scatter / line / arrows add their own
  /// when given a label).
  /// Example: `figure.add_legend_entry(0, "velocity", gpm::plot::Marker::arrow, gpm::plot::colours::arrows);`
  void add_legend_entry(size_t panel, const std::string& label, Marker marker, Colour colour, double alpha = 1.0) {
    auto& entries = at(panel, "add_legend_entry").legend;
    for (const auto& e : entries)
      if (e.label == label) return;
    entries.push_back({label, marker, colour, std::max(alpha, 0.7)});
  }

  /// Draws the legend of `panel` (its labelled series, in the order they were drawn) in a white box at
  /// `corner`. Does nothing when the panel has no labelled series.
  /// Example: `figure.legend(0);  // in the corner that hides the fewest points`
  void legend(size_t panel, Corner corner = Corner::automatic) {
    auto& p = at(panel, "legend");
    if (p.legend.empty()) return;
    cairo_t* cr = cr_.get();
    constexpr double font = 11.5, row = 17.0, pad = 7.0, symbol = 22.0, inset = 8.0;
    double widest = 0.0;
    for (const auto& e : p.legend) widest = std::max(widest, text_width(e.label, font));
    const double w = pad + symbol + 6.0 + widest + pad, h = 2 * pad + row * static_cast<double>(p.legend.size()) - 3.0;
    auto box = [&](Corner c) {
      const bool left = c == Corner::top_left || c == Corner::bottom_left;
      const bool top = c == Corner::top_left || c == Corner::top_right;
      return std::pair{std::round(left ? p.x0 + inset : p.x1 - inset - w) + 0.5,
                       std::round(top ? p.y0 + inset : p.y1 - inset - h) + 0.5};
    };
    if (corner == Corner::automatic) {
      size_t fewest = std::numeric_limits<size_t>::max();
      for (const Corner c : {Corner::top_right, Corner::top_left, Corner::bottom_right, Corner::bottom_left}) {
        if (c == Corner::bottom_right && p.colour_bar) continue;
        const auto [cx, cy] = box(c);
        const size_t hidden = static_cast<size_t>(std::count_if(p.marks.begin(), p.marks.end(), [&](const auto& m) {
          return m.first >= cx - 3 && m.first <= cx + w + 3 && m.second >= cy - 3 && m.second <= cy + h + 3;
        }));
        if (hidden < fewest) fewest = hidden, corner = c;
      }
    }
    const auto [bx, by] = box(corner);
    rounded_rectangle(bx, by, w, h, 4.0);
    cairo_set_source_rgba(cr, 1.0, 1.0, 1.0, 0.88);
    cairo_fill_preserve(cr);
    cairo_set_source_rgba(cr, 0.70, 0.70, 0.70, 1.0);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    for (size_t i = 0; i < p.legend.size(); ++i) {
      const auto& e = p.legend[i];
      const double cy = by + pad + row * (static_cast<double>(i) + 0.5) - 1.5;
      const double sx = bx + pad;
      cairo_set_source_rgba(cr, e.colour.r, e.colour.g, e.colour.b, e.alpha);
      switch (e.marker) {
        case Marker::point:
          cairo_new_sub_path(cr);
          cairo_arc(cr, sx + 0.5 * symbol, cy, 4.0, 0.0, 2.0 * std::numbers::pi);
          cairo_fill(cr);
          break;
        case Marker::line:
          cairo_set_line_width(cr, 2.5);
          cairo_move_to(cr, sx + 1.0, cy);
          cairo_line_to(cr, sx + symbol - 1.0, cy);
          cairo_stroke(cr);
          break;
        case Marker::arrow:
          cairo_set_line_width(cr, 1.3);
          draw_arrow(sx + 1.0, cy, symbol - 2.0, 0.0, symbol);
          break;
      }
      text(e.label, sx + symbol + 6.0, cy, font, 0.0, 0.5);
    }
  }

  /// Writes `text` in grey in the middle of the plot rectangle of `panel`, e.g. "no data".
  /// Example: `figure.note(2, "no data");`
  void note(size_t panel, const std::string& text_) {
    const auto& p = at(panel, "note");
    text(text_, 0.5 * (p.x0 + p.x1), 0.5 * (p.y0 + p.y1), 13.0, 0.5, 0.5, false, Colour{0.45, 0.45, 0.45});
  }

  /// Draws `text` as the figure title, centred in the band at the top.
  /// Example: `figure.title("Score flow on the 5-mode ring");`
  void title(const std::string& text_) {
    GPM_CHECK(band_ > 0, "title: this figure has no title band; construct it with title_band = true");
    text(text_, 0.5 * width_, 0.5 * band_ + 2.0, 17.0, 0.5, 0.5, true);
  }

  /// Writes the figure as a PNG to `path`: first to path + ".tmp", then renamed over `path`, so that
  /// a failure never leaves a half-written file. Throws gpm::RuntimeError naming the path on failure.
  /// Example: `figure.write_png(run_dir / "samples.png");`
  void write_png(const std::filesystem::path& path) const {
    cairo_surface_flush(surface_.get());
    const auto tmp = std::filesystem::path(path.string() + ".tmp");
    const cairo_status_t status = cairo_surface_write_to_png(surface_.get(), tmp.c_str());
    std::error_code ec;
    if (status != CAIRO_STATUS_SUCCESS) {
      std::filesystem::remove(tmp, ec);
      throw RuntimeError(fmt::format("write_png: cannot write '{}' (writing '{}' failed: {}); check that the "
                                     "directory exists and is writable", path.string(), tmp.string(),
                                     cairo_status_to_string(status)));
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw RuntimeError(fmt::format("write_png: cannot rename '{}' to '{}': {}", tmp.string(), path.string(),
                                     ec.message()));
    }
  }

 private:
  struct Panel {
    double x0 = 0, x1 = 0, y0 = 0, y1 = 0;  // plot rectangle in pixels
    std::optional<Bounds> bounds;
    bool grid_drawn = false;
    std::vector<detail::LegendEntry> legend;
    std::optional<detail::PendingColourBar> colour_bar;
    std::vector<std::pair<float, float>> marks;  // pixel positions of drawn points, for Corner::automatic
  };

  Panel& at(size_t panel, const char* where) {
    GPM_CHECK(panel < panels_.size(), "{}: panel {} does not exist; this figure has {} panels ({} x {}), numbered "
              "from 0", where, panel, panels_.size(), rows_, cols_);
    return panels_[panel];
  }
  const Panel& at(size_t panel, const char* where) const { return const_cast<Figure*>(this)->at(panel, where); }

  void require_bounds(size_t panel, const char* where) const {
    GPM_CHECK(at(panel, where).bounds.has_value(), "{}: panel {} has no bounds yet; call set_bounds({}, ...) first "
              "(e.g. with gpm::plot::bounds_of)", where, panel, panel);
  }

  int x_tick_count(const Panel& p) const { return std::clamp(static_cast<int>((p.x1 - p.x0) / 55.0), 2, 10); }
  int y_tick_count(const Panel& p) const { return std::clamp(static_cast<int>((p.y1 - p.y0) / 45.0), 2, 10); }

  /// Lays down the grid when needed, then saves the context and clips it to the plot rectangle
  /// (the caller restores).
  void begin_data(size_t panel, const char* where) {
    auto& p = at(panel, where);
    require_bounds(panel, where);
    if (!p.grid_drawn) draw_grid(panel);
    cairo_save(cr_.get());
    cairo_rectangle(cr_.get(), p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
    cairo_clip(cr_.get());
  }

  void draw_grid(size_t panel) {
    auto& p = panels_[panel];
    const auto& b = *p.bounds;
    cairo_t* cr = cr_.get();
    cairo_save(cr);
    cairo_set_source_rgba(cr, colours::grid.r, colours::grid.g, colours::grid.b, 0.8);
    cairo_set_line_width(cr, 1.0);
    for (const double x : nice_ticks(b.xmin, b.xmax, x_tick_count(p))) {
      const double px = std::round(to_pixel(panel, x, b.ymin).first) + 0.5;
      cairo_move_to(cr, px, p.y0);
      cairo_line_to(cr, px, p.y1);
    }
    for (const double y : nice_ticks(b.ymin, b.ymax, y_tick_count(p))) {
      const double py = std::round(to_pixel(panel, b.xmin, y).second) + 0.5;
      cairo_move_to(cr, p.x0, py);
      cairo_line_to(cr, p.x1, py);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
    p.grid_drawn = true;
  }

  /// An arrow from (x, y) along (dx, dy) pixels, shortened to `max_length`, with a filled head, in the
  /// current source colour and line width.
  void draw_arrow(double x, double y, double dx, double dy, double max_length) {
    double length = std::hypot(dx, dy);
    if (length < 0.5) return;
    if (length > max_length) {
      dx *= max_length / length, dy *= max_length / length;
      length = max_length;
    }
    cairo_t* cr = cr_.get();
    const double ux = dx / length, uy = dy / length;
    const double head = std::clamp(0.35 * length, 2.5, 6.0), half = 0.45 * head;
    const double bx = x + dx - ux * head, by = y + dy - uy * head;  // base of the head
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, bx, by);
    cairo_stroke(cr);
    cairo_move_to(cr, x + dx, y + dy);
    cairo_line_to(cr, bx - uy * half, by + ux * half);
    cairo_line_to(cr, bx + uy * half, by - ux * half);
    cairo_close_path(cr);
    cairo_fill(cr);
  }

  void draw_colour_bar(const Panel& p) {
    const auto& bar = *p.colour_bar;
    cairo_t* cr = cr_.get();
    constexpr double bar_w = 72.0, bar_h = 8.0, font = 10.0, pad = 6.0, inset = 8.0;
    const auto lo = fmt::format("{:.3g}", bar.vmin), hi = fmt::format("{:.3g}", bar.vmax);
    const double label_h = bar.label.empty() ? 0.0 : 14.0;
    const double w = std::max({bar_w, text_width(bar.label, font)}) + 2 * pad;
    const double h = pad + label_h + bar_h + 4.0 + 11.0 + pad;
    const double bx = std::round(p.x1 - inset - w) + 0.5, by = std::round(p.y1 - inset - h) + 0.5;
    rounded_rectangle(bx, by, w, h, 4.0);
    cairo_set_source_rgba(cr, 1.0, 1.0, 1.0, 0.88);
    cairo_fill_preserve(cr);
    cairo_set_source_rgba(cr, 0.70, 0.70, 0.70, 1.0);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    const double x0 = bx + 0.5 * (w - bar_w), y0 = by + pad + label_h;
    if (!bar.label.empty()) text(bar.label, bx + 0.5 * w, by + pad, font, 0.5, 0.0);
    // The bar spans [vmin, vmax] of the values; for a diverging map that is part of [-m, m].
    const double m = std::max(std::abs(bar.vmin), std::abs(bar.vmax));
    auto position = [&](double v) {
      if (bar.map != ColourMap::diverging) return bar.vmax > bar.vmin ? (v - bar.vmin) / (bar.vmax - bar.vmin) : 0.5;
      return m > 0 ? 0.5 + 0.5 * v / m : 0.5;
    };
    cairo_pattern_t* gradient = cairo_pattern_create_linear(x0, 0.0, x0 + bar_w, 0.0);
    constexpr int stops = 16;
    for (int i = 0; i <= stops; ++i) {
      const double s = static_cast<double>(i) / stops;
      const Colour c = detail::map_colour(bar.map, position(bar.vmin + s * (bar.vmax - bar.vmin)));
      cairo_pattern_add_color_stop_rgb(gradient, s, c.r, c.g, c.b);
    }
    cairo_rectangle(cr, x0, y0, bar_w, bar_h);
    cairo_set_source(cr, gradient);
    cairo_fill_preserve(cr);
    cairo_pattern_destroy(gradient);
    cairo_set_source_rgba(cr, 0.55, 0.55, 0.55, 1.0);
    cairo_stroke(cr);
    text(lo, x0, y0 + bar_h + 3.0, font, 0.0, 0.0);
    text(hi, x0 + bar_w, y0 + bar_h + 3.0, font, 1.0, 0.0);
  }

  void rounded_rectangle(double x, double y, double w, double h, double r) {
    cairo_t* cr = cr_.get();
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + w - r, y + r, r, -std::numbers::pi / 2.0, 0.0);
    cairo_arc(cr, x + w - r, y + h - r, r, 0.0, std::numbers::pi / 2.0);
    cairo_arc(cr, x + r, y + h - r, r, std::numbers::pi / 2.0, std::numbers::pi);
    cairo_arc(cr, x + r, y + r, r, std::numbers::pi, 1.5 * std::numbers::pi);
    cairo_close_path(cr);
  }

  void set_colour(Colour c) { cairo_set_source_rgb(cr_.get(), c.r, c.g, c.b); }

  void select_font(double size, bool bold) {
    cairo_select_font_face(cr_.get(), "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_.get(), size);
  }

  double text_width(const std::string& s, double size, bool bold = false) {
    if (s.empty()) return 0.0;
    select_font(size, bold);
    cairo_text_extents_t extents;
    cairo_text_extents(cr_.get(), s.c_str(), &extents);
    return extents.x_advance;
  }

  /// Draws `s` so that (x, y) is at fraction (ax, ay) of its box (0, 0: top left; 0.5, 0.5: centre);
  /// the box height is the font's cap height, so labels of one row line up. Returns the width.
  double text(const std::string& s, double x, double y, double size, double ax, double ay, bool bold = false,
              Colour colour = colours::text) {
    if (s.empty()) return 0.0;
    cairo_t* cr = cr_.get();
    select_font(size, bold);
    cairo_text_extents_t extents;
    cairo_text_extents(cr, s.c_str(), &extents);
    const double cap = 0.72 * size;
    set_colour(colour);
    cairo_move_to(cr, x - ax * extents.x_advance, y - ay * cap + cap);
    cairo_show_text(cr, s.c_str());
    cairo_new_path(cr);
    return extents.x_advance;
  }

  int width_ = 0, height_ = 0, rows_ = 1, cols_ = 1;
  double band_ = 0.0;
  std::unique_ptr<cairo_surface_t, detail::SurfaceDeleter> surface_;
  std::unique_ptr<cairo_t, detail::ContextDeleter> cr_;
  std::vector<Panel> panels_;
};

}  // namespace gpm::plot
