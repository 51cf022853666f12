// SAGAN-style residual generator and discriminator (Miyato et al. 2018; Zhang et al. 2019, as in
// StudioGAN and the reference's resnet.py) for 32×32 and 64×64 images, flat in and out.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/arg.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/activation.hpp"
#include "gpm/nn/batch_norm.hpp"
#include "gpm/nn/conv_block.hpp"
#include "gpm/nn/self_attention.hpp"
#include "gpm/nn/spectral_norm.hpp"
#include "gpm/nn/time_conditioned.hpp"

namespace gpm::nn {

namespace detail {
inline torch::Tensor upsample2(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{2 * x.size(2), 2 * x.size(3)})
                               .mode(torch::kNearest));
}
inline torch::Tensor downsample2(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
}
inline BatchNorm optional_batch_norm(torch::nn::Module& parent, const char* name, bool enabled, int64_t channels) {
  if (!enabled) return BatchNorm(nullptr);
  return parent.register_module(name, BatchNorm(channels));
}
inline torch::Tensor apply_optional(BatchNorm& norm, const torch::Tensor& x) {
  return norm.is_empty() ? x : norm->forward(x);
}
/// Index of the first block whose output side is `resolution` (-1 for 0: no attention), or an error
/// naming the sides there are.
inline int64_t attention_block(int64_t resolution, const std::vector<int64_t>& sides, const char* where) {
  if (resolution == 0) return -1;
  for (size_t i = 0; i < sides.size(); ++i)
    if (sides[i] == resolution) return static_cast<int64_t>(i);
  GPM_CHECK(false, "{}: attention_resolution {} is not the side of any block's output; the blocks output {} "
            "(or 0: no attention)", where, resolution, fmt::join(sides, ", "));
  return -1;
}
}  // namespace detail

/// A ResnetGenerator's architecture (the reference's, with the CelebA generator's defaults).
struct ResnetGeneratorOptions {
  /// Options of a generator whose sizes a model fills in (latent, image: placement).
  ResnetGeneratorOptions() = default;
  /// `latent`: size of the latent z; `image`: the generated images' shape (32×32 or 64×64).
  ResnetGeneratorOptions(int64_t latent, ImageShape image) : latent_(latent), image_(image) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, width, Range::at_least(1), "w: blocks of 16w, 8w, 4w, 2w -> w channels (64×64); 4w (32×32)") = 64;
  GPM_OPTION(bool, batch_norm, Range::any(), "BatchNorm2d before each activation") = true;
  GPM_OPTION(bool, spectral_norm, Range::any(), "spectral normalisation of every convolution and the first Linear") =
      false;
  GPM_OPTION(Activation, activation, Range::any(), "the hidden nonlinearity") = Activation::relu;
  GPM_OPTION(double, negative_slope, Range::at_least(0), "leaky_relu's slope for negative inputs") = 0.2;
  GPM_OPTION(int64_t, attention_resolution, Range::at_least(0),
             "self-attention after the block whose output has this side (0: none)") = 0;
  GPM_OPTION(bool, final_tanh, Range::any(), "tanh on the output, for images scaled to [−1, 1]") = true;
  GPM_OPTIONS_END

  TORCH_ARG(int64_t, latent) = 0;
  TORCH_ARG(ImageShape, image) = {};
  /// Seed of the spectral normalisations' initial vectors (placement).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// The up-sampling residual block: [BN, activation, ×2 nearest, conv 3×3, BN, activation,
/// conv 3×3] + [×2 nearest, conv 1×1] (BN optional). Submodules `batch_norm`, `conv1`, `conv2`, `shortcut`.
class ResnetUpBlockImpl : public torch::nn::Module {
 public:
  ResnetUpBlockImpl(int64_t in, int64_t out, const ResnetGeneratorOptions& o, uint64_t seed) {
    using torch::nn::Conv2d, torch::nn::Conv2dOptions;
    const auto block = ConvBlockOptions().spectral_norm(o.spectral_norm());
    batch_norm = detail::optional_batch_norm(*this, "batch_norm", o.batch_norm(), in);
    activation = make_activation(o.activation(), o.negative_slope());
    register_module("activation", activation.ptr());
    conv1 = register_module("conv1", ConvBlock(Conv2d(Conv2dOptions(in, out, 3).padding(1)),
                                               ConvBlockOptions(block).batch_norm(o.batch_norm())
                                                   .activation(o.activation()).negative_slope(o.negative_slope())
                                                   .seed(seed)));
    conv2 = register_module("conv2", ConvBlock(Conv2d(Conv2dOptions(out, out, 3).padding(1)),
                                               ConvBlockOptions(block).seed(seed + 2)));
    shortcut = register_module("shortcut", ConvBlock(Conv2d(Conv2dOptions(in, out, 1)), ConvBlockOptions(block)
                                                         .seed(seed + 4)));
  }

