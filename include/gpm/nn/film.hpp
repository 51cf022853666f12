// Feature-wise linear modulation (FiLM, Perez et al. 2018, arXiv:1709.07871): a condition vector
// scales and shifts each channel of a feature map. gpm's image discriminators take the time of a
// Discriminator Flow this way, as the reference's do.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/spectral_norm.hpp"

namespace gpm::nn {

struct FilmOptions {
  /// `condition_size`: features of the condition c; `channels`: channels of the modulated map.
  FilmOptions(int64_t condition_size, int64_t channels) : condition_size_(condition_size), channels_(channels) {}
  TORCH_ARG(int64_t, condition_size);
  TORCH_ARG(int64_t, channels);
  /// Spectral normalisation of the affine map c -> (scale, shift).
  TORCH_ARG(bool, spectral_norm) = false;
  /// Seed of the spectral normalisation's initial vectors.
  TORCH_ARG(uint64_t, seed) = 0;
};

/// FiLM(h, c) = shift + h ⊙ (1 + scale), with [scale, shift] = affine(c) ∈ R^{2C} broadcast over the
/// spatial dimensions of h [N, C, ...]. `1 + scale` makes a zero affine map the identity, so a
/// freshly zeroed modulation leaves the unconditioned network intact. Submodule `affine` (a Linear,
/// spectrally normalised when asked); the first C outputs are the scales, the last C the shifts.
/// Example: `Film film(FilmOptions(256, 64));  auto y = film(h, c);  // h [N, 64, H, W], c [N, 256]`
class FilmImpl : public torch::nn::Module {
 public:
  explicit FilmImpl(FilmOptions options) : options_(options) {
    GPM_CHECK(options_.condition_size() > 0 && options_.channels() > 0, "Film: condition_size and channels must be "
              "> 0, got {} and {}", options_.condition_size(), options_.channels());
    affine = optionally_spectral_norm(
        torch::nn::Linear(torch::nn::LinearOptions(options_.condition_size(), 2 * options_.channels())),
        options_.spectral_norm(), SpectralNormOptions().seed(options_.seed()));
    register_module("affine", affine.ptr());
  }

  /// h [N, C, ...], c [N, condition_size] -> [N, C, ...].
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& c) {
    GPM_CHECK(h.dim() >= 2 && h.size(1) == options_.channels(), "Film::forward: h has shape {}, expected [N, {}, ...]",
              shape_string(h), options_.channels());
    GPM_CHECK(c.dim() == 2 && c.size(0) == h.size(0) && c.size(1) == options_.condition_size(), "Film::forward: c "
              "has shape {}, expected [{}, {}]", shape_string(c), h.size(0), options_.condition_size());
    std::vector<int64_t> shape{h.size(0), 2 * options_.channels()};
    shape.resize(static_cast<size_t>(h.dim()), 1);  // [N, 2C, 1, ..., 1], as many dims as h
    const auto params = affine.forward(c).reshape(shape);
    const auto scale = params.narrow(1, 0, options_.channels());
    const auto shift = params.narrow(1, options_.channels(), options_.channels());
    return torch::addcmul(shift, h, scale + 1);
  }

  const FilmOptions& options() const { return options_; }

  /// c -> [scale, shift]: a Linear or SpectralNorm<Linear>.
  torch::nn::AnyModule affine;

 private:
  FilmOptions options_;
};
TORCH_MODULE(Film);

}  // namespace gpm::nn
