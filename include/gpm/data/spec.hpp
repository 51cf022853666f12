// Dataset specs for command-line runners: "ring:modes=8,std=0.1" or "points.csv" becomes an
// AnyDataset, a type-erased dataset (type erasure is kept to this runner boundary).
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <fmt/format.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/data/dataset.hpp"
#include "gpm/data/point_cloud.hpp"
#include "gpm/data/toy2d.hpp"

namespace gpm::data {

/// Any dataset behind one type: a sampler n, gen ↦ [n, D], the dimension D, the spec it was made
/// from, and, for Gaussian mixtures, their centres and std (for gpm::metrics::mode_coverage).
/// Models gpm::data::Dataset. Example: `AnyDataset data(GaussianRing(), "ring");`
class AnyDataset {
 public:
  using Sampler = std::function<torch::Tensor(int64_t, at::Generator&)>;

  /// Wraps `dataset`; a dataset with `centers()` and `std()` (a mixture) keeps them.
  template <Dataset D>
    requires(!std::same_as<std::remove_cvref_t<D>, AnyDataset>)
  explicit AnyDataset(D dataset, std::string description = {})
      : dim_(static_cast<int64_t>(dataset.dim())), description_(std::move(description)) {
    if constexpr (requires {
                    { dataset.centers() } -> std::convertible_to<torch::Tensor>;
                    { dataset.std() } -> std::convertible_to<double>;
                  }) {
      centers_ = dataset.centers();
      std_ = dataset.std();
    }
    sampler_ = [d = std::move(dataset)](int64_t n, at::Generator& gen) { return d.sample(n, gen); };
  }

  torch::Tensor sample(int64_t n, at::Generator& gen) const { return sampler_(n, gen); }
  int64_t dim() const { return dim_; }
  /// The spec or name given at construction, for logs.
  const std::string& description() const { return description_; }
  /// True for Gaussian mixtures, whose centres and std are known.
  bool has_modes() const { return centers_.defined(); }
  /// The mixture centres [K, D]; throws unless has_modes().
  const torch::Tensor& centers() const {
    GPM_CHECK(has_modes(), "AnyDataset: '{}' is not a Gaussian mixture and has no centers; check "
              "has_modes() first", description_);
    return centers_;
  }
  /// The std of every mixture component; throws unless has_modes().
  double std() const {
    GPM_CHECK(has_modes(), "AnyDataset: '{}' is not a Gaussian mixture and has no std; check has_modes() "
              "first", description_);
    return std_;
  }

 private:
  Sampler sampler_;
  int64_t dim_;
  std::string description_;
  torch::Tensor centers_;
  double std_ = 0.0;
};

namespace detail {

/// A built-in dataset's name and the parameters its spec accepts.
struct BuiltinDataset {
  std::string_view name;
  std::vector<std::string_view> parameters;
};

inline const std::vector<BuiltinDataset>& builtin_datasets() {
  static const std::vector<BuiltinDataset> builtins{{"ring", {"modes", "radius", "std"}},
                                                    {"grid", {"per_side", "spacing", "std"}},
                                                    {"moons", {"noise"}},
                                                    {"checkerboard", {"cells", "size"}},
                                                    {"swissroll", {"noise"}}};
  return builtins;
}

/// "a, b, c" for error messages.
inline std::string comma_list(const std::vector<std::string_view>& names) {
  std::string text;
  for (const auto name : names) text += fmt::format("{}{}", text.empty() ? "" : ", ", name);
  return text;
}

/// "ring (modes, radius, std), grid (...), ..." for error messages.
inline std::string describe_builtin_datasets() {
  std::string text;
  for (const auto& b : builtin_datasets())
    text += fmt::format("{}{} ({})", text.empty() ? "" : ", ", b.name, comma_list(b.parameters));
  return text;
}

/// The "key=value,key=value" part of a spec, checked against the dataset's parameter list.
class SpecParameters {
 public:
  SpecParameters(std::string_view spec, const BuiltinDataset& dataset, std::string_view text) : spec_(spec) {
    if (trim(text).empty()) return;
    for (const auto item : split_cells(text)) {
      const auto equals = item.find('=');
      GPM_CHECK(equals != std::string_view::npos, "dataset spec '{}': '{}' is not of the form name=value; "
                "write e.g. {}:{}=...", spec_, item, dataset.name, dataset.parameters.front());
      const auto key = trim(item.substr(0, equals)), value = trim(item.substr(equals + 1));
      bool known = false;
      for (const auto p : dataset.parameters) known = known || p == key;
      GPM_CHECK(known, "dataset spec '{}': '{}' has no parameter '{}'; valid parameters: {}", spec_,
                dataset.name, key, comma_list(dataset.parameters));
      GPM_CHECK(!values_.contains(std::string(key)), "dataset spec '{}': the parameter '{}' is given twice",
                spec_, key);
      double number = 0;
      GPM_CHECK(parse_number(value, number) && std::isfinite(number), "dataset spec '{}': the value of '{}' "
                "is '{}', which is not a finite number", spec_, key, value);
      values_.emplace(std::string(key), number);
    }
  }

