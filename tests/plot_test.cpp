// PNG figures: nice ticks and bounds exactly, then every figure written to a file and read back
// (signature, size, enough distinct colours), and the input checks. Set GPM_PLOT_OUTPUT_DIR to keep
// the PNGs for a look; by default they go to a temporary directory that is removed.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "gpm/plot/figures.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace plot = gpm::plot;
namespace fs = std::filesystem;

namespace {

/// Where a test writes its PNGs: GPM_PLOT_OUTPUT_DIR (kept), or a fresh temporary directory removed
/// at the end of the test.
struct OutputDir {
  fs::path path;
  bool keep = false;

  explicit OutputDir(const std::string& test) {
    const char* kept = std::getenv("GPM_PLOT_OUTPUT_DIR");
    keep = kept && *kept;
    path = keep ? fs::path(kept) : fs::temp_directory_path() / fmt::format("gpm-plot-{}-{}", test, ::getpid());
    fs::create_directories(path);
  }
  ~OutputDir() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

/// Width and height from the IHDR chunk, after checking the PNG signature.
std::pair<uint32_t, uint32_t> png_size(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  unsigned char header[24] = {};
  in.read(reinterpret_cast<char*>(header), sizeof header);
  REQUIRE(in.gcount() == 24);
  const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  REQUIRE(std::equal(signature, signature + 8, header));
  REQUIRE(std::string(reinterpret_cast<char*>(header + 12), 4) == "IHDR");
  auto be32 = [&](int at) {
    return (uint32_t{header[at]} << 24) | (uint32_t{header[at + 1]} << 16) | (uint32_t{header[at + 2]} << 8) |
           uint32_t{header[at + 3]};
  };
  return {be32(16), be32(20)};
}

/// Pixel statistics of a PNG read back with cairo: distinct colours, and pixels near two colours.
struct PixelStats {
  size_t distinct = 0;
  size_t near_first = 0, near_second = 0;
};

PixelStats pixel_stats(const fs::path& path, plot::Colour first = {}, plot::Colour second = {}) {
  cairo_surface_t* image = cairo_image_surface_create_from_png(path.c_str());
  REQUIRE(cairo_surface_status(image) == CAIRO_STATUS_SUCCESS);
  const int w = cairo_image_surface_get_width(image), h = cairo_image_surface_get_height(image);
  const int stride = cairo_image_surface_get_stride(image);
  const unsigned char* data = cairo_image_surface_get_data(image);
  std::set<uint32_t> colours;
  PixelStats stats;
  auto near = [](uint32_t pixel, plot::Colour c) {
    const double r = ((pixel >> 16) & 0xFF) / 255.0, g = ((pixel >> 8) & 0xFF) / 255.0, b = (pixel & 0xFF) / 255.0;
    return std::abs(r - c.r) < 0.08 && std::abs(g - c.g) < 0.08 && std::abs(b - c.b) < 0.08;
  };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint32_t pixel = reinterpret_cast<const uint32_t*>(data + static_cast<ptrdiff_t>(y) * stride)[x];
      colours.insert(pixel);
      stats.near_first += near(pixel, first) ? 1 : 0;
      stats.near_second += near(pixel, second) ? 1 : 0;
    }
  }
  cairo_surface_destroy(image);
  stats.distinct = colours.size();
  return stats;
}

/// The reference example: a 5-mode Gaussian ring (centres 3(cos 2πk/5, sin 2πk/5), std 0.5), particles
/// moving from N(0, I) towards it in 5 snapshots, velocities towards the nearest centre.
struct RingExample {
  torch::Tensor centres, data;
  std::vector<torch::Tensor> states, velocities;
  std::vector<std::string> titles;

