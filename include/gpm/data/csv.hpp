// Numeric CSV text read into rows of numbers, without tensors: the format of PointCloud::from_csv
// (point_cloud.hpp), and the cell helpers that dataset specs share with it. Kept free of LibTorch
// so that any compiler that reads C++20 can build it, fuzzers included.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "gpm/core/errors.hpp"

namespace gpm::data {

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

/// For a decimal number beyond a double's range: whether it is beyond it below, too small to tell
/// from zero ("1e-400"), rather than too large ("1e400"), i.e. whether the place of its first
/// significant digit is a negative power of ten.
inline bool underflows(std::string_view number) {
  const auto e = number.find_first_of("eE");
  const auto mantissa = number.substr(0, e);
  const auto point = std::min(mantissa.find('.'), mantissa.size());
  const auto first = mantissa.find_first_of("123456789");
  if (first == std::string_view::npos) return true;  // zero, which no double misses
  // 10^(point − first − 1) before the point, 10^(point − first) after it.
  auto place = static_cast<int64_t>(point) - static_cast<int64_t>(first) - (first < point ? 1 : 0);
  if (e != std::string_view::npos) {
    auto digits = number.substr(e + 1);
    const bool negative = digits.starts_with('-');
    if (negative || digits.starts_with('+')) digits.remove_prefix(1);
    int64_t exponent = 0;
    if (std::from_chars(digits.data(), digits.data() + digits.size(), exponent).ec == std::errc::result_out_of_range)
      exponent = int64_t{1} << 62;  // beyond any place a text can move it back from
    place += negative ? -exponent : exponent;
  }
  return place < 0;
}

/// Parses the whole of `text` as a decimal number (an optional leading '+' is accepted; "nan" and
/// "inf" parse and are rejected later as non-finite). False if any character is left over. A
/// number too large for a double is infinite (and so rejected later); one too small for it is
/// zero, the double nearest to it, as strtod reads it.
inline bool parse_number(std::string_view text, double& value) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) {
    value = std::copysign(underflows(text) ? 0.0 : std::numeric_limits<double>::infinity(), text.starts_with('-') ? -1.0 : 1.0);
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

}  // namespace detail

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

/// The numbers of a CSV text, row after row: `values` holds rows × columns numbers.
struct CsvNumbers {
  std::vector<double> values;
  int64_t rows = 0, columns = 0;
};

/// The type the numbers will be stored in, whose range they must fit: its name as messages give
/// it ("Float") and its largest finite value.
struct CsvStorage {
  std::string type = "Double";
  double largest = std::numeric_limits<double>::max();
};

/// Reads the numeric CSV text of `in` (see PointCloud::from_csv for the format), its first line read
/// as `header` says, every value finite and within `storage`'s range; `source` names the text (a file's path) in errors, which are
/// gpm::InvalidArgument naming the line and the column. Reading stops at the end of `in`.
/// Example: `std::istringstream text("x,y\n1,2\n"); auto csv = data::read_csv_numbers(text, "inline");`
inline CsvNumbers read_csv_numbers(std::istream& in, std::string_view source, const CsvStorage& storage = {},
                                   CsvHeader header = CsvHeader::automatic) {
  CsvNumbers csv;
  int64_t first_data_line = 0;
  bool seen_first_line = false;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line_number == 1 && line.starts_with(detail::kUtf8ByteOrderMark)) line.erase(0, detail::kUtf8ByteOrderMark.size());
    if (detail::trim(line).empty()) continue;  // blank lines (e.g. trailing ones) carry no data
    const auto cells = detail::split_cells(line);
    std::vector<double> row(cells.size());
    size_t bad = cells.size(), number = cells.size();  // the first cell that is not a number, the first that is
    for (size_t c = 0; c < cells.size(); ++c) {
      if (!detail::parse_number(cells[c], row[c])) bad = std::min(bad, c);
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
                "columns", source, line_number, bad + 1, detail::not_a_number(cells[bad]));
    }
    if (!seen_first_line) {
      seen_first_line = true;
      // A header names the columns: no cell of it is or begins like a number. Any other first line is data.
      const auto like_number =
          std::find_if(cells.begin(), cells.end(), [](auto cell) { return !detail::is_column_name(cell); });
      if (like_number == cells.end()) continue;
      GPM_CHECK(number == cells.size() || bad == cells.size(), "PointCloud: '{}' line {}, column {}: {}, but column {} "
                "('{}') is; a first line is a header (no cell a number) or data (every cell a number), so this one is "
                "neither: fix the cell, or read the file with header \"yes\" if the line names the columns", source,
                line_number, bad + 1, detail::not_a_number(cells[bad]), number + 1, cells[number]);
      const auto c = static_cast<size_t>(like_number - cells.begin());
      GPM_CHECK(bad == cells.size(), "PointCloud: '{}' line {}, column {}: {} but begins like one, so the line is "
                "neither a header (whose names must not begin like numbers) nor data: fix the cell, or read the file "
                "with header \"yes\" if the line names the columns", source,
                line_number, c + 1, detail::not_a_number(cells[c]));
    }
    GPM_CHECK(bad == cells.size(), "PointCloud: '{}' line {}, column {}: {}; every cell after the optional header "
              "line must be a number", source, line_number, bad + 1, detail::not_a_number(cells[bad]));
    if (csv.rows == 0) {
      csv.columns = static_cast<int64_t>(cells.size());
      first_data_line = line_number;
    }
    GPM_CHECK(static_cast<int64_t>(cells.size()) == csv.columns, "PointCloud: '{}' line {} has {} values, expected "
              "{} like the first data row (line {}); every row must have the same number of columns", source,
              line_number, cells.size(), csv.columns, first_data_line);
    for (size_t c = 0; c < row.size(); ++c) {
      GPM_CHECK(std::isfinite(row[c]), "PointCloud: '{}' line {}, column {}: '{}' is not finite (NaN or "
                "infinite values are not allowed)", source, line_number, c + 1, cells[c]);
      GPM_CHECK(std::abs(row[c]) <= storage.largest, "PointCloud: '{}' line {}, column {}: '{}' is beyond the largest "
                "value of dtype {}, {:g}, in which the points are stored; rescale the data{}", source, line_number,
                c + 1, cells[c], storage.type, storage.largest, storage.type == "Double" ? "" : " or load it as Double");
    }
    csv.values.insert(csv.values.end(), row.begin(), row.end());
    ++csv.rows;
  }
  GPM_CHECK(!in.bad(), "PointCloud: reading '{}' failed", source);
  GPM_CHECK(csv.rows > 0, "PointCloud: '{}' holds no data rows; expected one comma-separated point per line, "
            "after an optional header line", source);
  return csv;
}

}  // namespace gpm::data
