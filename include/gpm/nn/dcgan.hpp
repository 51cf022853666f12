// The DCGAN generator and discriminator (Radford et al. 2016, arXiv:1511.06434) for 32×32 and
// 64×64 images, in the reference's layout. Particles are flat: the generator returns [N, C·H·W],
// the discriminator takes it (gpm::ImageShape).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/activation.hpp"
#include "gpm/nn/conv_block.hpp"
#include "gpm/nn/conv_transpose.hpp"
#include "gpm/nn/time_conditioned.hpp"

namespace gpm::nn {

/// A DcganGenerator's architecture (the reference's MNIST GAN generator by default).
struct DcganGeneratorOptions {
  /// Options of a generator whose sizes a model fills in (latent, image: placement).
  DcganGeneratorOptions() = default;
  /// `latent`: size of the latent z; `image`: the generated images' shape (32×32 or 64×64).
  DcganGeneratorOptions(int64_t latent, ImageShape image) : latent_(latent), image_(image) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, width, Range::at_least(1), "w: the up-convolutions have 8w, 4w, 2w and w channels") = 64;
  GPM_OPTION(bool, batch_norm, Range::any(), "BatchNorm2d after each hidden up-convolution") = true;
  GPM_OPTION(bool, spectral_norm, Range::any(), "spectral normalisation of every up-convolution") = false;
  GPM_OPTION(Activation, activation, Range::any(), "the hidden nonlinearity") = Activation::relu;
  GPM_OPTION(double, negative_slope, Range::at_least(0), "leaky_relu's slope for negative inputs") = 0.2;
  GPM_OPTION(bool, final_tanh, Range::any(), "tanh on the output, for images scaled to [−1, 1]") = true;
  GPM_OPTIONS_END

  TORCH_ARG(int64_t, latent) = 0;
  TORCH_ARG(ImageShape, image) = {};
  /// Seed of the spectral normalisations' initial vectors (placement).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// z [N, latent] -> images [N, C·H·W]: z as a 1×1 map, ConvTranspose 4×4 to 4×4 with 8w channels,
/// three up-convolutions 4×4 stride 2 halving the channels (8×8, 16×16, 32×32), then to C channels
/// with a 3×3 stride-1 convolution (32×32) or a 4×4 stride-2 one (64×64), and tanh. Hidden blocks
/// are ConvBlocks [up-conv, BatchNorm2d, activation] (convolutions without bias under batch norm);
/// the last has no bias, norm or activation. Submodule `blocks` (ConvBlocks 0–4).
/// Example: `DcganGenerator g(DcganGeneratorOptions(128, ImageShape{1, 32, 32}));`
class DcganGeneratorImpl : public torch::nn::Module {
 public:
  using Options = DcganGeneratorOptions;

  explicit DcganGeneratorImpl(DcganGeneratorOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    detail::check_image_network("DcganGenerator", "latent", o.latent(), o.width(), o.negative_slope(), o.image());
    using torch::nn::ConvTranspose2dOptions;  // the layer is gpm::nn::ConvTranspose2d
    const auto hidden = [&](uint64_t index) {
      return ConvBlockOptions().batch_norm(o.batch_norm()).activation(o.activation()).negative_slope(o.negative_slope())
          .spectral_norm(o.spectral_norm()).seed(o.seed() + 2 * index);
    };
    const int64_t w = o.width();
    add(ConvBlock(ConvTranspose2d(ConvTranspose2dOptions(o.latent(), 8 * w, 4).bias(!o.batch_norm())), hidden(0)));
    for (int64_t channels = 8 * w, i = 1; channels > w; channels /= 2, ++i)
      add(ConvBlock(ConvTranspose2d(ConvTranspose2dOptions(channels, channels / 2, 4).stride(2).padding(1)
                                        .bias(!o.batch_norm())),
                    hidden(static_cast<uint64_t>(i))));
    const bool large = o.image().height == 64;
    add(ConvBlock(ConvTranspose2d(ConvTranspose2dOptions(w, o.image().channels, large ? 4 : 3)
                                      .stride(large ? 2 : 1).padding(1).bias(false)),
                  ConvBlockOptions().spectral_norm(o.spectral_norm()).seed(o.seed() + 8)));
    register_module("blocks", blocks);
  }

  /// z [N, latent] -> [N, C·H·W].
  torch::Tensor forward(const torch::Tensor& z) {
    check_particles(z, "DcganGenerator::forward", "z");
    GPM_CHECK(z.dim() == 2 && z.size(1) == options_.latent(), "DcganGenerator::forward: z has shape {}, expected "
              "[N, {}] (the latent size)", shape_string(z), options_.latent());
    auto h = z.reshape({z.size(0), options_.latent(), 1, 1});
    for (auto& block : blocks_) h = block->forward(h);
    if (options_.final_tanh()) h = h.tanh();
    return h.flatten(1);
  }

  const DcganGeneratorOptions& options() const { return options_; }

  torch::nn::ModuleList blocks;

 private:
  void add(ConvBlock block) {
    blocks->push_back(block);
    blocks_.push_back(std::move(block));
  }

