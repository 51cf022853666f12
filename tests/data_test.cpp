// Datasets: the toy 2-D distributions, CSV point clouds, dataset specs, and their error messages.
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gpm/data.hpp"
#include "gpm/metrics/mode_coverage.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace data = gpm::data;
using gpm::test::TempDir;

namespace {

struct SampleWithoutDim {
  torch::Tensor sample(int64_t n, at::Generator&) const { return torch::zeros({n, 2}); }
};
struct SampleWithoutGenerator {
  torch::Tensor sample(int64_t n) const { return torch::zeros({n, 2}); }
  int64_t dim() const { return 2; }
};

static_assert(data::Dataset<data::IsotropicMixture> && data::Dataset<data::GaussianRing> &&
              data::Dataset<data::GaussianGrid>);
static_assert(data::Dataset<data::TwoMoons> && data::Dataset<data::Checkerboard> && data::Dataset<data::SwissRoll>);
static_assert(data::Dataset<data::PointCloud> && data::Dataset<data::AnyDataset>);
static_assert(!data::Dataset<SampleWithoutDim> && !data::Dataset<SampleWithoutGenerator>);

/// Same seed, same points; the stream advances; shape [n, dim()], the given dtype and device.
template <class D>
void check_sampler(const D& dataset, torch::Dtype dtype) {
  auto a = gpm::test::generator(5), b = gpm::test::generator(5);
  const auto x = dataset.sample(64, a);
  REQUIRE(x.sizes() == torch::IntArrayRef({64, static_cast<int64_t>(dataset.dim())}));
  REQUIRE(x.scalar_type() == dtype);
  REQUIRE(x.device() == gpm::test::device());
  REQUIRE(torch::equal(x, dataset.sample(64, b)));
  REQUIRE_FALSE(torch::equal(x, dataset.sample(64, a)));
}

/// The entries that read files (MNIST, image folders), which the table's generic tests leave out.
bool reads_files(const data::DatasetEntry& entry) { return entry.name == "mnist" || entry.name == "images"; }

/// `spec` ("name:k=v,...") with the value of `key` replaced by `value`.
std::string with_option(const std::string& spec, const std::string& key, const std::string& value) {
  const auto colon = spec.find(':');
  std::vector<std::string> items;
  for (const auto item : data::detail::split_cells(std::string_view(spec).substr(colon + 1)))
    items.push_back(item.starts_with(key + "=") ? key + "=" + value : std::string(item));
  return fmt::format("{}:{}", spec.substr(0, colon), fmt::join(items, ","));
}

/// Options of every kind a spec can give, for read_spec_options.
enum class Shade { light, dark };
constexpr std::array<std::pair<Shade, std::string_view>, 2> option_names(Shade) {
  return {{{Shade::light, "light"}, {Shade::dark, "dark"}}};
}
struct SpecTestOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, count, Range::between(1, 10), "a count") = 3;
  GPM_OPTION(double, scale, Range::any(), "a scale") = 0.1;
  GPM_OPTION(bool, flag, Range::any(), "a flag") = false;
  GPM_OPTION(Shade, shade, Range::any(), "a shade") = Shade::light;
  GPM_OPTIONS_END
};

}  // namespace

TEMPLATE_TEST_CASE("every dataset draws [n, D] in the requested dtype and device, reproducibly per seed",
                   "[data][toy2d]", float, double) {
  const auto opts = gpm::test::options<TestType>();
  const auto dtype = gpm::test::dtype<TestType>();
  check_sampler(data::GaussianRing({}, opts), dtype);
  check_sampler(data::GaussianGrid({}, opts), dtype);
  check_sampler(data::TwoMoons({}, opts), dtype);
  check_sampler(data::Checkerboard({}, opts), dtype);
  check_sampler(data::SwissRoll({}, opts), dtype);
  check_sampler(data::IsotropicMixture(torch::zeros({3, 4}), 1.0, opts), dtype);
  check_sampler(data::PointCloud::from_tensor(torch::randn({10, 3}, opts)), dtype);
  check_sampler(data::parse_dataset("moons", opts), dtype);
}

TEMPLATE_TEST_CASE("Gaussian ring: centres R(cos 2πk/K, sin 2πk/K); true samples cover all modes with HQ fraction "
                   "1 − e^{−4.5}", "[data][toy2d][numeric]", float, double) {
  const data::GaussianRing ring({}, gpm::test::options<TestType>());
  REQUIRE(ring.modes() == 5);
  REQUIRE(ring.std() == 0.5);
  const auto centers = ring.centers().to(torch::kFloat64).cpu();
  REQUIRE(centers.sizes() == torch::IntArrayRef({5, 2}));
  for (int64_t k = 0; k < 5; ++k) {
    const double angle = 2.0 * std::numbers::pi * static_cast<double>(k) / 5.0;
    CHECK(centers[k][0].item<double>() == Approx(3.0 * std::cos(angle)).margin(1e-6));
    CHECK(centers[k][1].item<double>() == Approx(3.0 * std::sin(angle)).margin(1e-6));
  }
  auto gen = gpm::test::generator(11);
  const auto x = ring.sample(20000, gen);
  const auto coverage = gpm::metrics::mode_coverage(x, ring.centers(), ring.std());
  CHECK(coverage.modes_covered == 5);
  // Binomial standard error sqrt(0.011 · 0.989 / 20000) = 7.4e-4; margin about 5 standard errors.
  CHECK(std::abs(coverage.high_quality_fraction - (1.0 - std::exp(-4.5))) < 0.004);
  // 20000/5 · 0.989 = 3956 high-quality samples per mode, standard deviation about 57; margin 5 sd.
  for (const auto count : coverage.counts) CHECK(std::abs(static_cast<double>(count) - 3956.0) < 285.0);
  // Mixture mean 0; per-coordinate variance R²/2 + s² = 4.75, standard error 0.015; margin 5 se.
  CHECK(gpm::test::max_abs(x.mean(0)) < 0.08);
}

