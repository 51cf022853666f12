// A folder of images (PNG, JPEG) of any sizes as a dataset of square images of one size: each is
// centre-cropped, resized, converted to the asked channels and scaled to [−1, 1]; samples are flat,
// [n, C·size·size]. Decoding is the program's image decoder (gpm/io/image_decoder.hpp: link
// gpm::images and include gpm/io/image_files.hpp), so this header needs no image library.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <fmt/format.h>
#include <torch/arg.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/data/dataset.hpp"
#include "gpm/io/image_decoder.hpp"

namespace gpm::data {

/// ImageFolder's options, also its spec's parameters ("images:faces/,size=64,channels=3", where the
/// folder comes first without `dir=`).
struct ImageFolderOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(std::string, dir, Range::any(), "the folder of PNG and JPEG files (subfolders included); in a spec, "
                                             "given first without dir=: images:DIR,size=64") = "";
  GPM_OPTION(int64_t, size, Range::at_least(1), "side of the square images: each file is centre-cropped to a square "
                                                "and resized to size × size") = 32;
  GPM_OPTION(int64_t, channels, Range::one_of({"0", "1", "3"}), "1 (grayscale) or 3 (RGB): every image is converted "
                                                               "to it; 0: as stored, the same for every image") = 0;
  GPM_OPTIONS_END
};

namespace detail {

/// True for the file names an image folder reads: .png, .jpg and .jpeg, in any case.
inline bool is_image_file_name(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

/// The largest centred square of `image`, resized to size × size, as uint8 [C, size, size]. The
/// resize is bilinear with antialiasing (a triangle filter widened by the scale when shrinking, as
/// PIL's), so shrinking averages every source pixel in the area rather than sampling a few.
inline torch::Tensor square_image(const io::DecodedImage& image, int64_t size) {
  GPM_CHECK(image.width > 0 && image.height > 0 && (image.channels == 1 || image.channels == 3) &&
                image.pixels.size() == static_cast<size_t>(image.width * image.height * image.channels),
            "the decoder gave {} bytes for a {} × {} image of {} channels; expected width · height · channels bytes "
            "with 1 or 3 channels", image.pixels.size(), image.width, image.height, image.channels);
  auto pixels = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {image.height, image.width, image.channels},
                                 torch::kUInt8)
                    .permute({2, 0, 1});
  const int64_t side = std::min(image.height, image.width);
  pixels = pixels.narrow(1, (image.height - side) / 2, side).narrow(2, (image.width - side) / 2, side);
  if (side == size) return pixels.clone(at::MemoryFormat::Contiguous);  // a copy: `image` may not outlive the result
  namespace F = torch::nn::functional;
  const auto resized = F::interpolate(pixels.to(torch::kFloat32).unsqueeze(0), F::InterpolateFuncOptions()
                                                                                  .size(std::vector<int64_t>{size, size})
                                                                                  .mode(torch::kBilinear)
                                                                                  .align_corners(false)
                                                                                  .antialias(true));
  return resized.squeeze(0).round().clamp(0, 255).to(torch::kUInt8);
}

}  // namespace detail

/// The images of a folder (and its subfolders): every .png, .jpg and .jpeg file, in path order,
/// centre-cropped to its largest square, resized to size × size (bilinear with antialiasing, see
/// detail::square_image), converted to `channels` (1: grayscale, 3: RGB, every file converted; 0:
/// each file's own, which must then be the same for all: a folder mixing gray and colour files is an
/// error asking for channels=1 or 3; alpha is dropped) and scaled from 0..255 to [−1, 1]. They are
/// read once, in parallel, and kept in memory as bytes (C·size² per image) on the dataset's device;
/// `sample` draws uniformly with replacement as flat [n, C·size·size] tensors. A file that cannot be
/// decoded is skipped and counted (`skipped()`, and one warning line on stderr); a folder with no
/// readable image is an error. Files with other extensions are ignored. Models gpm::data::Dataset.
/// Example: `ImageFolder faces(ImageFolderOptions().dir("img_align_celeba").size(64).channels(3));`
class ImageFolder {
 public:
  explicit ImageFolder(ImageFolderOptions options, torch::TensorOptions tensor_options = default_options())
      : options_(std::move(options)), tensor_options_(tensor_options) {
    detail::check_options(tensor_options_, "ImageFolder");
    GPM_CHECK(options_.size() >= 1, "ImageFolder: size must be ≥ 1, got {}", options_.size());
    GPM_CHECK(options_.channels() == 0 || options_.channels() == 1 || options_.channels() == 3,
              "ImageFolder: channels must be 1 (grayscale), 3 (RGB) or 0 (as stored), got {}", options_.channels());
    load();
  }