  RingExample() {
    auto gen = gpm::make_generator(7);
    const auto k = torch::arange(5, torch::kFloat64) * (2.0 * std::numbers::pi / 5.0);
    centres = 3.0 * torch::stack({k.cos(), k.sin()}, 1);
    const auto modes = torch::randint(5, {1500}, gen, torch::kLong);
    data = (centres.index_select(0, modes) + 0.5 * torch::randn({1500, 2}, gen, torch::kFloat64)).to(torch::kFloat32);
    const auto z = torch::randn({400, 2}, gen, torch::kFloat64);
    const auto target = centres.index_select(0, torch::randint(5, {400}, gen, torch::kLong)) +
                        0.5 * torch::randn({400, 2}, gen, torch::kFloat64);
    for (int s = 0; s < 5; ++s) {
      const double t = s / 4.0;
      const auto x = (1.0 - t) * z + t * target;
      states.push_back(x);
      velocities.push_back(nearest_centre(x) - x);
      titles.push_back(fmt::format("t = {:.2f}", t));
    }
  }

  torch::Tensor nearest_centre(const torch::Tensor& x) const {
    const auto nearest = gpm::pairwise_squared_distances(x.to(torch::kFloat64), centres).argmin(1);
    return centres.index_select(0, nearest).to(x.scalar_type());
  }

  /// Distance to the nearest centre, in the dtype of `points`.
  torch::Tensor distance(const torch::Tensor& points) const {
    return gpm::pairwise_squared_distances(points.to(torch::kFloat64), centres).amin(1).sqrt().to(
        points.scalar_type());
  }
};

}  // namespace

TEST_CASE("nice_ticks gives correctly rounded multiples of a 1-2-5 step") {
  CHECK(plot::nice_ticks(0.0, 1.0, 5) == std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8, 1.0});
  CHECK(plot::nice_ticks(-1.0, 1.0, 4) == std::vector<double>{-1.0, -0.5, 0.0, 0.5, 1.0});
  CHECK(plot::nice_ticks(0.0, 7.0, 6) == std::vector<double>{0.0, 2.0, 4.0, 6.0});
  CHECK(plot::nice_ticks(-3.7, 12.1, 5) == std::vector<double>{0.0, 5.0, 10.0});
  CHECK(plot::nice_ticks(0.0, 100.0, 10) ==
        std::vector<double>{0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0});
  CHECK(plot::nice_ticks(0.013, 0.021, 4) == std::vector<double>{0.014, 0.016, 0.018, 0.02});
  CHECK(plot::nice_ticks(1e6, 3e6, 2) == std::vector<double>{1e6, 2e6, 3e6});
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{{-4.2, 3.3}, {1e-5, 3e-5}, {17.0, 9000.0}}) {
    for (int max_ticks = 1; max_ticks <= 8; ++max_ticks) {
      const auto ticks = plot::nice_ticks(lo, hi, max_ticks);
      CHECK(ticks.size() <= static_cast<size_t>(max_ticks) + 1);
      if (max_ticks >= 2) REQUIRE(ticks.size() >= 1);
      for (const double t : ticks) CHECK((t >= lo && t <= hi));
    }
  }
  REQUIRE_THROWS_WITH(plot::nice_ticks(2.0, 2.0, 5), Contains("need finite lo < hi"));
  REQUIRE_THROWS_WITH(plot::nice_ticks(0.0, 1.0, 0), Contains("max_ticks must be in [1, 1000]"));
}

TEST_CASE("tick_label prints as many decimals as the step needs") {
  CHECK(plot::tick_label(0.6, 0.2) == "0.6");
  CHECK(plot::tick_label(0.0, 0.2) == "0.0");
  CHECK(plot::tick_label(-1e-17, 0.5) == "0.0");
  CHECK(plot::tick_label(15.0, 5.0) == "15");
  CHECK(plot::tick_label(2000.0, 1000.0) == "2000");
  CHECK(plot::tick_label(0.014, 0.002) == "0.014");
  CHECK(plot::tick_label(2e6, 1e6) == "2e+06");
  CHECK(plot::tick_label(1.5e-5, 5e-6) == "1.5e-05");
}

