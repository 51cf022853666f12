// The image decoder of a program: how image datasets turn PNG/JPEG files into pixels. The library
// needs no image library; a program that links gpm::images and includes gpm/io/image_files.hpp gets
// the decoder of stb_image installed, and any program can install its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpm/core/errors.hpp"

namespace gpm::io {

/// The pixels of one image file: height × width × channels bytes, row after row, each pixel's
/// channels together (grayscale: 1 channel, colour: 3, red green blue).
/// Example: `DecodedImage image = gpm::io::read_image("cat.png", 3);`
struct DecodedImage {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;
};

/// Decodes the image file at `path` into `channels` channels (1: grayscale, 3: RGB, 0: as stored,
/// 1 for gray files and 3 for colour ones; alpha is dropped); throws gpm::InvalidArgument naming the
/// file and the problem when it cannot. Must be safe to call from several threads at once.
using ImageDecoder = DecodedImage (*)(const std::string& path, int64_t channels);

namespace detail {
inline ImageDecoder& installed_image_decoder() {
  static ImageDecoder decoder = nullptr;  // one per program: an inline function's static is shared
  return decoder;
}
}  // namespace detail

/// Makes `decoder` the program's image decoder, replacing any other; returns true, so that a header
/// can install one when it is included (`inline const bool installed = install_image_decoder(&f);`).
/// Example: `gpm::io::install_image_decoder(&my_decoder);`
inline bool install_image_decoder(ImageDecoder decoder) {
  detail::installed_image_decoder() = decoder;
  return true;
}

/// The program's image decoder; throws, naming `where` and how to get one, when none is installed.
/// Example: `auto decode = gpm::io::image_decoder("ImageFolder");`
inline ImageDecoder image_decoder(const std::string& where) {
  const auto decoder = detail::installed_image_decoder();
  GPM_CHECK(decoder != nullptr, "{}: this program cannot decode image files: link it with gpm::images (Debian: "
            "libstb-dev) and include <gpm/io/image_files.hpp>, or install a decoder with "
            "gpm::io::install_image_decoder", where);
  return decoder;
}

}  // namespace gpm::io