  /// [N, in, H, W] -> [N, out, 2H, 2W].
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = activation.forward(detail::apply_optional(batch_norm, x));
    h = conv2->forward(conv1->forward(detail::upsample2(h)));
    return h + shortcut->forward(detail::upsample2(x));
  }

  BatchNorm batch_norm{nullptr};
  torch::nn::AnyModule activation;
  ConvBlock conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
};
TORCH_MODULE(ResnetUpBlock);

/// z [N, latent] -> images [N, C·H·W]: Linear to 4×4 maps, up-sampling residual blocks to the image
/// side (3 blocks of 4w channels for 32×32; 16w -> 8w -> 4w -> 2w -> w for 64×64), optional
/// self-attention, [BN, activation, conv 3×3 to C], tanh. Submodules `linear`, `blocks`,
/// `attention` (when asked), `batch_norm`, `output`.
/// Example: `ResnetGenerator g(ResnetGeneratorOptions(128, ImageShape{3, 64, 64}));`
class ResnetGeneratorImpl : public torch::nn::Module {
 public:
  using Options = ResnetGeneratorOptions;

  explicit ResnetGeneratorImpl(ResnetGeneratorOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    detail::check_image_network("ResnetGenerator", "latent", o.latent(), o.width(), o.negative_slope(), o.image());
    const int64_t w = o.width();
    const bool large = o.image().height == 64;
    const std::vector<int64_t> in = large ? std::vector<int64_t>{16 * w, 8 * w, 4 * w, 2 * w}
                                          : std::vector<int64_t>{4 * w, 4 * w, 4 * w};
    const std::vector<int64_t> out = large ? std::vector<int64_t>{8 * w, 4 * w, 2 * w, w}
                                           : std::vector<int64_t>{4 * w, 4 * w, 4 * w};
    std::vector<int64_t> sides;
    for (size_t i = 0; i < in.size(); ++i) sides.push_back(int64_t{8} << i);
    attention_after_ = detail::attention_block(o.attention_resolution(), sides, "ResnetGenerator");
    first_channels_ = in.front();
    linear = optionally_spectral_norm(torch::nn::Linear(o.latent(), first_channels_ * 16), o.spectral_norm(),
                                      SpectralNormOptions().seed(o.seed()));
    register_module("linear", linear.ptr());
    for (size_t i = 0; i < in.size(); ++i) {
      ResnetUpBlock block(in[i], out[i], o, o.seed() + 8 * (i + 1));
      blocks->push_back(block);
      blocks_.push_back(block);
    }
    register_module("blocks", blocks);
    if (attention_after_ >= 0)
      attention = register_module("attention", SelfAttention(SelfAttentionOptions(out[attention_after_])
                                                                 .spectral_norm(o.spectral_norm())
                                                                 .seed(o.seed() + 1)));
    batch_norm = detail::optional_batch_norm(*this, "batch_norm", o.batch_norm(), out.back());
    output = register_module("output", ConvBlock(torch::nn::Conv2d(torch::nn::Conv2dOptions(out.back(), o.image().channels, 3)
                                                                       .padding(1)),
                                                 ConvBlockOptions().spectral_norm(o.spectral_norm()).seed(o.seed() + 3)));
    activation = make_activation(o.activation(), o.negative_slope());
    register_module("activation", activation.ptr());
  }

  /// z [N, latent] -> [N, C·H·W].
  torch::Tensor forward(const torch::Tensor& z) {
    check_particles(z, "ResnetGenerator::forward", "z");
    GPM_CHECK(z.dim() == 2 && z.size(1) == options_.latent(), "ResnetGenerator::forward: z has shape {}, expected "
              "[N, {}] (the latent size)", shape_string(z), options_.latent());
    auto h = linear.forward(z).reshape({z.size(0), first_channels_, 4, 4});
    for (size_t i = 0; i < blocks_.size(); ++i) {
      h = blocks_[i]->forward(h);
      if (static_cast<int64_t>(i) == attention_after_) h = attention->forward(h);
    }
    h = output->forward(activation.forward(detail::apply_optional(batch_norm, h)));
    if (options_.final_tanh()) h = h.tanh();
    return h.flatten(1);
  }

  const ResnetGeneratorOptions& options() const { return options_; }

  torch::nn::AnyModule linear;
  torch::nn::ModuleList blocks;
  SelfAttention attention{nullptr};
  BatchNorm batch_norm{nullptr};
  ConvBlock output{nullptr};
  torch::nn::AnyModule activation;