TEST_CASE("bounds_of covers every finite point with a margin") {
  const auto a = torch::tensor({{0.0, 1.0}, {2.0, 3.0}}, torch::kFloat64);
  const auto b = torch::tensor({{-2.0f, 1.5f}, {NAN, 100.0f}}).requires_grad_();
  const auto bounds = plot::bounds_of({a, b, torch::Tensor()}, 0.25);
  CHECK(bounds.xmin == -3.0);
  CHECK(bounds.xmax == 3.0);
  CHECK(bounds.ymin == 0.5);
  CHECK(bounds.ymax == 3.5);
  const auto single = plot::bounds_of({torch::tensor({{1.0, 1.0}})}, 0.0);
  CHECK(single.xmin < 1.0);
  CHECK(single.xmax > 1.0);
  const auto none = plot::bounds_of({});
  CHECK((none.xmin == -1.0 && none.xmax == 1.0 && none.ymin == -1.0 && none.ymax == 1.0));
  REQUIRE_THROWS_WITH(plot::bounds_of({a, torch::zeros({4, 3})}),
                      Contains("point_sets[1] has shape [4, 3], expected 2-D points of shape [N, 2]"));
}

TEST_CASE("grid_points lays out cell centres row by row from the bottom left") {
  const auto points = plot::grid_points({0.0, 4.0, 10.0, 12.0}, 2);
  REQUIRE(points.sizes() == torch::IntArrayRef({4, 2}));
  CHECK(torch::equal(points, torch::tensor({{1.0, 10.5}, {3.0, 10.5}, {1.0, 11.5}, {3.0, 11.5}}, torch::kFloat64)));
}

TEST_CASE("Figure writes a PNG of the requested size with every kind of mark") {
  OutputDir dir("figure");
  const RingExample ring;
  plot::Figure figure(900, 430, 1, 2);
  REQUIRE(figure.panels() == 2);
  figure.set_bounds(0, plot::bounds_of({ring.data, ring.states[2]}), true);
  const auto& b = figure.bounds(0);
  CHECK(b.width() / b.height() == Approx((900.0 / 2 - plot::Figure::margin_left - plot::Figure::margin_right) /
                                         (430.0 - plot::Figure::title_band_height - plot::Figure::margin_top -
                                          plot::Figure::margin_bottom)).epsilon(0.01));
  figure.shading(0, ring.distance(plot::grid_points(b, 60)).reshape({60, 60}), plot::ColourMap::sequential,
                 "distance");
  figure.scatter(0, ring.data, plot::colours::data, 1.8, 0.45, "data");
  figure.scatter(0, ring.states[2].to(torch::kFloat32), plot::colours::particles, 2.4, 0.85, "particles");
  figure.arrows(0, ring.states[2], ring.velocities[2], plot::colours::arrows, 0.3, "to nearest centre");
  figure.axes(0, "halfway", "x1", "x2");
  figure.legend(0);

  std::vector<double> xs, sine, cosine;
  for (int i = 0; i <= 200; ++i) {
    xs.push_back(i * 0.05);
    sine.push_back(std::sin(xs.back()));
    cosine.push_back(std::cos(xs.back()));
  }
  figure.set_bounds(1, {0.0, 10.0, -1.1, 1.1});
  figure.line(1, xs, sine, plot::colours::palette(0), "sin");
  figure.line(1, xs, cosine, plot::colours::palette(1), "cos");
  figure.axes(1, "curves", "x", "y");
  figure.legend(1);
  figure.title("Figure: shading, scatter, arrows, lines");

  const auto path = dir / "figure.png";
  figure.write_png(path);
  CHECK(png_size(path) == std::pair<uint32_t, uint32_t>{900, 430});
  CHECK_FALSE(fs::exists(path.string() + ".tmp"));
  const auto stats = pixel_stats(path, plot::colours::particles, plot::colours::data);
  CHECK(stats.distinct > 500);
  CHECK(stats.near_first > 200);
  CHECK(stats.near_second > 200);
}