TEMPLATE_TEST_CASE("Gaussian grid: 25 centres at {−4, −2, 0, 2, 4}², every mode covered", "[data][toy2d][numeric]", float,
                   double) {
  const auto opts = gpm::test::options<TestType>();
  const data::GaussianGrid grid({}, opts);
  const auto values = torch::tensor({-4.0, -2.0, 0.0, 2.0, 4.0}, opts);
  REQUIRE(torch::equal(grid.centers(), torch::cartesian_prod({values, values})));
  REQUIRE(grid.std() == 0.1);
  auto gen = gpm::test::generator(12);
  const auto coverage = gpm::metrics::mode_coverage(grid.sample(20000, gen), grid.centers(), grid.std());
  CHECK(coverage.modes_covered == 25);
  // Standard error sqrt(0.011 · 0.989 / 20000) = 7.4e-4; margin about 5 standard errors.
  CHECK(std::abs(coverage.high_quality_fraction - (1.0 - std::exp(-4.5))) < 0.004);
  // One mode per side: a single Gaussian at the origin.
  const data::GaussianGrid single(data::GaussianGridOptions().per_side(1), opts);
  REQUIRE(torch::equal(single.centers(), torch::zeros({1, 2}, opts)));
}

TEST_CASE("two moons: noiseless points lie on the two half circles; the mean is (1/2, 1/4)", "[data][toy2d][numeric]") {
  auto gen = gpm::test::generator(13);
  const auto x = data::TwoMoons(data::TwoMoonsOptions().noise(0), gpm::test::options<double>()).sample(4000, gen);
  const auto px = x.select(1, 0), py = x.select(1, 1);
  // Upper moon: |p| = 1 with y >= 0; lower moon: |p − (1, 1/2)| = 1 with y <= 1/2.
  const auto upper = (x.norm(2, {1}) - 1).abs() + torch::relu(-py);
  const auto lower = ((px - 1).square() + (py - 0.5).square()).sqrt().sub(1).abs() + torch::relu(py - 0.5);
  CHECK(gpm::test::max_abs(torch::minimum(upper, lower)) < 1e-12);
  const double upper_fraction = (upper < 1e-12).to(torch::kFloat64).mean().item<double>();
  CHECK(std::abs(upper_fraction - 0.5) < 0.04);  // standard error 0.008

  const auto noisy = data::TwoMoons({}, gpm::test::options<float>()).sample(20000, gen).mean(0);
  // Standard errors 0.0062 (x) and 0.0036 (y); margins about 5 standard errors.
  CHECK(std::abs(noisy[0].item<double>() - 0.5) < 0.03);
  CHECK(std::abs(noisy[1].item<double>() - 0.25) < 0.02);
}

TEST_CASE("checkerboard: points fill the cells with even i + j, uniformly", "[data][toy2d][numeric]") {
  auto gen = gpm::test::generator(14);
  const auto x = data::Checkerboard({}, gpm::test::options<double>()).sample(16000, gen);
  CHECK(gpm::test::max_abs(x) <= 2.0);
  const auto cell = torch::floor(x + 2.0).to(torch::kLong);  // unit cells, indices 0..3
  const auto i = cell.select(1, 0), j = cell.select(1, 1);
  REQUIRE(((i + j).remainder(2) == 0).all().item<bool>());
  // 8 filled cells, 2000 points each; binomial standard deviation 42, margin 5 sd.
  const auto counts = torch::bincount(i * 4 + j, {}, 16).cpu();
  for (int64_t c = 0; c < 16; ++c)
    if ((c / 4 + c % 4) % 2 == 0) CHECK(std::abs(counts[c].item<double>() - 2000.0) < 210.0);

  // An odd number of cells: 5 of 9 filled, on [−1.5, 1.5]².
  const auto y = data::Checkerboard(data::CheckerboardOptions().cells(3).size(3), gpm::test::options<double>())
                     .sample(2000, gen);
  const auto k = torch::floor(y + 1.5).to(torch::kLong);
  REQUIRE(((k.select(1, 0) + k.select(1, 1)).remainder(2) == 0).all().item<bool>());
  CHECK(std::get<0>(torch::unique_dim(k, 0)).size(0) == 5);
}

TEST_CASE("swiss roll: noiseless points are 0.2·t(cos t, sin t) with t in [1.5π, 4.5π]", "[data][toy2d][numeric]") {
  auto gen = gpm::test::generator(15);
  const auto x = data::SwissRoll(data::SwissRollOptions().noise(0), gpm::test::options<double>()).sample(4000, gen);
  const auto t = x.norm(2, {1}) / data::SwissRoll::kScale;
  CHECK(t.min().item<double>() >= 1.5 * std::numbers::pi - 1e-9);
  CHECK(t.max().item<double>() <= 4.5 * std::numbers::pi + 1e-9);
  CHECK(t.min().item<double>() < 1.5 * std::numbers::pi + 0.05);  // the whole range is used
  CHECK(t.max().item<double>() > 4.5 * std::numbers::pi - 0.05);
  const auto on_roll = data::SwissRoll::kScale * torch::stack({t * torch::cos(t), t * torch::sin(t)}, 1);
  CHECK(gpm::test::max_abs(x - on_roll) < 1e-9);
}

TEST_CASE("datasets refuse invalid options with a message naming the option", "[data][errors]") {
  REQUIRE_THROWS_WITH(data::GaussianRing(data::GaussianRingOptions().modes(0)), Contains("GaussianRing: modes must be >= 1, got 0"));
  REQUIRE_THROWS_WITH(data::GaussianRing(data::GaussianRingOptions().radius(-1)), Contains("radius must be > 0, got -1"));
  REQUIRE_THROWS_WITH(data::GaussianRing(data::GaussianRingOptions().std(0)), Contains("GaussianRing: std must be > 0, got 0"));
  REQUIRE_THROWS_WITH(data::GaussianGrid(data::GaussianGridOptions().per_side(0)), Contains("per_side must be >= 1, got 0"));
  REQUIRE_THROWS_WITH(data::GaussianGrid(data::GaussianGridOptions().spacing(0)), Contains("spacing must be > 0"));
  REQUIRE_THROWS_WITH(data::TwoMoons(data::TwoMoonsOptions().noise(-0.1)), Contains("TwoMoons: noise must be >= 0, got -0.1"));
  REQUIRE_THROWS_WITH(data::Checkerboard(data::CheckerboardOptions().cells(1)), Contains("cells must be >= 2, got 1"));
  REQUIRE_THROWS_WITH(data::Checkerboard(data::CheckerboardOptions().size(0)), Contains("size must be > 0"));
  REQUIRE_THROWS_WITH(data::SwissRoll(data::SwissRollOptions().noise(-1)), Contains("SwissRoll: noise must be >= 0"));
  REQUIRE_THROWS_WITH(data::IsotropicMixture(torch::zeros({3}), 1.0), Contains("centers must have shape [K, D]") &&
                                                                         Contains("got [3]"));
  REQUIRE_THROWS_WITH(data::TwoMoons({}, torch::TensorOptions().dtype(torch::kLong)),
                      Contains("TwoMoons: tensor options have dtype Long, expected a floating-point dtype"));
  auto gen = gpm::test::generator(1);
  REQUIRE_THROWS_WITH(data::GaussianRing({}, gpm::test::options<float>()).sample(0, gen),
                      Contains("GaussianRing::sample: the number of samples n must be > 0, got 0"));
}

