// Standardized coordinates: one affine change of variables that puts data of any offset and scale
// where a model's defaults (priors, noise ranges, initial scales) expect it.
#pragma once

#include <cmath>
#include <cstdint>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::data {

/// z = (x − shift) / scale with a single scalar scale, so that shapes keep their proportions and an
/// isotropic mixture stays isotropic (its centres map like points, its std divides by scale).
/// `fit` takes shift = the mean and scale = the root mean square of the per-coordinate standard
/// deviations: standardized data has mean 0 and mean per-coordinate variance 1.
/// Example: `auto z = Standardization::fit(points); model.train_step(z.to_standard(batch));`
///          then `z.from_standard(model.sample(n))` gives points in data coordinates.
class Standardization {
 public:
  /// `shift` [D], `scale` > 0 (finite).
  Standardization(torch::Tensor shift, double scale) : shift_(std::move(shift)), scale_(scale) {
    GPM_CHECK(shift_.defined() && shift_.dim() == 1 && shift_.size(0) > 0,
              "Standardization: shift must have shape [D] with D >= 1, got {}",
              shift_.defined() ? shape_string(shift_) : std::string("an undefined tensor"));
    GPM_CHECK(torch::isfinite(shift_).all().item<bool>(), "Standardization: shift must be finite");
    GPM_CHECK(std::isfinite(scale_) && scale_ > 0, "Standardization: scale must be finite and > 0, got {}", scale_);
  }

  /// The standardization of `points` [N, D] (N >= 2, finite, not all equal).
  static Standardization fit(const torch::Tensor& points) {
    GPM_CHECK(points.defined() && points.dim() == 2 && points.size(0) >= 2 && points.size(1) > 0,
              "Standardization::fit: points must have shape [N, D] with N >= 2, got {}",
              points.defined() ? shape_string(points) : std::string("an undefined tensor"));
    GPM_CHECK(points.is_floating_point(), "Standardization::fit: points must be floating point, got {}",
              std::string(c10::toString(points.scalar_type())));
    GPM_CHECK(torch::isfinite(points).all().item<bool>(), "Standardization::fit: points contain NaN or infinite values");
    const auto x = points.to(torch::kFloat64);
    const double scale = std::sqrt(x.var(0, /*unbiased=*/true).mean().item<double>());
    GPM_CHECK(scale > 0, "Standardization::fit: all {} points are equal, so the data has no scale to standardize",
              points.size(0));
    return Standardization(x.mean(0).to(points.scalar_type()), scale);
  }

  /// Points [N, D] in data coordinates to standardized ones.
  torch::Tensor to_standard(const torch::Tensor& x) const { return (x - shift_for(x)) / scale_; }
  /// Points [N, D] in standardized coordinates back to data coordinates.
  torch::Tensor from_standard(const torch::Tensor& z) const { return z * scale_ + shift_for(z); }
  /// A velocity dz/dt of standardized particles as the velocity dx/dt of the same particles in data coordinates.
  torch::Tensor velocity_from_standard(const torch::Tensor& v) const { return v * scale_; }

  const torch::Tensor& shift() const { return shift_; }
  double scale() const { return scale_; }
  int64_t dim() const { return shift_.size(0); }

 private:
  // The shift in x's dtype and on x's device, after checking x's shape.
  torch::Tensor shift_for(const torch::Tensor& x) const {
    GPM_CHECK(x.defined() && x.dim() == 2 && x.size(1) == dim(), "Standardization: points must have shape [N, {}], got {}",
              dim(), x.defined() ? shape_string(x) : std::string("an undefined tensor"));
    return shift_.to(x.device(), x.scalar_type());
  }

  torch::Tensor shift_;
  double scale_;
};

}  // namespace gpm::data