TEST_CASE("shading picks a diverging map for signed values, white at zero") {
  OutputDir dir("diverging");
  const RingExample ring;
  plot::Figure figure(560, 520);
  figure.set_bounds(0, plot::bounds_of({ring.data}), true);
  const auto grid = plot::grid_points(figure.bounds(0), 80);
  figure.shading(0, (ring.distance(grid) - 1.5).reshape({80, 80}), plot::ColourMap::automatic, "distance - 1.5");
  figure.scatter(0, ring.data, plot::colours::data, 1.8, 0.45, "data");
  figure.axes(0, "signed background", "x\u2081", "x\u2082");
  figure.legend(0);
  figure.title("Diverging shading");
  const auto path = dir / "diverging.png";
  figure.write_png(path);
  const auto stats = pixel_stats(path, plot::detail::map_colour(plot::ColourMap::diverging, 0.32),
                                 plot::detail::map_colour(plot::ColourMap::diverging, 0.9));
  CHECK(stats.near_first > 500);   // light blue below zero (the range is [-3.8, 3.8])
  CHECK(stats.near_second > 500);  // light red above
  CHECK(plot::detail::map_colour(plot::ColourMap::diverging, 0.5).g > 0.95);
}

TEST_CASE("generation_strip draws snapshots with arrows over a shaded background") {
  OutputDir dir("strip");
  const RingExample ring;
  const auto path = dir / "generation_strip.png";
  size_t calls = 0;
  plot::generation_strip(path, ring.states, ring.velocities, ring.titles, ring.data,
                         [&](const torch::Tensor& grid, size_t panel) {
                           CHECK(grid.sizes() == torch::IntArrayRef({6400, 2}));
                           CHECK(grid.scalar_type() == torch::kFloat32);  // the dtype of the data
                           CHECK(panel == calls++);
                           return ring.distance(grid);
                         },
                         "Particles moving to the 5-mode ring");
  CHECK(calls == 5);
  const auto [w, h] = png_size(path);
  CHECK(w == 5 * static_cast<uint32_t>(270 + plot::Figure::margin_left + plot::Figure::margin_right));
  CHECK(h == static_cast<uint32_t>(270 + plot::Figure::margin_top + plot::Figure::margin_bottom +
                                   plot::Figure::title_band_height));
  const auto stats = pixel_stats(path, plot::colours::particles, plot::colours::arrows);
  CHECK(stats.distinct > 1000);
  CHECK(stats.near_first > 1000);
  CHECK(stats.near_second > 100);

  // Without background, velocities or titles, and with fewer velocities than states.
  const auto plain = dir / "generation_strip_plain.png";
  plot::generation_strip(plain, {ring.states[0], ring.states[4]}, {ring.velocities[0]}, {}, ring.data);
  const auto cell = static_cast<uint32_t>(270 + plot::Figure::margin_left + plot::Figure::margin_right);
  CHECK(png_size(plain) == std::pair<uint32_t, uint32_t>{2 * cell, h - static_cast<uint32_t>(
                                                                           plot::Figure::title_band_height)});
  CHECK(pixel_stats(plain).distinct > 200);
}

TEST_CASE("scatter_comparison shows generated points over the data") {
  OutputDir dir("comparison");
  const RingExample ring;
  const auto path = dir / "scatter_comparison.png";
  plot::scatter_comparison(path, ring.states[3], ring.data, "Generated vs data");
  CHECK(png_size(path) == std::pair<uint32_t, uint32_t>{600, 600});
  const auto stats = pixel_stats(path, plot::colours::particles, plot::colours::data);
  CHECK(stats.distinct > 300);
  CHECK(stats.near_first > 200);
  CHECK(stats.near_second > 200);
}

TEST_CASE("loss_curves draws one panel per series") {
  OutputDir dir("losses");
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  auto gen = gpm::make_generator(3);
  const auto noise = torch::randn({2000}, gen, torch::kFloat64);
  for (int i = 0; i < 2000; ++i) {
    series["generator loss"].push_back({10.0 * i, 1.5 * std::exp(-i / 500.0) + 0.3 + 0.1 * noise[i].item<double>()});
  }
  for (int i = 0; i <= 40; ++i) series["mmd"].push_back({500.0 * i, 0.4 / (1.0 + 0.2 * i)});
  series["constant"] = {{0.0, 2.0}, {100.0, 2.0}};
  const auto path = dir / "loss_curves.png";
  plot::loss_curves(path, series, "Training");
  CHECK(png_size(path) ==
        std::pair<uint32_t, uint32_t>{3 * 440, 320 + static_cast<uint32_t>(plot::Figure::title_band_height)});
  CHECK(pixel_stats(path).distinct > 200);

  series["empty"] = {};
  plot::loss_curves(dir / "loss_curves_four.png", series);  // 2 x 2, no title band
  CHECK(png_size(dir / "loss_curves_four.png") == std::pair<uint32_t, uint32_t>{2 * 440, 2 * 320});
  REQUIRE_THROWS_WITH(plot::loss_curves(dir / "none.png", {}), Contains("got 0 series"));
}

