// The convolutional block every image network of gpm is built from: a convolution (optionally
// spectrally normalised), batch norm, FiLM by a condition, and an activation, each optional.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/nn/activation.hpp"
#include "gpm/nn/batch_norm.hpp"
#include "gpm/nn/film.hpp"
#include "gpm/nn/spectral_norm.hpp"

namespace gpm::nn {

struct ConvBlockOptions {
  /// BatchNorm2d after the convolution.
  TORCH_ARG(bool, batch_norm) = false;
  /// The activation at the end of the block (none: the block is linear but for batch norm).
  TORCH_ARG(std::optional<Activation>, activation) = std::nullopt;
  /// leaky_relu's slope for negative inputs.
  TORCH_ARG(double, negative_slope) = 0.2;
  /// Spectral normalisation of the convolution and of the FiLM's affine map.
  TORCH_ARG(bool, spectral_norm) = false;
  /// Features of the FiLM condition (0: no FiLM, the block takes no condition).
  TORCH_ARG(int64_t, condition_size) = 0;
  /// Seed of the spectral normalisations' initial vectors (the FiLM's uses seed + 1).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// activation(FiLM(BN(conv(x)), c)) with each stage optional: the reference's convolutional block
/// (Franceschi et al. 2023, arXiv:2305.16150, code `make_conv_block`), FiLM modulating the
/// normalised convolution before the activation. `conv` is a Conv2d or ConvTranspose2d, wrapped in
/// SpectralNorm when asked. Submodules `conv`, `batch_norm`, `film`, `activation` where present.
/// Example: `ConvBlock block(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 4).stride(2).padding(1)),
///                           ConvBlockOptions().activation(Activation::leaky_relu));`
class ConvBlockImpl : public torch::nn::Module {
 public:
  /// `layer`: a torch::nn::Conv2d or torch::nn::ConvTranspose2d.
  template <class Layer>
  ConvBlockImpl(Layer layer, ConvBlockOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    const int64_t channels = layer->options.out_channels();
    conv = optionally_spectral_norm(std::move(layer), o.spectral_norm(), SpectralNormOptions().seed(o.seed()));
    register_module("conv", conv.ptr());
    if (o.batch_norm()) batch_norm = register_module("batch_norm", BatchNorm(channels));
    GPM_CHECK(o.condition_size() >= 0, "ConvBlock: condition_size must be >= 0, got {}", o.condition_size());
    if (o.condition_size() > 0)
      film = register_module("film", Film(FilmOptions(o.condition_size(), channels)
                                              .spectral_norm(o.spectral_norm())
                                              .seed(o.seed() + 1)));
    if (o.activation()) {
      activation = make_activation(*o.activation(), o.negative_slope());
      register_module("activation", activation.ptr());
    }
  }

  /// x [N, C_in, H, W] (and the condition c [N, condition_size] when the block has a FiLM; an
  /// undefined tensor otherwise) -> [N, C_out, H', W'].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c = {}) {
    GPM_CHECK(c.defined() == !film.is_empty(), "ConvBlock::forward: {}", film.is_empty()
              ? "this block has no FiLM (condition_size 0) but was given a condition"
              : "this block is conditioned (condition_size > 0) but was given no condition");
    auto h = conv.forward(x);
    if (!batch_norm.is_empty()) h = batch_norm->forward(h);
    if (!film.is_empty()) h = film->forward(h, c);
    if (!activation.is_empty()) h = activation.forward(h);
    return h;
  }

  const ConvBlockOptions& options() const { return options_; }

  /// Conv2d, ConvTranspose2d or their SpectralNorm.
  torch::nn::AnyModule conv;
  BatchNorm batch_norm{nullptr};
  Film film{nullptr};
  torch::nn::AnyModule activation;

 private:
  ConvBlockOptions options_;
};
TORCH_MODULE(ConvBlock);

namespace detail {
/// The checks every image network makes of its placement and options: `size` (its latent or out
/// size, named `size_name`) and `width` > 0, `negative_slope` >= 0, and a square 32×32 or 64×64
/// image, the error naming `where` and the allowed sizes.
inline void check_image_network(const char* where, const char* size_name, int64_t size, int64_t width,
                                double negative_slope, const ImageShape& image) {
  GPM_CHECK(size > 0, "{}: {} must be > 0, got {}", where, size_name, size);
  GPM_CHECK(width > 0, "{}: width must be > 0, got {}", where, width);
  GPM_CHECK(negative_slope >= 0, "{}: negative_slope must be >= 0, got {}", where, negative_slope);
  const bool allowed = (image.height == 32 || image.height == 64) && image.width == image.height;
  GPM_CHECK(image.channels > 0 && allowed, "{}: images must be 32×32 or 64×64 with at least one channel, got {}",
            where, image.describe());
}

/// The two entry points of an image discriminator: `forward(x)` when it is built unconditioned,
/// `conditioned(x, c)` when built with condition_size > 0 (see TimeConditioned); both call
/// `Derived::run(x, c, where)`. Derived names itself in errors with `static constexpr kName`.
template <class Derived>
class DiscriminatorEntryPoints : public torch::nn::Module {
 public:
  /// x [N, C·H·W] -> [N, out] (unconditioned discriminators).
  torch::Tensor forward(const torch::Tensor& x) {
    auto& self = static_cast<Derived&>(*this);
    GPM_CHECK(self.options().condition_size() == 0, "{}::forward: this discriminator is conditioned "
              "(condition_size {}); call conditioned(x, c)", Derived::kName, self.options().condition_size());
    return self.run(x, {}, fmt::format("{}::forward", Derived::kName).c_str());
  }

  /// x [N, C·H·W], c [N, condition_size] -> [N, out], its blocks modulated by FiLM(c).
  torch::Tensor conditioned(const torch::Tensor& x, const torch::Tensor& c) {
    auto& self = static_cast<Derived&>(*this);
    GPM_CHECK(self.options().condition_size() > 0, "{}::conditioned: this discriminator was built with "
              "condition_size 0; call forward(x)", Derived::kName);
    return self.run(x, c, fmt::format("{}::conditioned", Derived::kName).c_str());
  }
};
}  // namespace detail

}  // namespace gpm::nn
