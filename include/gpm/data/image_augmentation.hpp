// Random similarity transforms of flat images (rotation, zoom, shift about the centre, resampled
// bilinearly): the augmentation that lets a small classifier generalise from a few thousand digits.
#pragma once

#include <cmath>
#include <numbers>

#include <ATen/core/Generator.h>
#include <torch/nn/functional/vision.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::data {

/// The ranges of random_similarity_transform: each image gets its own draw, uniform in each range.
struct ImageAugmentationOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, max_rotation, Range::between(0, 180), "rotations by up to ± this many degrees") = 0.0;
  GPM_OPTION(double, max_zoom, Range::from_below(0, 1), "zooms by a factor in [1 − max_zoom, 1 + max_zoom]") = 0.0;
  GPM_OPTION(double, max_shift, Range::at_least(0), "shifts by up to ± this many pixels along each axis") = 0.0;
  GPM_OPTIONS_END

  /// True when every range is 0 (the transform is the identity).
  bool identity() const { return max_rotation() == 0 && max_zoom() == 0 && max_shift() == 0; }
};

/// Images [N, C·H·W] under per-image similarity transforms about the image centre: image i is
/// rotated by angle[i] radians (counterclockwise as displayed, rows downwards), zoomed by scale[i]
/// and then moved by (dy[i], dx[i]) pixels (down, right); all four are tensors [N] on the images'
/// device. Resampled bilinearly at the pixel centres, with the border pixels extended outwards. An
/// identity transform or whole-pixel shifts reproduce the pixels up to rounding.
/// Example: `auto moved = gpm::data::similarity_transform(x, {1, 32, 32}, angle, scale, dy, dx);`
inline torch::Tensor similarity_transform(const torch::Tensor& flat, const ImageShape& shape, const torch::Tensor& angle,
                                          const torch::Tensor& scale, const torch::Tensor& dy, const torch::Tensor& dx) {
  namespace F = torch::nn::functional;
  check_particles(flat, "similarity_transform", "images");
  const auto images = shape.unflatten(flat, "similarity_transform");
  const int64_t n = images.size(0);
  for (const auto* p : {&angle, &scale, &dy, &dx})
    GPM_CHECK(p->defined() && p->dim() == 1 && p->size(0) == n, "similarity_transform: the angles, scales and shifts "
              "must be tensors [N] with one value per image (N = {}), got {}", n,
              p->defined() ? shape_string(*p) : "undefined");
  // affine_grid maps each output point, in coordinates normalised to [−1, 1] along each axis, to
  // the input point it samples: the inverse transform A⁻¹ (p − t), conjugated by the pixel scale
  // D = diag(W/2, H/2) so that rotations stay rotations on non-square images.
  const auto o = images.options();
  const auto cos = torch::cos(angle).to(o) / scale.to(o), sin = torch::sin(angle).to(o) / scale.to(o);
  const double w = static_cast<double>(shape.width), h = static_cast<double>(shape.height);
  const auto sx = dx.to(o), sy = dy.to(o);
  const auto row_x = torch::stack({cos, -sin * (h / w), -(cos * sx - sin * sy) * (2.0 / w)}, 1);
  const auto row_y = torch::stack({sin * (w / h), cos, -(sin * sx + cos * sy) * (2.0 / h)}, 1);
  const auto theta = torch::stack({row_x, row_y}, 1);  // [N, 2, 3]
  const auto grid = F::affine_grid(theta, images.sizes(), /*align_corners=*/false);
  return F::grid_sample(images, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false))
      .flatten(1);
}

/// similarity_transform with, for each image, an angle uniform in ±max_rotation degrees, a scale
/// uniform in [1 − max_zoom, 1 + max_zoom] and shifts uniform in ±max_shift pixels, drawn from `gen`
/// (on the images' device). The images themselves when every range is 0.
/// Example: `auto augmented = gpm::data::random_similarity_transform(x, {1, 32, 32}, options, gen);`
inline torch::Tensor random_similarity_transform(const torch::Tensor& flat, const ImageShape& shape,
                                                 const ImageAugmentationOptions& options, at::Generator& gen) {
  check_particles(flat, "random_similarity_transform", "images");
  GPM_CHECK(options.max_rotation() >= 0 && options.max_rotation() <= 180 && options.max_zoom() >= 0 &&
                options.max_zoom() < 1 && options.max_shift() >= 0,
            "random_similarity_transform: max_rotation must be in [0, 180], max_zoom in [0, 1) and max_shift >= 0, "
            "got {}, {}, {}", options.max_rotation(), options.max_zoom(), options.max_shift());
  if (options.identity()) return flat;
  const int64_t n = flat.size(0);
  const auto o = flat.options();
  const auto uniform = [&](double half_width) { return (torch::rand({n}, gen, o) * 2.0 - 1.0) * half_width; };
  const auto angle = uniform(options.max_rotation() * std::numbers::pi / 180.0);
  const auto scale = 1.0 + uniform(options.max_zoom());
  const auto dy = uniform(options.max_shift()), dx = uniform(options.max_shift());
  return similarity_transform(flat, shape, angle, scale, dy, dx);
}

}  // namespace gpm::data