TEST_CASE("plot functions reject bad input with clear messages") {
  OutputDir dir("errors");
  const RingExample ring;
  plot::Figure figure(500, 400);
  REQUIRE_THROWS_WITH(figure.scatter(0, ring.data, plot::colours::data),
                      Contains("panel 0 has no bounds yet; call set_bounds(0, ...) first"));
  figure.set_bounds(0, {-1.0, 1.0, -1.0, 1.0});
  REQUIRE_THROWS_WITH(figure.scatter(0, torch::zeros({10, 3}), plot::colours::data),
                      Contains("scatter: points has shape [10, 3], expected 2-D points of shape [N, 2]"));
  REQUIRE_THROWS_AS(figure.scatter(0, torch::zeros({10, 3}), plot::colours::data), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(figure.scatter(1, ring.data, plot::colours::data),
                      Contains("panel 1 does not exist; this figure has 1 panels"));
  REQUIRE_THROWS_WITH(figure.arrows(0, ring.states[0], ring.velocities[0].narrow(0, 0, 5)),
                      Contains("origins has shape [400, 2] but vectors has shape [5, 2]"));
  REQUIRE_THROWS_WITH(figure.shading(0, torch::zeros({64})), Contains("values has shape [64], expected a grid [G, H]"));
  REQUIRE_THROWS_WITH(figure.line(0, {1.0, 2.0}, {1.0}, plot::colours::palette(0)),
                      Contains("xs has 2 values but ys has 1"));
  REQUIRE_THROWS_WITH(figure.set_bounds(0, {1.0, 1.0, 0.0, 1.0}), Contains("xmin < xmax"));
  REQUIRE_THROWS_WITH(plot::Figure(50, 50, 2, 2), Contains("too small"));
  REQUIRE_THROWS_WITH(plot::Figure(500, 400, 1, 1, false).title("t"), Contains("no title band"));

  const auto unwritable = fs::path("/nonexistent-gpm-dir") / "figure.png";
  REQUIRE_THROWS_AS(figure.write_png(unwritable), gpm::RuntimeError);
  REQUIRE_THROWS_WITH(figure.write_png(unwritable),
                      Contains("/nonexistent-gpm-dir/figure.png") && Contains("directory exists and is writable"));

  const auto path = dir / "bad.png";
  REQUIRE_THROWS_WITH(plot::generation_strip(path, {}, {}, {}, ring.data), Contains("got 0 states"));
  REQUIRE_THROWS_WITH(plot::generation_strip(path, ring.states, {}, {"only one"}, ring.data),
                      Contains("got 1 panel titles for 5 states"));
  REQUIRE_THROWS_WITH(plot::generation_strip(path, {ring.states[0]}, {ring.velocities[1].narrow(0, 0, 9)}, {},
                                             ring.data),
                      Contains("velocities[0] has shape [9, 2] but states[0] has shape [400, 2]"));
  REQUIRE_THROWS_WITH(plot::generation_strip(path, {ring.states[0]}, {}, {}, ring.data,
                                             [](const torch::Tensor&, size_t) { return torch::zeros({10}); }),
                      Contains("background returned shape [10] for panel 0, expected 6400 values"));
  REQUIRE_THROWS_WITH(plot::scatter_comparison(path, torch::zeros({5, 3}), ring.data),
                      Contains("generated has shape [5, 3]"));
  CHECK_FALSE(fs::exists(path));
}
