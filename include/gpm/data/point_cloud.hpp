// A dataset given by a finite set of points (a CSV file or a tensor), sampled with replacement,
// and write_csv to save points in the same format.
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <fmt/format.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/data/dataset.hpp"
#include "gpm/io/files.hpp"

namespace gpm::data {

/// How a CSV file's first line (blank lines aside) is read. Its names, as the runner's --header takes
/// them and run.json keeps them, are "auto", "yes" and "no".
/// Example: `PointCloud::from_csv("years.csv", default_options(), CsvHeader::present);`
enum class CsvHeader {
  automatic,  ///< "auto": a header when no cell is or begins like a number, data when every cell is one, else an error
  present,    ///< "yes": a header, skipped whatever it holds (names that begin like numbers, "2019,2020")
  absent,     ///< "no": data, so a cell that is not a number is an error naming the line
};

/// The name of `header`: "auto", "yes" or "no". Example: `csv_header_name(CsvHeader::present)` is "yes".
inline std::string_view csv_header_name(CsvHeader header) {
  switch (header) {
    case CsvHeader::present: return "yes";
    case CsvHeader::absent: return "no";
    case CsvHeader::automatic: break;
  }
  return "auto";
}

/// The choice named `name` ("auto", "yes", "no"), if it names one. Example: `find_csv_header("no")`.
inline std::optional<CsvHeader> find_csv_header(std::string_view name) {
  for (const auto header : {CsvHeader::automatic, CsvHeader::present, CsvHeader::absent})
    if (csv_header_name(header) == name) return header;
  return std::nullopt;
}

namespace detail {

/// `text` without leading and trailing spaces, tabs and carriage returns.
inline std::string_view trim(std::string_view text) {
  constexpr std::string_view blank = " \t\r";
  const auto first = text.find_first_not_of(blank);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blank) - first + 1);
}

/// The comma-separated cells of one line, each trimmed.
inline std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  for (size_t start = 0;;) {
    const auto comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

/// Parses the whole of `text` as a decimal number (an optional leading '+' is accepted; "nan" and
/// "inf" parse and are rejected later as non-finite). False if any character is left over.
inline bool parse_number(std::string_view text, double& value) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) {
    value = std::numeric_limits<double>::infinity();  // reported as non-finite by the caller
    return end == text.data() + text.size();
  }
  return error == std::errc() && end == text.data() + text.size();
}

/// Whether `text` begins as a decimal number does: a digit, or a sign or point before one ("-.5",
/// "2.o", "0x1F"). Such a cell is data, mistyped or not: it never names a column.
inline bool begins_like_number(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  if (i < text.size() && text[i] == '.') ++i;
  return i < text.size() && text[i] >= '0' && text[i] <= '9';
}

/// Whether `text` is a name: not a number, and not beginning like one ("x", "height (cm)", "").
inline bool is_column_name(std::string_view text) {
  double ignored = 0;
  return !parse_number(text, ignored) && !begins_like_number(text);
}

/// "'2.o' is not a number", with why for a hexadecimal cell, which is not read.
inline std::string not_a_number(std::string_view cell) {
  const auto digits = cell.substr(cell.starts_with('-') || cell.starts_with('+') ? 1 : 0);
  const bool hexadecimal = digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
  return fmt::format("'{}' is not a number{}", cell, hexadecimal ? " (hexadecimal is not read: write it in decimal)" : "");
}

