// AnyDataset: any dataset behind one type, for command-line runners and the dataset table (type
// erasure is kept to that boundary).
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/data/dataset.hpp"

namespace gpm::data {

/// Any dataset behind one type: a sampler n, gen ↦ [n, D], the dimension D, the spec it was made
/// from, and, for Gaussian mixtures, their centres and std (for gpm::metrics::mode_coverage).
/// Models gpm::data::Dataset. Example: `AnyDataset data(GaussianRing(), "ring");`
class AnyDataset {
 public:
  using Sampler = std::function<torch::Tensor(int64_t, at::Generator&)>;

  /// Wraps `dataset`; a dataset with `centers()` and `std()` (a mixture) keeps them.
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

 private:
  Sampler sampler_;
  int64_t dim_;
  std::string description_;
  torch::Tensor centers_;
  double std_ = 0.0;
};

}  // namespace gpm::data