 private:
  ResnetGeneratorOptions options_;
  std::vector<ResnetUpBlock> blocks_;
  int64_t attention_after_ = -1;
  int64_t first_channels_ = 0;
};
TORCH_MODULE(ResnetGenerator);

/// A ResnetDiscriminator's architecture (the reference's CelebA Discriminator Flow critic).
struct ResnetDiscriminatorOptions {
  /// Options of a discriminator whose sizes a model fills in (image, out: placement).
  ResnetDiscriminatorOptions() = default;
  /// `image`: the input images' shape (32×32 or 64×64); `out`: outputs per image (1: a logit).
  ResnetDiscriminatorOptions(ImageShape image, int64_t out) : image_(image), out_(out) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, width, Range::at_least(1), "w: blocks of w, 2w, 4w, 8w, 16w channels (64×64); 2w (32×32)") = 64;
  GPM_OPTION(bool, batch_norm, Range::any(), "BatchNorm2d before each activation and shortcut") = false;
  GPM_OPTION(bool, spectral_norm, Range::any(), "spectral normalisation of every convolution and the last Linear") =
      false;
  GPM_OPTION(Activation, activation, Range::any(), "the hidden nonlinearity") = Activation::leaky_relu;
  GPM_OPTION(double, negative_slope, Range::at_least(0), "leaky_relu's slope for negative inputs") = 0.2;
  GPM_OPTION(int64_t, attention_resolution, Range::at_least(0),
             "self-attention after the first block whose output has this side (0: none)") = 0;
  GPM_OPTIONS_END

  TORCH_ARG(ImageShape, image) = {};
  TORCH_ARG(int64_t, out) = 1;
  /// Features of a FiLM condition on every convolution (0: unconditioned; set by TimeConditioned).
  TORCH_ARG(int64_t, condition_size) = 0;
  /// Seed of the spectral normalisations' initial vectors (placement).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// The down-sampling residual block. The first block of a network: [conv 3×3, BN, activation,
/// conv 3×3, avg-pool 2] + [avg-pool 2, BN, conv 1×1]; the others are pre-activated: [BN,
/// activation, conv 3×3, BN, activation, conv 3×3, avg-pool 2 if down-sampling] + [BN, conv 1×1,
/// avg-pool] where the channels change or the block down-samples, else the identity. BN optional;
/// every convolution is FiLM-modulated when conditioned. Submodules `batch_norm`, `conv1`, `conv2`,
/// `shortcut_norm`, `shortcut`.
class ResnetDownBlockImpl : public torch::nn::Module {
 public:
  ResnetDownBlockImpl(int64_t in, int64_t out, bool first, bool downsample, const ResnetDiscriminatorOptions& o,
                      uint64_t seed)
      : first_(first), downsample_(first || downsample) {
    using torch::nn::Conv2d, torch::nn::Conv2dOptions;
    const auto block = ConvBlockOptions().spectral_norm(o.spectral_norm()).condition_size(o.condition_size());
    if (!first) batch_norm = detail::optional_batch_norm(*this, "batch_norm", o.batch_norm(), in);
    conv1 = register_module("conv1", ConvBlock(Conv2d(Conv2dOptions(in, out, 3).padding(1)),
                                               ConvBlockOptions(block).batch_norm(o.batch_norm())
                                                   .activation(o.activation()).negative_slope(o.negative_slope())
                                                   .seed(seed)));
    conv2 = register_module("conv2", ConvBlock(Conv2d(Conv2dOptions(out, out, 3).padding(1)),
                                               ConvBlockOptions(block).seed(seed + 2)));
    if (first || downsample_ || in != out) {
      shortcut_norm = detail::optional_batch_norm(*this, "shortcut_norm", o.batch_norm(), in);
      shortcut = register_module("shortcut", ConvBlock(Conv2d(Conv2dOptions(in, out, 1)),
                                                       ConvBlockOptions(block).seed(seed + 4)));
    }
    activation = make_activation(o.activation(), o.negative_slope());
    register_module("activation", activation.ptr());
  }

  /// x [N, in, H, W] (c [N, condition_size] when conditioned) -> [N, out, H', W'].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c = {}) {
    auto h = first_ ? x : activation.forward(detail::apply_optional(batch_norm, x));
    h = conv2->forward(conv1->forward(h, c), c);
    if (downsample_) h = detail::downsample2(h);
    if (shortcut.is_empty()) return h + x;
    if (first_) return h + shortcut->forward(detail::apply_optional(shortcut_norm, detail::downsample2(x)), c);
    auto skip = shortcut->forward(detail::apply_optional(shortcut_norm, x), c);
    return h + (downsample_ ? detail::downsample2(skip) : skip);
  }

  BatchNorm batch_norm{nullptr}, shortcut_norm{nullptr};
  ConvBlock conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
  torch::nn::AnyModule activation;

 private:
  bool first_, downsample_;
};
TORCH_MODULE(ResnetDownBlock);

