// Dataset specs for command-line runners: "ring:modes=8,std=0.1" names an entry of the dataset
// table (registry.hpp) with its options, "points.csv" a CSV file; either becomes an AnyDataset.
#pragma once

#include <string>
#include <string_view>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/data/any_dataset.hpp"
#include "gpm/data/dataset.hpp"
#include "gpm/data/point_cloud.hpp"
#include "gpm/data/registry.hpp"

namespace gpm::data {

namespace detail {

/// A spec split into its trimmed text and either a file's path (the text) or a dataset's name and
/// its "key=value,..." parameters.
struct SplitSpec {
  std::string_view text, name, parameters;
  bool is_file = false;
};

inline SplitSpec split_spec(std::string_view spec) {
  const auto text = trim(spec);
  GPM_CHECK(!text.empty(), "dataset spec is empty; give one of: {}, or the path of a CSV file",
            describe_builtin_datasets());
  const auto colon = text.find(':');
  const auto name = trim(text.substr(0, colon));
  const auto parameters = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  // A built-in name before ':' wins over the path test, so that "images:faces/" names a dataset.
  const bool names_dataset = colon != std::string_view::npos && find_builtin_dataset(name) != nullptr;
  if (!names_dataset && (text.find('/') != std::string_view::npos || text.ends_with(".csv"))) return {text, {}, {}, true};
  return {text, name, parameters, false};
}

/// The table entry a spec names; throws listing every name.
inline const DatasetEntry& spec_entry(const SplitSpec& spec) {
  const auto* entry = find_builtin_dataset(spec.name);
  GPM_CHECK(entry != nullptr, "dataset spec '{}': unknown dataset '{}'; valid names: {}, or the path of a CSV file "
            "(containing '/' or ending in .csv)", spec.text, spec.name, describe_builtin_datasets());
  return *entry;
}

}  // namespace detail

/// Whether `spec` is the path of a CSV file (containing '/' or ending in ".csv", and not beginning
/// with a built-in dataset's name and ':'), not a built-in dataset. Throws for an empty spec.
/// Example: `is_csv_spec("data/points.csv")` is true, `is_csv_spec("images:faces/")` false.
inline bool is_csv_spec(std::string_view spec) { return detail::split_spec(spec).is_file; }

/// Parses a dataset spec: `name` or `name:key=value,key=value`, the name of an entry of
/// builtin_datasets() and values of its options, e.g.
///   ring:modes=5,radius=3,std=0.5      (GaussianRing)
///   grid:per_side=5,spacing=2,std=0.1  (GaussianGrid)
///   moons:noise=0.1                    (TwoMoons)
///   checkerboard:cells=4,size=4        (Checkerboard)
///   swissroll:noise=0.1                (SwissRoll)
///   mnist:split=train                  (Mnist)
///   images:faces/,size=32,channels=3   (ImageFolder: the folder first, without dir=)
/// where omitted options keep the defaults shown (builtin_datasets_text() lists them all). Any
/// other spec containing '/' or ending in ".csv" is the path of a CSV file (see
/// PointCloud::from_csv), whose first line is read as `header` says (it applies to CSV files
/// alone). An unknown name, an unknown option, a value of the wrong type or out of its range throws
/// gpm::InvalidArgument listing what is valid.
/// Example: `AnyDataset data = parse_dataset("grid:std=0.05", torch::TensorOptions().dtype(torch::kFloat64));`
inline AnyDataset parse_dataset(std::string_view spec, torch::TensorOptions options = default_options(),
                                CsvHeader header = CsvHeader::automatic) {
  const auto split = detail::split_spec(spec);
  if (split.is_file)
    return AnyDataset(PointCloud::from_csv(std::string(split.text), options, header), std::string(split.text));
  return detail::spec_entry(split).build(split.parameters, options, std::string(split.text));
}

/// The spec with every option written, defaults included: "ring" gives "ring:modes=5,radius=3,std=0.5"
/// (the same dataset); a file's spec is returned trimmed. Throws as parse_dataset does.
/// Example: `data::resolve_dataset_spec("grid:std=0.05")`
inline std::string resolve_dataset_spec(std::string_view spec) {
  const auto split = detail::split_spec(spec);
  if (split.is_file) return std::string(split.text);
  return detail::spec_entry(split).resolve(split.parameters, std::string(split.text));
}

}  // namespace gpm::data