/// A UTF-8 byte order mark, which some editors write at the start of a file.
inline constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";

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

  const double largest = largest_finite(dtype);
  std::vector<double> values;
  int64_t columns = 0, rows = 0, first_data_line = 0;
  bool seen_first_line = false;
  std::string line;
  for (int64_t line_number = 1; std::getline(file, line); ++line_number) {
    if (line_number == 1 && line.starts_with(kUtf8ByteOrderMark)) line.erase(0, kUtf8ByteOrderMark.size());
    if (trim(line).empty()) continue;  // blank lines (e.g. trailing ones) carry no data
    const auto cells = split_cells(line);
    std::vector<double> row(cells.size());
    size_t bad = cells.size(), number = cells.size();  // the first cell that is not a number, the first that is
    for (size_t c = 0; c < cells.size(); ++c) {
      if (!parse_number(cells[c], row[c])) bad = std::min(bad, c);
      else number = std::min(number, c);
    }
    if (!seen_first_line && header == CsvHeader::present) {
      seen_first_line = true;
      continue;
    }
    if (!seen_first_line && header == CsvHeader::absent) {
      seen_first_line = true;
      GPM_CHECK(bad == cells.size(), "PointCloud: '{}' line {}, column {}: {}; the file is read without a header line "
                "(header \"no\"), so every line is data: read it with header \"yes\" or \"auto\" if this line names the "
                "columns", path, line_number, bad + 1, not_a_number(cells[bad]));
    }
    if (!seen_first_line) {
      seen_first_line = true;
      // A header names the columns: no cell of it is or begins like a number. Any other first line is data.
      const auto like_number = std::find_if(cells.begin(), cells.end(), [](auto cell) { return !is_column_name(cell); });
      if (like_number == cells.end()) continue;
      GPM_CHECK(number == cells.size() || bad == cells.size(), "PointCloud: '{}' line {}, column {}: {}, but column {} "
                "('{}') is; a first line is a header (no cell a number) or data (every cell a number), so this one is "
                "neither: fix the cell, or read the file with header \"yes\" if the line names the columns", path,
                line_number, bad + 1, not_a_number(cells[bad]), number + 1, cells[number]);
      const auto c = static_cast<size_t>(like_number - cells.begin());
      GPM_CHECK(bad == cells.size(), "PointCloud: '{}' line {}, column {}: {} but begins like one, so the line is "
                "neither a header (whose names must not begin like numbers) nor data: fix the cell, or read the file "
                "with header \"yes\" if the line names the columns", path, line_number, c + 1, not_a_number(cells[c]));
    }
    GPM_CHECK(bad == cells.size(), "PointCloud: '{}' line {}, column {}: {}; every cell after the optional header "
              "line must be a number", path, line_number, bad + 1, not_a_number(cells[bad]));
    if (rows == 0) {
      columns = static_cast<int64_t>(cells.size());
      first_data_line = line_number;
    }
    GPM_CHECK(static_cast<int64_t>(cells.size()) == columns, "PointCloud: '{}' line {} has {} values, expected "
              "{} like the first data row (line {}); every row must have the same number of columns", path,
              line_number, cells.size(), columns, first_data_line);
    for (size_t c = 0; c < row.size(); ++c) {
      GPM_CHECK(std::isfinite(row[c]), "PointCloud: '{}' line {}, column {}: '{}' is not finite (NaN or "
                "infinite values are not allowed)", path, line_number, c + 1, cells[c]);
      GPM_CHECK(std::abs(row[c]) <= largest, "PointCloud: '{}' line {}, column {}: '{}' is beyond the largest value "
                "of dtype {}, {:g}, in which the points are stored; rescale the data{}", path, line_number, c + 1,
                cells[c], std::string(c10::toString(dtype)), largest, dtype == torch::kFloat64 ? "" : " or load it as Double");
    }
    values.insert(values.end(), row.begin(), row.end());
    ++rows;
  }
  GPM_CHECK(!file.bad(), "PointCloud: reading '{}' failed", path);
  GPM_CHECK(rows > 0, "PointCloud: '{}' holds no data rows; expected one comma-separated point per line, "
            "after an optional header line", path);
  return torch::tensor(values, torch::kFloat64).view({rows, columns});
}

}  // namespace detail

/// A finite set of points {p_1, ..., p_M} [M, D] seen as the empirical distribution (1/M) Σ δ_{p_i}:
/// `sample(n, gen)` draws n rows uniformly with replacement. Models gpm::data::Dataset.
/// Example: `auto cloud = PointCloud::from_csv("data/spiral.csv");`
class PointCloud {
 public:
  /// Loads a CSV file: one point per line, comma-separated decimal numbers; blank lines and a UTF-8
  /// byte order mark are skipped. With `header` automatic (the default), the first line is a header,
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
