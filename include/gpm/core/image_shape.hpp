// The shape of one image. Particles stay flat, [N, C·H·W], everywhere in gpm (flows, integrators,
// metrics and files see points of R^D); only image datasets, image networks and image outputs know
// the C × H × W layout, and they reshape at their boundary.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"

namespace gpm {

/// Channels × height × width of one image. Example: `ImageShape mnist{1, 32, 32};` (`numel()` 1024).
struct ImageShape {
  int64_t channels = 1;
  int64_t height = 32;
  int64_t width = 32;

  /// C·H·W: the dimension of a flat particle holding one image.
  int64_t numel() const { return channels * height * width; }

  /// "1×32×32".
  std::string describe() const { return fmt::format("{}×{}×{}", channels, height, width); }

  /// [N, C, H, W] from flat particles [N, C·H·W] (a view when possible). A wrong size is an error
  /// naming `where`.
  torch::Tensor unflatten(const torch::Tensor& flat, const char* where) const {
    GPM_CHECK(flat.dim() >= 1 && flat.numel() == flat.size(0) * numel(),
              "{}: expected particles of {} = {} values each, got a tensor of shape {}", where, describe(), numel(),
              fmt::format("{}", fmt::join(flat.sizes(), "×")));
    return flat.reshape({flat.size(0), channels, height, width});
  }

  friend bool operator==(const ImageShape&, const ImageShape&) = default;
};

}  // namespace gpm