  DcganGeneratorOptions options_;
  std::vector<ConvBlock> blocks_;
};
TORCH_MODULE(DcganGenerator);

/// A DcganDiscriminator's architecture (the reference's MNIST Discriminator Flow critic by default).
struct DcganDiscriminatorOptions {
  /// Options of a discriminator whose sizes a model fills in (image, out: placement).
  DcganDiscriminatorOptions() = default;
  /// `image`: the input images' shape (32×32 or 64×64); `out`: outputs per image (1: a logit).
  DcganDiscriminatorOptions(ImageShape image, int64_t out) : image_(image), out_(out) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, width, Range::at_least(1), "w: the convolutions have w, 2w, 4w and 8w channels") = 64;
  GPM_OPTION(bool, batch_norm, Range::any(), "BatchNorm2d after the second to fourth convolutions") = false;
  GPM_OPTION(bool, spectral_norm, Range::any(), "spectral normalisation of every convolution (and FiLM map)") = false;
  GPM_OPTION(Activation, activation, Range::any(), "the hidden nonlinearity") = Activation::leaky_relu;
  GPM_OPTION(double, negative_slope, Range::at_least(0), "leaky_relu's slope for negative inputs") = 0.2;
  GPM_OPTION(bool, first_bias, Range::any(), "a bias in the first convolution") = true;
  GPM_OPTIONS_END

  TORCH_ARG(ImageShape, image) = {};
  TORCH_ARG(int64_t, out) = 1;
  /// Features of a FiLM condition on every block (0: unconditioned; set by TimeConditioned).
  TORCH_ARG(int64_t, condition_size) = 0;
  /// Seed of the spectral normalisations' initial vectors (placement).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// Images [N, C·H·W] -> [N, out]: a first convolution to w channels (3×3 stride 1 for 32×32, 4×4
/// stride 2 for 64×64, bias per `first_bias`, no batch norm), three 4×4 stride-2 convolutions
/// doubling the channels to 8w at 4×4 (batch norm optional, then without bias), each followed by
/// the activation, and a last 4×4 valid convolution to `out` without bias. With condition_size > 0
/// every block's output is modulated by FiLM before its activation (`conditioned`); `forward`
/// is then unavailable. Submodule `blocks` (ConvBlocks 0–4).
/// Example: `DcganDiscriminator d(DcganDiscriminatorOptions(ImageShape{1, 32, 32}, 1));`
class DcganDiscriminatorImpl : public detail::DiscriminatorEntryPoints<DcganDiscriminatorImpl> {
 public:
  using Options = DcganDiscriminatorOptions;
  static constexpr const char* kName = "DcganDiscriminator";

  explicit DcganDiscriminatorImpl(DcganDiscriminatorOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    detail::check_image_network("DcganDiscriminator", "out", o.out(), o.width(), o.negative_slope(), o.image());
    using torch::nn::Conv2d, torch::nn::Conv2dOptions;
    const auto block = [&](uint64_t index) {
      return ConvBlockOptions().spectral_norm(o.spectral_norm()).condition_size(o.condition_size())
          .seed(o.seed() + 2 * index);
    };
    const auto hidden = [&](uint64_t index) {
      return block(index).activation(o.activation()).negative_slope(o.negative_slope());
    };
    const int64_t w = o.width();
    const bool large = o.image().height == 64;
    add(ConvBlock(Conv2d(Conv2dOptions(o.image().channels, w, large ? 4 : 3).stride(large ? 2 : 1).padding(1)
                             .bias(o.first_bias())),
                  hidden(0)));
    for (int64_t channels = w, i = 1; channels < 8 * w; channels *= 2, ++i)
      add(ConvBlock(Conv2d(Conv2dOptions(channels, 2 * channels, 4).stride(2).padding(1).bias(!o.batch_norm())),
                    hidden(static_cast<uint64_t>(i)).batch_norm(o.batch_norm())));
    add(ConvBlock(Conv2d(Conv2dOptions(8 * w, o.out(), 4).bias(false)), block(4)));
    register_module("blocks", blocks);
  }

  const DcganDiscriminatorOptions& options() const { return options_; }

  torch::nn::ModuleList blocks;

 private:
  friend class detail::DiscriminatorEntryPoints<DcganDiscriminatorImpl>;

  void add(ConvBlock block) {
    blocks->push_back(block);
    blocks_.push_back(std::move(block));
  }

  torch::Tensor run(const torch::Tensor& x, const torch::Tensor& c, const char* where) {
    check_particles(x, where);
    auto h = options_.image().unflatten(x, where);
    for (auto& block : blocks_) h = block->forward(h, c);
    return h.flatten(1);
  }

  DcganDiscriminatorOptions options_;
  std::vector<ConvBlock> blocks_;
};
TORCH_MODULE(DcganDiscriminator);

/// The time-dependent DCGAN critic f(x, t) of a Discriminator Flow on images: a DcganDiscriminator
/// whose blocks FiLM modulates by an MLP of t's embedding (see TimeConditionedImpl).
/// Example: `DcganTimeDiscriminator f(DcganTimeDiscriminatorOptions(ImageShape{1, 32, 32}, 1));  f(x, t);`
using DcganTimeDiscriminatorOptions = TimeConditionedOptions<DcganDiscriminatorOptions>;
using DcganTimeDiscriminator = TimeConditioned<DcganDiscriminator>;

}  // namespace gpm::nn