  /// Overwrites `field` with the value of `key` when the spec gives one.
  void read(std::string_view key, double& field) const {
    if (const auto it = values_.find(std::string(key)); it != values_.end()) field = it->second;
  }
  void read(std::string_view key, int64_t& field) const {
    const auto it = values_.find(std::string(key));
    if (it == values_.end()) return;
    const double v = it->second;
    GPM_CHECK(std::floor(v) == v && std::abs(v) < 9.0e15, "dataset spec '{}': '{}' must be a whole number, "
              "got {}", spec_, key, v);
    field = static_cast<int64_t>(v);
  }

 private:
  std::string_view spec_;
  std::map<std::string, double> values_;
};

inline AnyDataset make_builtin(const BuiltinDataset& builtin, const SpecParameters& p,
                               const torch::TensorOptions& options, std::string description) {
  const auto name = builtin.name;
  if (name == "ring") {
    GaussianRingOptions o;
    p.read("modes", o.modes());
    p.read("radius", o.radius());
    p.read("std", o.std());
    return AnyDataset(GaussianRing(o, options), std::move(description));
  }
  if (name == "grid") {
    GaussianGridOptions o;
    p.read("per_side", o.per_side());
    p.read("spacing", o.spacing());
    p.read("std", o.std());
    return AnyDataset(GaussianGrid(o, options), std::move(description));
  }
  if (name == "moons") {
    TwoMoonsOptions o;
    p.read("noise", o.noise());
    return AnyDataset(TwoMoons(o, options), std::move(description));
  }
  if (name == "checkerboard") {
    CheckerboardOptions o;
    p.read("cells", o.cells());
    p.read("size", o.size());
    return AnyDataset(Checkerboard(o, options), std::move(description));
  }
  SwissRollOptions o;
  p.read("noise", o.noise());
  return AnyDataset(SwissRoll(o, options), std::move(description));
}

}  // namespace detail

/// Parses a dataset spec. A spec containing '/' or ending in ".csv" is the path of a CSV file
/// (see PointCloud::from_csv). Otherwise it is `name` or `name:key=value,key=value` with
///   ring:modes=5,radius=3,std=0.5      (GaussianRing)
///   grid:per_side=5,spacing=2,std=0.1  (GaussianGrid)
///   moons:noise=0.1                    (TwoMoons)
///   checkerboard:cells=4,size=4        (Checkerboard)
///   swissroll:noise=0.1                (SwissRoll)
/// where omitted parameters keep the defaults shown. Unknown names or parameters and malformed
/// numbers throw gpm::InvalidArgument listing what is valid.
/// Example: `AnyDataset data = parse_dataset("grid:std=0.05", torch::TensorOptions().dtype(torch::kFloat64));`
inline AnyDataset parse_dataset(std::string_view spec, torch::TensorOptions options = default_options()) {
  const auto text = detail::trim(spec);
  GPM_CHECK(!text.empty(), "dataset spec is empty; give one of: {}, or the path of a CSV file",
            detail::describe_builtin_datasets());
  if (text.find('/') != std::string_view::npos || text.ends_with(".csv"))
    return AnyDataset(PointCloud::from_csv(std::string(text), options), std::string(text));

  const auto colon = text.find(':');
  const auto name = detail::trim(text.substr(0, colon));
  const auto parameters = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  for (const auto& builtin : detail::builtin_datasets()) {
    if (builtin.name != name) continue;
    const detail::SpecParameters values(text, builtin, parameters);
    try {
      return detail::make_builtin(builtin, values, options, std::string(text));
    } catch (const InvalidArgument& error) {
      throw InvalidArgument(fmt::format("dataset spec '{}': {}", text, error.what()));
    }
  }
  throw InvalidArgument(fmt::format("dataset spec '{}': unknown dataset '{}'; valid names: {}, or the path of "
                                    "a CSV file (containing '/' or ending in .csv)", text,
                                    name, detail::describe_builtin_datasets()));
}

}  // namespace gpm::data
