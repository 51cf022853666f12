// A dataset given by a finite set of points (a CSV file or a tensor), sampled with replacement,
// and write_csv to save points in the same format.
#pragma once

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <fmt/format.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/data/csv.hpp"
#include "gpm/data/dataset.hpp"
#include "gpm/io/files.hpp"

namespace gpm::data {

namespace detail {

/// Reads the rows of a numeric CSV file into a [rows, columns] float64 CPU tensor whose values are
/// all finite in `dtype`, the dtype they will be stored in, its first line read as `header` says;
/// see PointCloud::from_csv for the format.
inline torch::Tensor read_csv_points(const std::string& path, torch::ScalarType dtype = torch::kFloat64,
                                     CsvHeader header = CsvHeader::automatic) {
  namespace fs = std::filesystem;
  std::error_code ec;
  GPM_CHECK(fs::exists(path, ec), "PointCloud: the file '{}' does not exist; give the path of a CSV file "
            "with one point per row", path);
  GPM_CHECK(!fs::is_directory(path, ec), "PointCloud: '{}' is a directory; give the path of a CSV file", path);
  std::ifstream file(path);
  GPM_CHECK(file.is_open(), "PointCloud: the file '{}' cannot be read ({}); check its permissions", path,
            std::generic_category().message(errno));

  const auto csv = read_csv_numbers(file, path, {std::string(c10::toString(dtype)), largest_finite(dtype)}, header);
  return torch::tensor(csv.values, torch::kFloat64).view({csv.rows, csv.columns});
}

}  // namespace detail

/// A finite set of points {p_1, ..., p_M} [M, D] seen as the empirical distribution (1/M) Σ δ_{p_i}:
/// `sample(n, gen)` draws n rows uniformly with replacement. Models gpm::data::Dataset.
/// Example: `auto cloud = PointCloud::from_csv("data/spiral.csv");`
class PointCloud {
 public:
  /// Loads a CSV file (read by read_csv_numbers, csv.hpp): one point per line, comma-separated
  /// decimal numbers; blank lines and a UTF-8 byte order mark are skipped. With `header` automatic (the default), the first line is a header,
  /// and skipped, when none of its cells is a number or begins like one ("x,y"); it is data when
  /// every cell is a number; anything else is an error, so that no row of numbers is ever taken for
  /// a header ("2.o,1", "0x1F,2" are errors: hexadecimal is not read). CsvHeader::present skips the
  /// first line whatever it holds; CsvHeader::absent reads it as data. Throws gpm::InvalidArgument
  /// naming the file, the line and the column for a missing file, no data rows, a cell that is not a
  /// number, rows of unequal length, or a value that is NaN, infinite or beyond the largest value of
  /// `options`' dtype.
  static PointCloud from_csv(const std::string& path, torch::TensorOptions options = default_options(),
                             CsvHeader header = CsvHeader::automatic) {
    data::detail::check_options(options, "PointCloud::from_csv");
    return PointCloud(data::detail::read_csv_points(path, c10::typeMetaToScalarType(options.dtype()), header).to(options));
  }

  /// Wraps `points` [M, D] (floating point, finite); samples keep their dtype and device.
  static PointCloud from_tensor(torch::Tensor points) {
    GPM_CHECK(points.defined() && points.dim() == 2 && points.size(0) > 0 && points.size(1) > 0,
              "PointCloud::from_tensor: points must have shape [M, D] with M, D >= 1, got {}",
              points.defined() ? shape_string(points) : std::string("an undefined tensor"));
    GPM_CHECK(points.is_floating_point(), "PointCloud::from_tensor: points have dtype {}, expected a "
              "floating-point dtype", std::string(c10::toString(points.scalar_type())));
    check_finite(points, "PointCloud::from_tensor", "points");
    return PointCloud(points.detach());
  }

  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    data::detail::check_draw(n, gen, points_.device(), "PointCloud::sample");
    const auto row = torch::randint(size(), {n}, gen, points_.options().dtype(torch::kLong));
    return points_.index_select(0, row);
  }
  int64_t dim() const { return points_.size(1); }
  /// Number of stored points M.
  int64_t size() const { return points_.size(0); }
  /// All stored points, [M, D].
  const torch::Tensor& points() const { return points_; }

 private:
  explicit PointCloud(torch::Tensor points) : points_(std::move(points)) {}
  torch::Tensor points_;
};

/// Writes `points` [N, D] to `path` as CSV, one point per line, after an optional header line
/// (one name per column). Values are printed in the shortest form that reads back to the same
/// float (for float32 and below) or double (for float64), so write_csv → PointCloud::from_csv
/// round-trips exactly. The file is written atomically (gpm/io/files.hpp): a process stopped while
/// writing leaves at `path` the previous file or the complete new one, never a part of one.
/// Example: `write_csv("samples.csv", x, {"x", "y"});`
inline void write_csv(const std::string& path, const torch::Tensor& points,
                      const std::vector<std::string>& header = {}) {
  GPM_CHECK(points.defined() && points.dim() == 2, "write_csv: points must have shape [N, D], got {}",
            points.defined() ? shape_string(points) : std::string("an undefined tensor"));
  GPM_CHECK(header.empty() || static_cast<int64_t>(header.size()) == points.size(1), "write_csv: the header "
            "names {} columns but the points have {}", header.size(), points.size(1));
  for (const auto& name : header) {
    GPM_CHECK(name.find_first_of(",\n\r") == std::string::npos, "write_csv: the header name '{}' contains a "
              "comma or a line break; choose plain column names", name);
    GPM_CHECK(detail::is_column_name(detail::trim(name)), "write_csv: the header name '{}' is or begins like a "
              "number, so the header would not read back as one; use names such as x, y", name);
  }
  const bool as_double = points.scalar_type() == torch::kFloat64;
  const auto host = points.detach().cpu().to(as_double ? torch::kFloat64 : torch::kFloat32).contiguous();
  fmt::memory_buffer out;
  for (size_t j = 0; j < header.size(); ++j) fmt::format_to(std::back_inserter(out), "{}{}", j ? "," : "", header[j]);
  if (!header.empty()) out.push_back('\n');
  const auto rows = host.size(0), columns = host.size(1);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < columns; ++j) {
      if (j) out.push_back(',');
      if (as_double) fmt::format_to(std::back_inserter(out), "{}", host.data_ptr<double>()[i * columns + j]);
      else fmt::format_to(std::back_inserter(out), "{}", host.data_ptr<float>()[i * columns + j]);
    }
    out.push_back('\n');
  }
  io::write_file_atomically(path, std::string_view(out.data(), out.size()));
}

}  // namespace gpm::data