TEMPLATE_TEST_CASE("CSV point clouds: header detection, CRLF and blank lines, values, dtype and device",
                   "[data][csv]", float, double) {
  const TempDir dir;
  const auto opts = gpm::test::options<TestType>();
  const auto expected = torch::tensor({1.0, 2.0, 3.5, -0.4}, opts).view({2, 2});

  const auto with_header = data::PointCloud::from_csv(dir.write("a.csv", "x,y\n1,2\n3.5,-4e-1\n\n\n"), opts);
  REQUIRE(with_header.size() == 2);
  REQUIRE(with_header.dim() == 2);
  REQUIRE(with_header.points().scalar_type() == gpm::test::dtype<TestType>());
  REQUIRE(with_header.points().device() == gpm::test::device());
  REQUIRE(torch::equal(with_header.points(), expected));

  // No header, CRLF line ends, spaces around cells, a leading '+'.
  const auto plain = data::PointCloud::from_csv(dir.write("b.csv", " +1 , 2\r\n3.5,-0.4\r\n\r\n"), opts);
  REQUIRE(torch::equal(plain.points(), expected));

  // A first line with any non-numeric cell is a header; one column is fine.
  const auto column = data::PointCloud::from_csv(dir.write("c.csv", "value\n7\n8\n9\n"), opts);
  REQUIRE(torch::equal(column.points(), torch::tensor({7.0, 8.0, 9.0}, opts).view({3, 1})));
}

TEST_CASE("a point cloud samples its rows uniformly with replacement", "[data][csv][numeric]") {
  const auto points = torch::arange(4, gpm::test::options<double>()).view({4, 1});
  const auto cloud = data::PointCloud::from_tensor(points);
  auto gen = gpm::test::generator(16);
  const auto x = cloud.sample(8000, gen);
  // 2000 draws per row expected, binomial standard deviation 39; margin 5 sd.
  const auto counts = torch::bincount(x.squeeze(1).to(torch::kLong), {}, 4).cpu();
  for (int64_t i = 0; i < 4; ++i) CHECK(std::abs(counts[i].item<double>() - 2000.0) < 195.0);
  REQUIRE_THROWS_WITH(data::PointCloud::from_tensor(torch::zeros({4})), Contains("points must have shape [M, D]"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_tensor(torch::full({2, 2}, std::nan(""))), Contains("NaN"));
}

TEST_CASE("the CSV loader names the file, line, column and problem", "[data][csv][errors]") {
  const TempDir dir;
  const auto missing = dir.file("missing.csv");
  REQUIRE_THROWS_AS(data::PointCloud::from_csv(missing), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(missing), Contains(missing) && Contains("does not exist"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.file("")), Contains("is a directory"));

  const auto empty = dir.write("empty.csv", "");
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(empty), Contains(empty) && Contains("holds no data rows"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("header.csv", "x,y\n\n")), Contains("holds no data rows"));

  const auto text = dir.write("text.csv", "x,y\n1,2\n3,abc\n");
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(text),
                      Contains(text) && Contains("line 3, column 2: 'abc' is not a number"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("cell.csv", "1,2\n3,\n")),
                      Contains("line 2, column 2: '' is not a number"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("ragged.csv", "x,y\n1,2\n3,4\n5\n")),
                      Contains("line 4 has 1 values, expected 2 like the first data row (line 2)"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("nan.csv", "1,2\nnan,4\n")),
                      Contains("line 2, column 1: 'nan' is not finite"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("inf.csv", "1,-inf\n")),
                      Contains("line 1, column 2: '-inf' is not finite"));
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("huge.csv", "1,1e999\n")),
                      Contains("line 1, column 2: '1e999' is not finite"));
}

TEMPLATE_TEST_CASE("write_csv then PointCloud::from_csv round-trips the values exactly", "[data][csv]", float, double) {
  const TempDir dir;
  const auto opts = gpm::test::options<TestType>();
  auto gen = gpm::test::generator(17);
  // Values over many magnitudes, including ones with no short decimal form.
  const auto x = torch::randn({200, 3}, gen, opts) * torch::pow(10.0, torch::randint(-8, 8, {200, 1}, gen, opts));
  data::write_csv(dir.file("x.csv"), x, {"a", "b", "c"});
  REQUIRE(torch::equal(data::PointCloud::from_csv(dir.file("x.csv"), opts).points(), x));
  data::write_csv(dir.file("plain.csv"), x);
  REQUIRE(torch::equal(data::PointCloud::from_csv(dir.file("plain.csv"), opts).points(), x));

  REQUIRE_THROWS_WITH(data::write_csv(dir.file("y.csv"), x, {"a", "b"}),
                      Contains("the header names 2 columns but the points have 3"));
  REQUIRE_THROWS_WITH(data::write_csv(dir.file("y.csv"), x, {"a", "b,c", "d"}), Contains("contains a comma"));
  REQUIRE_THROWS_WITH(data::write_csv(dir.file("y.csv"), x, {"1", "2", "3"}),
                      Contains("the header name '1' is or begins like a number, so the header would not read back as one"));
  // A header read back whole: a name beginning like a number would make it an error on reading.
  REQUIRE_THROWS_WITH(data::write_csv(dir.file("y.csv"), x, {"a", "2b", "c"}), Contains("the header name '2b' is or begins"));
  REQUIRE_THROWS_AS(data::write_csv(dir.file("no/such/dir/y.csv"), x), gpm::RuntimeError);
  REQUIRE_THROWS_WITH(data::write_csv(dir.file("no/such/dir/y.csv"), x), Contains("cannot write") && Contains("y.csv"));
  // Written atomically, through a temporary file beside it: none is left, and a write that fails
  // (here its temporary file is a folder) leaves the previous file whole.
  REQUIRE_FALSE(std::filesystem::exists(dir.file("plain.csv.tmp")));
  std::filesystem::create_directories(dir.file("plain.csv.tmp/in-the-way"));
  REQUIRE_THROWS_WITH(data::write_csv(dir.file("plain.csv"), x * 2), Contains("plain.csv.tmp"));
  REQUIRE(torch::equal(data::PointCloud::from_csv(dir.file("plain.csv"), opts).points(), x));
  REQUIRE_THROWS_WITH(data::write_csv(dir.file("y.csv"), x.flatten()), Contains("points must have shape [N, D]"));
}