/// Images [N, C·H·W] -> [N, out]: down-sampling residual blocks (32×32: four of 2w channels, to
/// 8×8; 64×64: w, 2w, 4w, 8w, 16w channels, to 4×4), optional self-attention, activation, sum over
/// positions, Linear to `out`. With condition_size > 0 every convolution is modulated by FiLM
/// (`conditioned`; `forward` is then unavailable). Submodules `blocks`, `attention` (when asked),
/// `linear`.
/// Example: `ResnetDiscriminator d(ResnetDiscriminatorOptions(ImageShape{3, 64, 64}, 1));`
class ResnetDiscriminatorImpl : public detail::DiscriminatorEntryPoints<ResnetDiscriminatorImpl> {
 public:
  using Options = ResnetDiscriminatorOptions;
  static constexpr const char* kName = "ResnetDiscriminator";

  explicit ResnetDiscriminatorImpl(ResnetDiscriminatorOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    detail::check_image_network("ResnetDiscriminator", "out", o.out(), o.width(), o.negative_slope(), o.image());
    const int64_t w = o.width();
    const bool large = o.image().height == 64;
    const std::vector<int64_t> out = large ? std::vector<int64_t>{w, 2 * w, 4 * w, 8 * w, 16 * w}
                                           : std::vector<int64_t>{2 * w, 2 * w, 2 * w, 2 * w};
    const std::vector<bool> down = large ? std::vector<bool>{true, true, true, true, false}
                                         : std::vector<bool>{true, true, false, false};
    std::vector<int64_t> sides;
    int64_t side = o.image().height;
    for (bool d : down) sides.push_back(side = d ? side / 2 : side);
    attention_after_ = detail::attention_block(o.attention_resolution(), sides, "ResnetDiscriminator");
    for (size_t i = 0; i < out.size(); ++i) {
      ResnetDownBlock block(i == 0 ? o.image().channels : out[i - 1], out[i], i == 0, down[i], o,
                            o.seed() + 8 * (i + 1));
      blocks->push_back(block);
      blocks_.push_back(block);
    }
    register_module("blocks", blocks);
    if (attention_after_ >= 0)
      attention = register_module("attention", SelfAttention(SelfAttentionOptions(out[attention_after_])
                                                                 .spectral_norm(o.spectral_norm())
                                                                 .condition_size(o.condition_size())
                                                                 .seed(o.seed() + 1)));
    activation = make_activation(o.activation(), o.negative_slope());
    register_module("activation", activation.ptr());
    linear = optionally_spectral_norm(torch::nn::Linear(out.back(), o.out()), o.spectral_norm(),
                                      SpectralNormOptions().seed(o.seed() + 3));
    register_module("linear", linear.ptr());
  }

  const ResnetDiscriminatorOptions& options() const { return options_; }

  torch::nn::ModuleList blocks;
  SelfAttention attention{nullptr};
  torch::nn::AnyModule activation;
  torch::nn::AnyModule linear;

 private:
  friend class detail::DiscriminatorEntryPoints<ResnetDiscriminatorImpl>;

  torch::Tensor run(const torch::Tensor& x, const torch::Tensor& c, const char* where) {
    check_particles(x, where);
    auto h = options_.image().unflatten(x, where);
    for (size_t i = 0; i < blocks_.size(); ++i) {
      h = blocks_[i]->forward(h, c);
      if (static_cast<int64_t>(i) == attention_after_) h = attention->forward(h, c);
    }
    return linear.forward(activation.forward(h).sum({2, 3}));
  }

  ResnetDiscriminatorOptions options_;
  std::vector<ResnetDownBlock> blocks_;
  int64_t attention_after_ = -1;
};
TORCH_MODULE(ResnetDiscriminator);

/// The time-dependent ResNet critic f(x, t) of a Discriminator Flow on images (the reference's
/// CelebA one): a ResnetDiscriminator whose convolutions FiLM modulates by an MLP of t's embedding.
/// Example: `ResnetTimeDiscriminator f(ResnetTimeDiscriminatorOptions(ImageShape{3, 64, 64}, 1));  f(x, t);`
using ResnetTimeDiscriminatorOptions = TimeConditionedOptions<ResnetDiscriminatorOptions>;
using ResnetTimeDiscriminator = TimeConditioned<ResnetDiscriminator>;

}  // namespace gpm::nn
