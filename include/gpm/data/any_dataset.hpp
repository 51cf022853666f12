// AnyDataset: any dataset behind one type, for command-line runners and the dataset table (type
// erasure is kept to that boundary).
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/data/dataset.hpp"

namespace gpm::data {

/// Any dataset behind one type: a sampler n, gen ↦ [n, D], the dimension D, the spec it was made
/// from, for Gaussian mixtures their centres and std (for gpm::metrics::mode_coverage), and for
/// image datasets the shape of their images. Models gpm::data::Dataset.
/// Example: `AnyDataset data(GaussianRing(), "ring");`
class AnyDataset {
 public:
  using Sampler = std::function<torch::Tensor(int64_t, at::Generator&)>;

  /// Wraps `dataset`; a dataset with `centers()` and `std()` (a mixture) keeps them, an image
  /// dataset its `image_shape()`.
  template <Dataset D>
    requires(!std::same_as<std::remove_cvref_t<D>, AnyDataset>)
  explicit AnyDataset(D dataset, std::string description = {})
      : dim_(static_cast<int64_t>(dataset.dim())), description_(std::move(description)) {
    if constexpr (requires {
                    { dataset.centers() } -> std::convertible_to<torch::Tensor>;
                    { dataset.std() } -> std::convertible_to<double>;
                  }) {
      centers_ = dataset.centers();
      std_ = dataset.std();
    }
    if constexpr (ImageDataset<D>) image_shape_ = dataset.image_shape();
    sampler_ = [d = std::move(dataset)](int64_t n, at::Generator& gen) { return d.sample(n, gen); };
  }

  torch::Tensor sample(int64_t n, at::Generator& gen) const { return sampler_(n, gen); }
  int64_t dim() const { return dim_; }
  /// The spec or name given at construction, for logs.
  const std::string& description() const { return description_; }
  /// True for Gaussian mixtures, whose centres and std are known.
  bool has_modes() const { return centers_.defined(); }
  /// The mixture centres [K, D]; throws unless has_modes().
  const torch::Tensor& centers() const {
    GPM_CHECK(has_modes(), "AnyDataset: '{}' is not a Gaussian mixture and has no centers; check "
              "has_modes() first", description_);
    return centers_;
  }
  /// The std of every mixture component; throws unless has_modes().
  double std() const {
    GPM_CHECK(has_modes(), "AnyDataset: '{}' is not a Gaussian mixture and has no std; check has_modes() "
              "first", description_);
    return std_;
  }
  /// True for image datasets: the points are flat images of image_shape().
  bool has_image_shape() const { return image_shape_.has_value(); }
  /// The C × H × W of the images; throws unless has_image_shape().
  const ImageShape& image_shape() const {
    GPM_CHECK(has_image_shape(), "AnyDataset: '{}' is not an image dataset and has no image shape; check "
              "has_image_shape() first", description_);
    return *image_shape_;
  }

 private:
  Sampler sampler_;
  int64_t dim_;
  std::string description_;
  torch::Tensor centers_;
  double std_ = 0.0;
  std::optional<ImageShape> image_shape_;
};

}  // namespace gpm::data
