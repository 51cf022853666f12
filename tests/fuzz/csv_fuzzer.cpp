// CSV point clouds (gpm/data/csv.hpp), read with each header rule: any text is read into numbers
// or refused with gpm::InvalidArgument; numbers read are finite and within the storage type; written
// back in the shortest form (as write_csv writes them), they read back the same.
#include <cfloat>
#include <cmath>
#include <sstream>
#include <string>

#include <gpm/data/csv.hpp>

#include "fuzz_support.hpp"

namespace {

void check(std::string_view text, const gpm::data::CsvStorage& storage, gpm::data::CsvHeader header) {
  std::istringstream in{std::string(text)};
  gpm::data::CsvNumbers csv;
  try {
    csv = gpm::data::read_csv_numbers(in, "fuzz.csv", storage, header);
  } catch (const gpm::InvalidArgument&) {
    return;
  }
  gpm::fuzz::require(csv.rows > 0 && csv.columns > 0 && csv.values.size() == static_cast<size_t>(csv.rows * csv.columns),
                     "{} rows of {} columns hold {} values", csv.rows, csv.columns, csv.values.size());
  std::string written;
  for (int64_t r = 0; r < csv.rows; ++r) {
    for (int64_t c = 0; c < csv.columns; ++c) {
      const double v = csv.values[static_cast<size_t>(r * csv.columns + c)];
      gpm::fuzz::require(std::isfinite(v) && std::abs(v) <= storage.largest, "{} read for {}", v, storage.type);
      written += fmt::format("{}{}", c ? "," : "", v);
    }
    written += '\n';
  }
  std::istringstream again(written);
  const auto back = gpm::data::read_csv_numbers(again, "written.csv", storage, gpm::data::CsvHeader::absent);
  gpm::fuzz::require(back.values == csv.values && back.columns == csv.columns, "'{}' reads back otherwise", written);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto text = gpm::fuzz::as_text(data, size);
  using gpm::data::CsvHeader;
  for (const auto header : {CsvHeader::automatic, CsvHeader::present, CsvHeader::absent}) {
    check(text, {}, header);
    check(text, {"Float", FLT_MAX}, header);
  }
  return 0;
}
