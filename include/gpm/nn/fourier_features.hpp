// Random Fourier features of a network's input: a fixed random projection of the coordinates
// through sines and cosines, which lets an MLP on low-dimensional data resolve fine spatial
// structure (many narrow modes) that it learns slowly from raw coordinates (Tancik et al. 2020).
#pragma once

#include <cstdint>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/embeddings.hpp"

namespace gpm::nn {

struct FourierFeaturesOptions {
  /// `in`: features of one (flattened) input; `size`: output features (even: half cosines, half sines).
  FourierFeaturesOptions(int64_t in, int64_t size) : in_(in), size_(size) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, size);
  /// Standard deviation of the angular frequencies, in radians per unit of x.
  TORCH_ARG(double, scale) = 1.0;
  /// Seed of the frequency draw.
  TORCH_ARG(uint64_t, seed) = 0;
};

/// φ(x) = [cos(x W), sin(x W)] with fixed W [in, size/2] ~ N(0, scale²), drawn once from `seed`
/// (Rahimi & Recht 2007; Tancik et al. 2020). W is a buffer `weights`: saved and moved with the
/// module, never trained. x [N, in] -> [N, size].
/// Example: `FourierFeatures features(FourierFeaturesOptions(2, 128).seed(1));`
class FourierFeaturesImpl : public torch::nn::Module {
 public:
  explicit FourierFeaturesImpl(FourierFeaturesOptions options) : options_(options) {
    GPM_CHECK(options_.in() >= 1, "FourierFeatures: in must be >= 1, got {}", options_.in());
    detail::check_embedding_size(options_.size(), "FourierFeatures");
    weights = register_buffer("weights", detail::random_frequencies({options_.in(), options_.size() / 2}, options_.scale(),
                                                                    options_.seed(), "FourierFeatures"));
  }

  /// x [N, in] -> [N, size]; x must match the module's dtype and device (convert it with ->to()).
  torch::Tensor forward(const torch::Tensor& x) {
    GPM_CHECK(x.dim() == 2 && x.size(1) == options_.in(), "FourierFeatures::forward: x has shape {}, expected "
              "[N, {}]", shape_string(x), options_.in());
    check_compatible(x, "x", weights, "the frequencies", "FourierFeatures::forward");
    const auto phase = x.matmul(weights);
    return torch::cat({phase.cos(), phase.sin()}, 1);
  }

  const FourierFeaturesOptions& options() const { return options_; }

  /// W [in, size/2].
  torch::Tensor weights;

 private:
  FourierFeaturesOptions options_;
};
TORCH_MODULE(FourierFeatures);

}  // namespace gpm::nn