  torch::Tensor sample(int64_t n, at::Generator& gen) const {
    detail::check_draw(n, gen, pixels_.device(), "ImageFolder::sample");
    const auto index = torch::randint(size(), {n}, gen, pixels_.options().dtype(torch::kLong));
    return to_image_units(pixels_.index_select(0, index));
  }
  int64_t dim() const { return shape_.numel(); }
  /// channels × size × size (channels as stored when the option is 0).
  ImageShape image_shape() const { return shape_; }
  /// Every image, [size(), C·size·size] in [−1, 1], in the dataset's dtype and on its device.
  torch::Tensor images() const { return to_image_units(pixels_); }
  /// The number of images read.
  int64_t size() const { return pixels_.size(0); }
  /// The number of image files that could not be decoded and were left out.
  int64_t skipped() const { return skipped_; }
  const ImageFolderOptions& options() const { return options_; }

 private:
  torch::Tensor to_image_units(const torch::Tensor& bytes) const { return bytes.to(tensor_options_) / 127.5 - 1.0; }

  void load() {
    namespace fs = std::filesystem;
    const fs::path dir(options_.dir());
    std::error_code ec;
    GPM_CHECK(!options_.dir().empty(), "ImageFolder: no folder given; name it first in the spec (images:DIR,size=32) "
              "or set the option dir");
    GPM_CHECK(fs::is_directory(dir, ec), "ImageFolder: '{}' is not a folder{}; give the folder that holds the images",
              dir.string(), fs::exists(dir, ec) ? "" : " (it does not exist)");
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
         !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && detail::is_image_file_name(it->path())) files.push_back(it->path());
    GPM_CHECK(!ec, "ImageFolder: cannot list '{}' ({})", dir.string(), ec.message());
    GPM_CHECK(!files.empty(), "ImageFolder: '{}' holds no .png, .jpg or .jpeg file; give the folder that holds the "
              "images", dir.string());
    std::sort(files.begin(), files.end());
    const auto decode = io::image_decoder("ImageFolder");

    // Each file is decoded and resized on its own, so the files are shared among threads.
    std::vector<torch::Tensor> squares(files.size());
    std::vector<std::string> problems(files.size());
    at::parallel_for(0, static_cast<int64_t>(files.size()), 16, [&](int64_t begin, int64_t end) {
      for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) {
        try {
          squares[i] = detail::square_image(decode(files[i].string(), options_.channels()), options_.size());
        } catch (const std::exception& error) {
          problems[i] = error.what();
        }
      }
    });

    std::vector<torch::Tensor> kept;
    std::optional<size_t> first_gray, first_colour, first_skipped;
    for (size_t i = 0; i < files.size(); ++i) {
      if (!squares[i].defined()) {
        if (!first_skipped) first_skipped = i;
        continue;
      }
      auto& first = squares[i].size(0) == 1 ? first_gray : first_colour;
      if (!first) first = i;
      kept.push_back(squares[i].flatten());
    }
    skipped_ = static_cast<int64_t>(files.size() - kept.size());
    GPM_CHECK(!kept.empty(), "ImageFolder: none of the {} image files in '{}' could be read (the first, {})", files.size(),
              dir.string(), problems[*first_skipped]);
    GPM_CHECK(!(first_gray && first_colour), "ImageFolder: '{}' mixes grayscale images (e.g. '{}') and colour images "
              "(e.g. '{}'); give channels=1 or channels=3 to convert them all", dir.string(),
              files[*first_gray].string(), files[*first_colour].string());
    if (skipped_ > 0)
      fmt::print(stderr, "warning: ImageFolder: skipped {} of {} image files in '{}' that could not be read (the "
                 "first, {})\n", skipped_, files.size(), dir.string(), problems[*first_skipped]);
    shape_ = ImageShape{first_gray ? 1 : 3, options_.size(), options_.size()};
    pixels_ = torch::stack(kept).to(tensor_options_.device());
  }

  ImageFolderOptions options_;
  torch::TensorOptions tensor_options_;
  ImageShape shape_;
  torch::Tensor pixels_;  // uint8 [M, C·size·size]
  int64_t skipped_ = 0;
};

}  // namespace gpm::data
