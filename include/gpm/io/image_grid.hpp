// Images side by side in one PNG file: a grid of rows × columns images [N, C, H, W] in [−1, 1]
// with gaps between them. Needs the target gpm::images (stb_image_write), not cairo.
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/io/image_files.hpp"

namespace gpm::io {

/// How image_grid lays images out.
struct ImageGridOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, columns, Range::at_least(0), "images per row; 0: ⌈√N⌉, a square grid") = 0;
  GPM_OPTION(int64_t, gap, Range::at_least(0), "pixels between neighbouring images") = 2;
  GPM_OPTION(double, gap_value, Range::between(-1, 1), "the gaps' value in image units: −1 black, 1 white") = 1.0;
  GPM_OPTIONS_END
};

/// The images [N, C, H, W] (C = 1 or 3, values in [−1, 1]; others are clamped) as one picture,
/// uint8 [R·H + (R−1)·gap, K·W + (K−1)·gap, C] on the CPU, ready for write_png: image i at row
/// i / K, column i % K of a grid of K columns and R = ⌈N / K⌉ rows; a value v becomes the byte
/// round(255 (v + 1) / 2). Cells past the last image and the gaps hold gap_value.
/// Example: `torch::Tensor pixels = gpm::io::image_grid(samples.view({64, 1, 32, 32}));`
inline torch::Tensor image_grid(const torch::Tensor& images, const ImageGridOptions& options = {}) {
  GPM_CHECK(images.defined() && images.dim() == 4 && images.size(0) > 0 && (images.size(1) == 1 || images.size(1) == 3),
            "image_grid: images must have shape [N, C, H, W] with N ≥ 1 and C = 1 or 3, got {}; flat particles "
            "[N, C·H·W] take the overload with an ImageShape",
            images.defined() ? shape_string(images) : std::string("an undefined tensor"));
  GPM_CHECK(images.is_floating_point(), "image_grid: images must be floating point in [−1, 1], got {}",
            std::string(c10::toString(images.scalar_type())));
  GPM_CHECK(options.columns() >= 0 && options.gap() >= 0 && options.gap_value() >= -1 && options.gap_value() <= 1,
            "image_grid: columns and gap must be ≥ 0 and gap_value in [−1, 1], got {}, {} and {}", options.columns(),
            options.gap(), options.gap_value());
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3), gap = options.gap();
  int64_t columns = options.columns();
  if (columns == 0)
    while (columns * columns < n) ++columns;  // ⌈√N⌉, exactly
  const int64_t rows = (n + columns - 1) / columns;
  auto grid = torch::full({c, rows * (h + gap) - gap, columns * (w + gap) - gap}, options.gap_value(),
                          images.options().device(torch::kCPU));
  const auto cpu = images.detach().to(torch::kCPU);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = (i / columns) * (h + gap), left = (i % columns) * (w + gap);
    grid.narrow(1, top, h).narrow(2, left, w).copy_(cpu[i]);
  }
  return ((grid.clamp(-1, 1) + 1) * 127.5).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
}

/// Flat particles [N, C·H·W] of images of `shape` as one picture (see the overload above).
/// Example: `torch::Tensor pixels = gpm::io::image_grid(samples, gpm::ImageShape{1, 32, 32});`
inline torch::Tensor image_grid(const torch::Tensor& flat, const ImageShape& shape, const ImageGridOptions& options = {}) {
  return image_grid(shape.unflatten(flat, "image_grid"), options);
}

/// Writes image_grid(images, options) to the PNG file `path`.
/// Example: `gpm::io::write_image_grid("samples.png", samples.view({64, 3, 64, 64}));`
inline void write_image_grid(const std::string& path, const torch::Tensor& images, const ImageGridOptions& options = {}) {
  write_png(path, image_grid(images, options));
}

/// Writes the grid of flat particles [N, C·H·W] of images of `shape` to the PNG file `path`.
/// Example: `gpm::io::write_image_grid("samples.png", samples, gpm::ImageShape{1, 32, 32});`
inline void write_image_grid(const std::string& path, const torch::Tensor& flat, const ImageShape& shape,
                             const ImageGridOptions& options = {}) {
  write_png(path, image_grid(flat, shape, options));
}

}  // namespace gpm::io
