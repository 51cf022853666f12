// The Dataset concept: an infinite sampler of data points [n, D] (ImageDataset: flat images), plus the small checks every
// dataset shares (sample counts, tensor options, generator device).
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"

namespace gpm::data {

/// A source of data points: `d.sample(n, gen)` draws n fresh points [n, D] with randomness from
/// `gen` (every call draws anew: datasets are infinite samplers), `d.dim()` is D.
/// Example: `static_assert(gpm::data::Dataset<gpm::data::GaussianRing>);`
template <class D>
concept Dataset = requires(const D& d, int64_t n, at::Generator& gen) {
  { d.sample(n, gen) } -> std::same_as<torch::Tensor>;
  { d.dim() } -> std::convertible_to<int64_t>;
};

/// A dataset of images: its points are flat images [n, C·H·W] and `d.image_shape()` is their
/// C × H × W, for the networks and outputs that unflatten them.
/// Example: `static_assert(gpm::data::ImageDataset<gpm::data::Mnist>);`
template <class D>
concept ImageDataset = Dataset<D> && requires(const D& d) {
  { d.image_shape() } -> std::convertible_to<ImageShape>;
};

/// Tensor options of a dataset when none are given: float32 on the default (CPU) device.
inline torch::TensorOptions default_options() { return torch::TensorOptions().dtype(torch::kFloat32); }

namespace detail {

/// Checks that a dataset's tensor options name a floating-point dtype.
inline void check_options(const torch::TensorOptions& options, const char* where) {
  const auto dtype = c10::typeMetaToScalarType(options.dtype());
  GPM_CHECK(c10::isFloatingType(dtype), "{}: tensor options have dtype {}, expected a floating-point "
            "dtype; pass e.g. torch::TensorOptions().dtype(torch::kFloat32)", where,
            std::string(c10::toString(dtype)));
}

/// Checks a sample count and that `gen` can draw on the dataset's device.
inline void check_draw(int64_t n, const at::Generator& gen, const torch::Device& device, const char* where) {
  GPM_CHECK(n > 0, "{}: the number of samples n must be > 0, got {}", where, n);
  GPM_CHECK(gen.device().type() == device.type(), "{}: the generator is on {} but the dataset's tensors "
            "are on {}; create the generator with gpm::make_generator(seed, device)", where,
            gen.device().str(), device.str());
}

/// Standard deviations within which every normal draw falls: torch::randn's tails end near 8.6 of
/// them in float64 (about 5.8 in float32), so a Gaussian dataset's points lie within its centres ± 10 s.
inline constexpr double kNormalReach = 10.0;

/// The largest finite value of the floating-point `dtype`: 3.4028235e38 for Float (float32).
inline double largest_finite(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat: return std::numeric_limits<float>::max();
    case torch::kHalf: return static_cast<double>(std::numeric_limits<c10::Half>::max());
    case torch::kBFloat16: return static_cast<double>(std::numeric_limits<c10::BFloat16>::max());
    default: return std::numeric_limits<double>::max();
  }
}

/// Checks that a dataset's points, which reach magnitude `extent` (`how` says why), are finite in
/// the dtype of `options`: options are checked as doubles, but a float32 dataset stores its points
/// as floats, where 1e39 is infinite.
inline void check_extent(double extent, const torch::TensorOptions& options, const std::string& where,
                         const std::string& how) {
  const auto dtype = c10::typeMetaToScalarType(options.dtype());
  GPM_CHECK(std::isfinite(extent) && extent <= largest_finite(dtype), "{}: its points reach {:g} ({}), beyond the "
            "largest value of dtype {}, {:g}; choose smaller values{}", where, extent, how,
            std::string(c10::toString(dtype)), largest_finite(dtype),
            dtype == torch::kFloat64 ? "" : ", or a wider dtype (Double)");
}

}  // namespace detail
}  // namespace gpm::data