TEST_CASE("dataset specs build the named dataset with the given parameters", "[data][spec]") {
  const auto opts = gpm::test::options<double>();
  const auto ring = data::parse_dataset("ring");
  REQUIRE(ring.has_modes());
  REQUIRE(ring.centers().sizes() == torch::IntArrayRef({5, 2}));
  REQUIRE(ring.centers().scalar_type() == torch::kFloat32);
  REQUIRE(ring.std() == 0.5);
  REQUIRE(ring.description() == "ring");

  const auto custom = data::parse_dataset("ring:modes=8,radius=2,std=0.1", opts);
  REQUIRE(custom.centers().sizes() == torch::IntArrayRef({8, 2}));
  REQUIRE(custom.centers().scalar_type() == torch::kFloat64);
  CHECK(gpm::test::max_abs(custom.centers().norm(2, {1}) - 2.0) < 1e-12);
  REQUIRE(custom.std() == 0.1);

  const auto grid = data::parse_dataset("grid:per_side=3, spacing=1", opts);
  REQUIRE(torch::equal(grid.centers(), data::GaussianGrid(data::GaussianGridOptions().per_side(3).spacing(1), opts).centers()));
  REQUIRE(grid.std() == 0.1);

  auto a = gpm::test::generator(18), b = gpm::test::generator(18);
  const auto moons = data::parse_dataset(" moons : noise = 0.2 ", opts);
  REQUIRE_FALSE(moons.has_modes());
  REQUIRE(torch::equal(moons.sample(32, a), data::TwoMoons(data::TwoMoonsOptions().noise(0.2), opts).sample(32, b)));
  REQUIRE(torch::equal(data::parse_dataset("checkerboard:cells=6,size=3", opts).sample(32, a),
                       data::Checkerboard(data::CheckerboardOptions().cells(6).size(3), opts).sample(32, b)));
  REQUIRE(torch::equal(data::parse_dataset("swissroll:noise=0", opts).sample(32, a),
                       data::SwissRoll(data::SwissRollOptions().noise(0), opts).sample(32, b)));

  const TempDir dir;
  const auto path = dir.write("cloud.csv", "x,y,z\n1,2,3\n4,5,6\n");
  const auto cloud = data::parse_dataset(path, opts);
  REQUIRE(cloud.dim() == 3);
  REQUIRE(cloud.description() == path);
  REQUIRE(((cloud.sample(16, a).select(1, 0) - 1).remainder(3) == 0).all().item<bool>());
}

