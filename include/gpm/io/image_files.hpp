// PNG and JPEG files through stb_image and stb_image_write: read_image (installed as the program's
// image decoder, so that image datasets can read files) and write_png. Needs the target gpm::images
// (Debian: libstb-dev). Its library libstb holds stb's implementations, so no program of gpm
// defines STB_IMAGE_IMPLEMENTATION; a program that compiles its own copy of stb must not link libstb.
#pragma once

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/io/files.hpp"
#include "gpm/io/image_decoder.hpp"

namespace gpm::io {

/// The image file at `path` (PNG, JPEG, or another format stb_image reads: BMP, GIF, TGA, PNM...)
/// as bytes in `channels` channels: 1 converts to grayscale (stb's luma, ≈ 0.30 R + 0.59 G + 0.11 B),
/// 3 to RGB (a gray value repeated), 0 keeps the file's own, 1 for gray and 3 for colour. Alpha is
/// dropped, not blended. A missing or undecodable file throws gpm::InvalidArgument naming it and
/// stb's reason. Safe to call from several threads at once.
/// Example: `DecodedImage face = gpm::io::read_image("000001.jpg", 3);`
inline DecodedImage read_image(const std::string& path, int64_t channels) {
  GPM_CHECK(channels == 0 || channels == 1 || channels == 3, "read_image: channels must be 1 (grayscale), 3 (RGB) or "
            "0 (as stored), got {}", channels);
  std::ifstream file(path, std::ios::binary);
  GPM_CHECK(file.is_open(), "read_image: cannot open '{}' ({})", path, std::generic_category().message(errno));
  const std::vector<char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  GPM_CHECK(!bytes.empty(), "read_image: '{}' is empty", path);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  GPM_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "read_image: '{}' is larger than "
            "the 2 GiB stb_image reads", path);
  const int size = static_cast<int>(bytes.size());
  int width = 0, height = 0, stored = 0;
  GPM_CHECK(stbi_info_from_memory(data, size, &width, &height, &stored) == 1,
            "read_image: '{}' is not an image stb_image can read ({})", path, stbi_failure_reason());
  const int wanted = channels != 0 ? static_cast<int>(channels) : (stored <= 2 ? 1 : 3);
  const std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, size, &width, &height, &stored, wanted), &stbi_image_free);
  GPM_CHECK(pixels != nullptr, "read_image: cannot decode '{}' ({})", path, stbi_failure_reason());
  DecodedImage image{width, height, wanted, {}};
  image.pixels.assign(pixels.get(), pixels.get() + static_cast<size_t>(width) * height * wanted);
  return image;
}

/// Installs read_image as the program's image decoder (see gpm/io/image_decoder.hpp).
inline const bool stb_image_decoder_installed = install_image_decoder(&read_image);

/// Writes `pixels`, uint8 [H, W, C] with C = 1 (gray), 3 (RGB) or 4 (RGBA), on any device, to a
/// PNG file, atomically (gpm/io/files.hpp: a process stopped while writing never leaves part of an
/// image at `path`). Throws gpm::InvalidArgument on another shape or dtype or a path that cannot be
/// written, and gpm::RuntimeError when writing fails.
/// Example: `gpm::io::write_png("grid.png", torch::zeros({8, 8, 3}, torch::kUInt8));`
inline void write_png(const std::string& path, const torch::Tensor& pixels) {
  GPM_CHECK(pixels.defined() && pixels.dim() == 3 && pixels.size(0) > 0 && pixels.size(1) > 0 &&
                (pixels.size(2) == 1 || pixels.size(2) == 3 || pixels.size(2) == 4),
            "write_png: pixels must have shape [H, W, C] with C = 1, 3 or 4, got {}",
            pixels.defined() ? shape_string(pixels) : std::string("an undefined tensor"));
  GPM_CHECK(pixels.scalar_type() == torch::kUInt8, "write_png: pixels must be uint8 (0..255), got {}",
            std::string(c10::toString(pixels.scalar_type())));
  const auto cpu = pixels.to(torch::kCPU).contiguous();
  const auto width = static_cast<int>(cpu.size(1)), channels = static_cast<int>(cpu.size(2));
  std::string png;
  const auto append = [](void* to, void* bytes, int size) {
    static_cast<std::string*>(to)->append(static_cast<const char*>(bytes), static_cast<size_t>(size));
  };
  if (stbi_write_png_to_func(append, &png, width, static_cast<int>(cpu.size(0)), channels, cpu.data_ptr<uint8_t>(),
                             width * channels) == 0)
    throw RuntimeError(fmt::format("write_png: encoding the image for '{}' failed", path));
  write_file_atomically(path, png);
}

}  // namespace gpm::io