TEST_CASE("dataset spec errors list the valid names and parameters and name the range", "[data][spec][errors]") {
  REQUIRE_THROWS_AS(data::parse_dataset("rings"), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(data::parse_dataset("rings"), Contains("unknown dataset 'rings'") &&
                                                        Contains("ring (modes, radius, std), grid (per_side, spacing, std), "
                                                                 "moons (noise), checkerboard (cells, size), swissroll (noise)") &&
                                                        Contains("CSV file"));
  REQUIRE_THROWS_WITH(data::parse_dataset(" :modes=3"), Contains("unknown dataset ''"));
  REQUIRE_THROWS_AS(data::parse_dataset("ring:mode=3"), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(data::parse_dataset("ring:mode=3"),
                      Contains("dataset spec 'ring:mode=3': unknown parameter 'mode'; valid parameters: modes, radius, std"));
  REQUIRE_THROWS_WITH(data::parse_dataset("checkerboard:cell=3"), Contains("valid parameters: cells, size"));
  // Values are typed by the option's declaration (modes is an integer, std a number), checked
  // against its declared range (the message names it), and given once each.
  const std::vector<std::pair<const char*, const char*>> bad_values{
      {"ring:modes=abc", "the parameter 'modes' must be an integer, got 'abc'"},
      {"ring:modes=2.5", "the parameter 'modes' must be an integer, got '2.5'"},
      {"ring:modes=1e20", "the parameter 'modes' must be an integer of magnitude at most 2^53, got '1e20'"},
      {"ring:std=wide", "the parameter 'std' must be a number, got 'wide'"},
      {"ring:modes=0", "dataset spec 'ring:modes=0': the parameter 'modes' must be ≥ 1, got 0"},
      {"ring:std=-1", "the parameter 'std' must be > 0, got -1"},
      {"checkerboard:cells=1", "the parameter 'cells' must be ≥ 2, got 1"},
      {"swissroll:noise=-0.1", "the parameter 'noise' must be ≥ 0, got -0.1"},
      {"moons:noise=nan", "the parameter 'noise' must be a finite number, got nan"},
      {"moons:noise=1e400", "the parameter 'noise' must be a finite number, got inf"},
      {"ring:modes", "'modes' is not of the form name=value"},
      {"ring:modes=3,", "'' is not of the form name=value"},
      {"ring:modes=3,modes=4", "the parameter 'modes' is given twice"},
  };
  for (const auto& [spec, message] : bad_values) {
    INFO(spec);
    REQUIRE_THROWS_AS(data::parse_dataset(spec), gpm::InvalidArgument);
    REQUIRE_THROWS_WITH(data::parse_dataset(spec), Contains(message));
  }
  REQUIRE_THROWS_WITH(data::parse_dataset("  "), Contains("dataset spec is empty"));
  REQUIRE_THROWS_WITH(data::parse_dataset("no/such/file.csv"), Contains("does not exist"));
  REQUIRE_THROWS_WITH(data::parse_dataset("moons").centers(), Contains("'moons' is not a Gaussian mixture"));
  REQUIRE_THROWS_WITH(data::resolve_dataset_spec("ring:radius=0"), Contains("the parameter 'radius' must be > 0, got 0"));
  // Beyond the declared ranges, the dataset's own checks still apply, under the spec's name.
  REQUIRE_THROWS_WITH(data::parse_dataset("ring", torch::TensorOptions().dtype(torch::kLong)),
                      Contains("dataset spec 'ring': GaussianRing: tensor options have dtype Long"));
}

TEST_CASE("every entry of the dataset table builds with its defaults, as its class does", "[data][spec][registry]") {
  const auto opts = gpm::test::options<double>();
  std::vector<std::string> names;
  for (const auto& entry : data::builtin_datasets()) names.push_back(entry.name);
  REQUIRE(names == std::vector<std::string>{"ring", "grid", "moons", "checkerboard", "swissroll", "mnist", "images"});
  for (const auto& entry : data::builtin_datasets()) {
    INFO(entry.name);
    REQUIRE(data::find_builtin_dataset(entry.name) == &entry);
    REQUIRE_FALSE(entry.summary.empty());
    REQUIRE_FALSE(entry.fields.empty());
    if (reads_files(entry)) continue;  // image_data_test.cpp builds them from files it writes
    const auto dataset = data::parse_dataset(entry.name, opts);
    REQUIRE(dataset.description() == entry.name);
    REQUIRE(dataset.dim() == 2);
    auto a = gpm::test::generator(3), b = gpm::test::generator(3);
    const auto x = dataset.sample(64, a);
    REQUIRE(x.sizes() == torch::IntArrayRef({64, 2}));
    REQUIRE(torch::isfinite(x).all().item<bool>());
    // The table's build and the spec at the defaults give the same points.
    REQUIRE(torch::equal(x, entry.build("", opts, entry.name).sample(64, b)));
  }
  REQUIRE(data::find_builtin_dataset("rings") == nullptr);
  // The defaults are the classes' own.
  auto a = gpm::test::generator(4), b = gpm::test::generator(4);
  REQUIRE(torch::equal(data::parse_dataset("ring", opts).sample(32, a), data::GaussianRing({}, opts).sample(32, b)));
  REQUIRE(torch::equal(data::parse_dataset("grid", opts).sample(32, a), data::GaussianGrid({}, opts).sample(32, b)));
  REQUIRE(torch::equal(data::parse_dataset("moons", opts).sample(32, a), data::TwoMoons({}, opts).sample(32, b)));
  REQUIRE(torch::equal(data::parse_dataset("checkerboard", opts).sample(32, a), data::Checkerboard({}, opts).sample(32, b)));
  REQUIRE(torch::equal(data::parse_dataset("swissroll", opts).sample(32, a), data::SwissRoll({}, opts).sample(32, b)));
}

TEST_CASE("every dataset option round-trips through the spec string", "[data][spec][registry]") {
  const auto opts = gpm::test::options<double>();
  for (const auto& entry : data::builtin_datasets()) {
    if (reads_files(entry)) continue;  // their options are typed otherwise: see image_data_test.cpp
    const auto defaults = data::resolve_dataset_spec(entry.name);
    REQUIRE(data::resolve_dataset_spec(defaults) == defaults);
    for (const auto& field : entry.fields) {
      // Every declared range is bounded below only, so a larger value is valid and differs.
      const auto value = field.type == "integer" ? fmt::format("{}", std::stoll(field.default_value) + 1)
                                                 : fmt::format("{}", std::stod(field.default_value) + 0.25);
      const auto spec = fmt::format("{}:{}={}", entry.name, field.name, value);
      INFO(spec);
      const auto resolved = data::resolve_dataset_spec(spec);
      REQUIRE_THAT(resolved, Contains(fmt::format("{}={}", field.name, value)));
      REQUIRE(data::resolve_dataset_spec(resolved) == resolved);
      // Every other option keeps its default.
      REQUIRE(resolved == with_option(defaults, field.name, value));
      auto a = gpm::test::generator(6), b = gpm::test::generator(6), c = gpm::test::generator(6);
      const auto x = data::parse_dataset(spec, opts).sample(64, a);
      REQUIRE(torch::equal(x, data::parse_dataset(resolved, opts).sample(64, b)));
      REQUIRE_FALSE(torch::equal(x, data::parse_dataset(entry.name, opts).sample(64, c)));
    }
  }
}

TEST_CASE("dataset specs give the same points as before the dataset table", "[data][spec][registry]") {
  // Captured from the spec parser that preceded the table, on the CPU with gpm::make_generator(7):
  // the first three points of each spec, row by row.
  struct Captured {
    const char* spec;
    torch::Dtype dtype;
    std::vector<double> points;
  };
  const std::vector<Captured> captured{
      {"ring", torch::kFloat64,
       {2.983724013096031, 0.50552717456084773, -1.5413041110957977, 1.9783098128221765, 0.32108990735543375, 3.2513101822874821}},
      {"ring", torch::kFloat32,
       {2.9837241172790527, 0.50552719831466675, -1.5413041114807129, 1.9783097505569458, 0.32108992338180542, 3.2513101100921631}},
      {"ring:modes=8,radius=2,std=0.1", torch::kFloat64,
       {1.410958364992301, -1.3131081274609258, -1.8228506255941912, 0.042990811188951643, 1.2930213472192134, 1.4938416890534993}},
      {"grid", torch::kFloat64,
       {1.9967448026192063, -3.8988945650878306, 2.177149374405809, 0.0429908111889514, 3.8788077848461184, -1.9203718733195956}},
      {"grid:per_side=3, spacing=1", torch::kFloat64,
       {-1.0032551973807937, -0.89889456508783039, 0.17714937440580888, 0.0429908111889514, 0.87880778484611821, 0.079628126680404338}},
      {"moons", torch::kFloat64,
       {0.39882842475275748, -0.3643623103176577, 0.22830714339040065, -0.42291093108386846, -1.0793770405554279, 0.31908557398155207}},
      {" moons : noise = 0.2 ", torch::kFloat64,
       {0.4365793862026483, -0.45945354221074575, 0.10917742647527393, -0.58808750983039415, -1.2511470105342666, 0.21835046548142653}},
      {" moons : noise = 0.2 ", torch::kFloat32,
       {-0.35977247357368469, 0.61717414855957031, 0.27792719006538391, -0.22610576450824738, 1.164588451385498, -0.50386685132980347}},
      {"checkerboard", torch::kFloat64,
       {1.255122393803227, 1.4004915826154614, 0.037891377444036589, -1.1898529346008913, -1.5925180906675029, 0.65055516817623782}},
      {"checkerboard", torch::kFloat32,
       {1.6568902730941772, 1.2327616214752197, 0.42506140470504761, -1.7929139137268066, -1.3702635765075684, 0.36531615257263184}},
      {"checkerboard:cells=6,size=3", torch::kFloat64,
       {0.12756119690161344, -0.79975420869226932, -0.98105431127798171, 0.40507353269955437, -0.29625904533375147, -0.17472241591188109}},
      {"swissroll", torch::kFloat64,
       {0.59010840757015914, 1.0948185443405145, 0.82182562365495215, 1.1633133239095967, 2.3162477229579572, 0.62424950263173318}},
      {"swissroll", torch::kFloat32,
       {-1.849323034286499, -0.52944082021713257, 1.4344049692153931, 0.43587574362754822, -0.27459335327148438, -2.1000428199768066}},
      {"swissroll:noise=0", torch::kFloat64,
       {0.71524842064427452, 1.2832252961146782, 0.77725138261401239, 1.233996568582963, 2.4737445023347067, 0.68743439775606896}},
      {"ring:modes=5.0,radius=+3", torch::kFloat64,
       {2.983724013096031, 0.50552717456084773, -1.5413041110957977, 1.9783098128221765, 0.32108990735543375, 3.2513101822874821}},
      {"grid:std=1e-1", torch::kFloat64,
       {1.9967448026192063, -3.8988945650878306, 2.177149374405809, 0.0429908111889514, 3.8788077848461184, -1.9203718733195956}},
  };
  for (const auto& c : captured) {
    INFO(c.spec << " " << c10::toString(c.dtype));
    auto gen = gpm::make_generator(7);
    const auto x = data::parse_dataset(c.spec, torch::TensorOptions().dtype(c.dtype)).sample(3, gen);
    REQUIRE(torch::equal(x, torch::tensor(c.points, torch::kFloat64).view({3, 2}).to(c.dtype)));
  }
}

TEST_CASE("spec options: values typed by the declaration, written back exactly", "[data][spec]") {
  const auto read = [](std::string_view text) { return data::read_spec_options(text, SpecTestOptions(), "test"); };
  const auto o = read(" count = 7 , scale=-0.125,flag=true, shade=dark ");
  REQUIRE(o.count() == 7);
  REQUIRE(o.scale() == -0.125);
  REQUIRE(o.flag());
  REQUIRE(o.shade() == Shade::dark);
  REQUIRE(read("").count() == 3);
  REQUIRE(read("count=+4").count() == 4);
  REQUIRE(read("count=1e1").count() == 10);
  REQUIRE(data::write_spec_options(SpecTestOptions()) == "count=3,scale=0.1,flag=false,shade=light");
  REQUIRE(data::write_spec_options(o) == "count=7,scale=-0.125,flag=true,shade=dark");
  const auto third = SpecTestOptions().scale(1.0 / 3.0);
  REQUIRE(read(data::write_spec_options(third)).scale() == third.scale());
  REQUIRE(data::spec_option_names<SpecTestOptions>() == "count, scale, flag, shade");
  REQUIRE_THROWS_WITH(read("count=11"), Contains("test: the parameter 'count' must be in [1, 10], got 11"));
  REQUIRE_THROWS_WITH(read("flag=1"), Contains("test: the parameter 'flag' must be true or false, got '1'"));
  REQUIRE_THROWS_WITH(read("shade=grey"), Contains("the parameter 'shade' must be one of light, dark, got 'grey'"));
  REQUIRE_THROWS_WITH(read("size=1"), Contains("test: unknown parameter 'size'; valid parameters: count, scale, flag, shade"));
}

TEST_CASE("the dataset listing shows every entry with its summary, spec and option table", "[data][spec][registry]") {
  const auto text = data::builtin_datasets_text();
  const auto markdown = data::builtin_datasets_markdown();
  for (const auto& entry : data::builtin_datasets()) {
    REQUIRE_THAT(text, Contains(fmt::format("{}: {}", entry.name, entry.summary)));
    REQUIRE_THAT(markdown, Contains(fmt::format("## {}\n\n{}.", entry.name, entry.summary)));
    REQUIRE_THAT(text, Contains(fmt::format("with the defaults: {}\n", entry.defaults)));
    if (entry.positional.empty()) REQUIRE(entry.defaults == data::resolve_dataset_spec(entry.name));
    for (const auto& field : entry.fields) {
      REQUIRE_THAT(text, Contains(field.doc));
      const auto escaped = [](const std::string& text) {  // Markdown cells escape '|' ("train \| validation")
        std::string cell;
        for (const char c : text) cell += c == '|' ? std::string("\\|") : std::string(1, c);
        return cell;
      };
      REQUIRE_THAT(markdown, Contains(fmt::format("| `{}` | {} | `{}` | {} | {} |", field.name, field.type,
                                                  field.default_value, escaped(field.range), escaped(field.doc))));
    }
  }
  REQUIRE_THAT(text, Contains("ring:modes=5,radius=3,std=0.5") && Contains("modes   5        ≥ 1"));
  REQUIRE_THAT(text, Contains("with the defaults: images:DIR,size=32,channels=0\n"));
  REQUIRE_THAT(markdown, Contains("| `cells` | integer | `4` | ≥ 2 | cells per side of the board |"));
}

TEMPLATE_TEST_CASE("standardization: fitted data has mean 0 and unit mean variance; the map round-trips",
                   "[data][standardization][numeric]", float, double) {
  const torch::TensorOptions opts = torch::TensorOptions().dtype(c10::CppTypeToScalarType<TestType>::value);
  // Coordinates with different spreads and a far offset: x ~ 100 + 30 N(0, 1), y ~ -50 + 10 N(0, 1).
  auto gen = gpm::make_generator(5);
  const torch::Tensor points = torch::randn({4000, 2}, gen, opts) * torch::tensor({30.0, 10.0}, opts) + torch::tensor({100.0, -50.0}, opts);
  const data::Standardization z = data::Standardization::fit(points);
  REQUIRE(z.dim() == 2);
  REQUIRE(z.shift().scalar_type() == opts.dtype().toScalarType());
  // One scalar scale: sqrt((30² + 10²) / 2) ≈ 22.4 up to sampling error (about 2 %).
  REQUIRE(z.scale() == Approx(std::sqrt((900.0 + 100.0) / 2.0)).epsilon(0.03));
  const torch::Tensor standard = z.to_standard(points);
  REQUIRE(standard.mean(0).abs().max().item<double>() < 1e-4);
  REQUIRE(standard.var(0).mean().item<double>() == Approx(1.0).epsilon(1e-4));
  // Proportions are kept: the ratio of the coordinates' spreads is unchanged.
  REQUIRE((standard.std(0)[0] / standard.std(0)[1]).item<double>() ==
          Approx((points.std(0)[0] / points.std(0)[1]).item<double>()).epsilon(1e-5));
  const double tol = std::is_same_v<TestType, float> ? 1e-4 : 1e-10;
  REQUIRE(torch::allclose(z.from_standard(standard), points, tol, tol));
  // Velocities scale with the coordinates: a displacement dz is dx = scale · dz.
  const torch::Tensor dz = torch::randn({8, 2}, gen, opts);
  REQUIRE(torch::allclose(z.velocity_from_standard(dz), z.from_standard(standard.narrow(0, 0, 8) + dz) - points.narrow(0, 0, 8),
                          100 * tol, 100 * tol));
}

TEST_CASE("standardization refuses data it cannot standardize, naming the problem", "[data][standardization][errors]") {
  using data::Standardization;
  REQUIRE_THROWS_WITH(Standardization::fit(torch::ones({10, 2})), Contains("all 10 points are equal"));
  REQUIRE_THROWS_WITH(Standardization::fit(torch::zeros({1, 2})), Contains("N >= 2, got [1, 2]"));
  REQUIRE_THROWS_WITH(Standardization::fit(torch::zeros({10})), Contains("shape [N, D]"));
  REQUIRE_THROWS_WITH(Standardization::fit(torch::tensor({{0.0, 1.0}, {std::nan(""), 2.0}})), Contains("NaN or infinite"));
  REQUIRE_THROWS_WITH(Standardization::fit(torch::ones({4, 2}, torch::kLong)), Contains("floating point, got Long"));
  REQUIRE_THROWS_WITH(Standardization(torch::zeros({2}), 0.0), Contains("scale must be finite and > 0, got 0"));
  REQUIRE_THROWS_WITH(Standardization(torch::zeros({2, 1}), 1.0), Contains("shift must have shape [D]"));
  const Standardization z(torch::zeros({2}), 2.0);
  REQUIRE_THROWS_WITH(z.to_standard(torch::zeros({4, 3})), Contains("points must have shape [N, 2], got [4, 3]"));
}

TEMPLATE_TEST_CASE("CSV headers: a first line is a header only when no cell is or begins like a number",
                   "[data][csv][errors]", float, double) {
  const TempDir dir;
  const auto opts = gpm::test::options<TestType>();
  const auto read = [&](const char* name, const char* text) { return data::PointCloud::from_csv(dir.write(name, text), opts); };
  const auto expected = torch::tensor({1.0, 2.0, 3.0, 4.0}, opts).view({2, 2});
  // A UTF-8 byte order mark is skipped, not taken for a header's start: both rows stay.
  REQUIRE(torch::equal(read("bom.csv", "\xEF\xBB\xBF" "1,2\n3,4\n").points(), expected));
  REQUIRE(torch::equal(read("bom_header.csv", "\xEF\xBB\xBF" "x,y\n1,2\n3,4\n").points(), expected));
  // Names of any form that does not begin like a number, an empty one included.
  REQUIRE(torch::equal(read("names.csv", " x (cm) ,\"y\"\n1,2\n3,4\n").points(), expected));
  REQUIRE(torch::equal(read("empty_name.csv", "x,\n1,2\n3,4\n").points(), expected));
  REQUIRE(torch::equal(read("signs.csv", "-,+\n1,2\n3,4\n").points(), expected));
  // A first line mixing numbers and non-numbers, or with a cell that begins like a number, is an
  // error naming the line and the cell: a typo, a hexadecimal value.
  const std::vector<std::pair<const char*, const char*>> bad{
      {"2.o,1\n3,4\n", "line 1, column 1: '2.o' is not a number, but column 2 ('1') is; a first line is a header"},
      {"x,1\n3,4\n", "line 1, column 1: 'x' is not a number, but column 2 ('1') is"},
      {"1,0x1F\n3,4\n", "line 1, column 2: '0x1F' is not a number (hexadecimal is not read: write it in decimal), but column 1"},
      {"0x1,0x2\n3,4\n", "line 1, column 1: '0x1' is not a number (hexadecimal is not read: write it in decimal) but begins "
                         "like one, so the line is neither a header"},
      {"x,2y\n3,4\n", "line 1, column 2: '2y' is not a number but begins like one"},
      {"\n\n-.5q,y\n3,4\n", "line 3, column 1: '-.5q' is not a number but begins like one"},
      {"x,y\n1,2\n3,-0X4\n", "line 3, column 2: '-0X4' is not a number (hexadecimal is not read: write it in decimal); every "
                              "cell after the optional header line must be a number"},
      {"1,2\nx,y\n", "line 2, column 1: 'x' is not a number; every cell after the optional header line"},
  };
  for (const auto& [text, message] : bad) {
    INFO(text);
    const auto path = dir.write("bad.csv", text);
    REQUIRE_THROWS_AS(data::PointCloud::from_csv(path, opts), gpm::InvalidArgument);
    REQUIRE_THROWS_WITH(data::PointCloud::from_csv(path, opts), Contains(path) && Contains(message));
  }
}

TEMPLATE_TEST_CASE("CSV headers: --header yes and no", "[data][csv][spec][errors]", float, double) {
  using data::CsvHeader;
  const TempDir dir;
  const auto opts = gpm::test::options<TestType>();
  const auto read = [&](const std::string& path, CsvHeader header) {
    return data::PointCloud::from_csv(path, opts, header).points();
  };
  const auto expected = torch::tensor({1.0, 2.0, 3.0, 4.0}, opts).view({2, 2});
  // yes: the first line (blank lines and a byte order mark aside) is skipped whatever it holds.
  for (const char* first : {"9,9", "2019,2020", "1st,2nd", "x,1", "0x1,0x2", "x,y"}) {
    INFO(first);
    REQUIRE(torch::equal(read(dir.write("yes.csv", fmt::format("\n{}\n1,2\n3,4\n", first)), CsvHeader::present), expected));
  }
  REQUIRE(torch::equal(read(dir.write("bom.csv", "\xEF\xBB\xBF" "2019,2020\n1,2\n3,4\n"), CsvHeader::present), expected));
  REQUIRE_THROWS_WITH(read(dir.write("only.csv", "9,9\n"), CsvHeader::present), Contains("holds no data rows"));
  // no: a first line of numbers is data, as with auto; one of names is an error naming line 1.
  const auto numbers = dir.write("numbers.csv", "9,9\n1,2\n3,4\n");
  REQUIRE(read(numbers, CsvHeader::absent).size(0) == 3);
  REQUIRE(torch::equal(read(numbers, CsvHeader::absent), read(numbers, CsvHeader::automatic)));
  const auto named = dir.write("named.csv", "x,y\n1,2\n3,4\n");
  REQUIRE(torch::equal(read(named, CsvHeader::automatic), expected));
  REQUIRE_THROWS_AS(read(named, CsvHeader::absent), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(read(named, CsvHeader::absent),
                      Contains(named) && Contains("line 1, column 1: 'x' is not a number; the file is read without a header "
                                                  "line (header \"no\"), so every line is data"));
  REQUIRE_THROWS_WITH(read(dir.write("later.csv", "\n\nx,y\n1,2\n"), CsvHeader::absent), Contains("line 3, column 1"));
  // parse_dataset reads a CSV spec with the choice (the row 9,9 is skipped, or drawn), and the names.
  auto gen = gpm::test::generator(19);
  const torch::Tensor skipped = data::parse_dataset(numbers, opts, CsvHeader::present).sample(100, gen);
  const torch::Tensor kept = data::parse_dataset(numbers, opts, CsvHeader::automatic).sample(100, gen);
  REQUIRE((skipped != 9).all().item<bool>());
  REQUIRE((kept == 9).any().item<bool>());
  REQUIRE(data::is_csv_spec(numbers));
  REQUIRE(data::is_csv_spec("points.csv"));
  REQUIRE_FALSE(data::is_csv_spec("ring:modes=3"));
  REQUIRE_FALSE(data::is_csv_spec("images:faces/,size=32"));
  for (const auto header : {CsvHeader::automatic, CsvHeader::present, CsvHeader::absent})
    REQUIRE(data::find_csv_header(data::csv_header_name(header)) == header);
  REQUIRE(data::csv_header_name(CsvHeader::automatic) == "auto");
  REQUIRE(data::csv_header_name(CsvHeader::present) == "yes");
  REQUIRE(data::csv_header_name(CsvHeader::absent) == "no");
  REQUIRE_FALSE(data::find_csv_header("maybe").has_value());
}

TEST_CASE("numbers are checked in the dtype they are stored in", "[data][csv][spec][errors]") {
  const TempDir dir;
  const auto as = [](torch::Dtype dtype) { return torch::TensorOptions().dtype(dtype); };
  // A CSV value finite as a double but not as a float.
  const auto big = dir.write("big.csv", "1,2\n3,-1e39\n");
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(big, as(torch::kFloat32)),
                      Contains(big) && Contains("line 2, column 2: '-1e39' is beyond the largest value of dtype Float, "
                                                "3.40282e+38, in which the points are stored"));
  REQUIRE(data::PointCloud::from_csv(big, as(torch::kFloat64)).points()[1][1].item<double>() == -1e39);
  REQUIRE(torch::isfinite(data::PointCloud::from_csv(dir.write("max.csv", "3.4028234e38\n"), as(torch::kFloat32)).points())
              .all().item<bool>());
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("half.csv", "70000\n"), as(torch::kFloat16)),
                      Contains("'70000' is beyond the largest value of dtype Half, 65504"));
  // Too small for a double is zero, the nearest double (it used to be refused as not finite); too large is not finite.
  const auto tiny = data::PointCloud::from_csv(dir.write("tiny.csv", "1e-400,-1e-400\n0.5,1e-310\n")).points();
  REQUIRE(tiny[0][0].item<double>() == 0.0);
  REQUIRE(std::signbit(tiny[0][1].item<double>()));
  REQUIRE(tiny[1][1].item<double>() == 1e-310);
  REQUIRE_THROWS_WITH(data::PointCloud::from_csv(dir.write("huge.csv", "1,-1e400\n")),
                      Contains("line 1, column 2: '-1e400' is not finite"));
  REQUIRE_THROWS_WITH(data::parse_dataset("ring:std=1e-400"), Contains("the parameter 'std' must be > 0, got 0"));
  // Datasets whose points would overflow their dtype, though every option is a finite double.
  const std::vector<std::pair<const char*, const char*>> overflowing{
      {"ring:radius=1e300", "GaussianRing: its points reach 1e+300 (centres up to 1e+300 plus 10 standard deviations of 0.5)"},
      {"ring:std=1e38", "GaussianRing: its points reach 1e+39"},
      {"grid:spacing=1e39", "GaussianGrid: its points reach 2e+39"},
      {"moons:noise=1e38", "TwoMoons: its points reach 1e+39"},
      {"checkerboard:size=1e39", "Checkerboard: its points reach 1e+39 (the board's side 1e+39)"},
      {"swissroll:noise=1e38", "SwissRoll: its points reach 1e+39"},
  };
  for (const auto& [spec, message] : overflowing) {
    INFO(spec);
    REQUIRE_THROWS_WITH(data::parse_dataset(spec), Contains(fmt::format("dataset spec '{}': {}", spec, message)) &&
                                                       Contains("beyond the largest value of dtype Float, 3.40282e+38"));
    auto gen = gpm::make_generator(3);
    REQUIRE(torch::isfinite(data::parse_dataset(spec, as(torch::kFloat64)).sample(100, gen)).all().item<bool>());
  }
  auto gen = gpm::make_generator(3);
  REQUIRE(torch::isfinite(data::parse_dataset("ring:radius=1e37", as(torch::kFloat32)).sample(100, gen)).all().item<bool>());
}

namespace {
/// Spec options of narrower types than a double.
struct NarrowSpecOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int32_t, count, Range::any(), "an int32_t") = 1;
  GPM_OPTION(float, scale, Range::any(), "a float") = 1.0f;
  GPM_OPTIONS_END
};
}  // namespace

TEST_CASE("spec values are checked in their option's type before conversion", "[data][spec][errors]") {
  const auto read = [](std::string_view text) { return data::read_spec_options(text, NarrowSpecOptions(), "narrow"); };
  CHECK(read("count=-2147483648,scale=-3e38").count() == -2147483647 - 1);
  REQUIRE_THROWS_WITH(read("count=2147483648"),
                      Contains("narrow: the parameter 'count' must be an integer from -2147483648 to 2147483647, got '2147483648'"));
  REQUIRE_THROWS_WITH(read("count=-4294967296"), Contains("must be an integer from -2147483648 to 2147483647"));
  REQUIRE_THROWS_WITH(read("scale=1e39"),
                      Contains("narrow: the parameter 'scale' must be a number of magnitude at most 3.4028235e+38, got '1e39'"));
}
