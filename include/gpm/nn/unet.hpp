// The U-Net of EDM's DDPM++ configuration ("SongUNet", Karras et al. 2022, after Song et al. 2021)
// as the GPM reference builds it for its image experiments: the network F(x, c_noise) of an image
// denoiser. It takes and returns flat particles [N, C·H·W] and reshapes at its boundary
// (gpm::ImageShape), so it drops into EdmPreconditioned where a TimeMlp goes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/arg.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/dropout.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/nearest_upsample.hpp"
#include "gpm/core/onednn_matmul.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/embeddings.hpp"

namespace gpm::nn {

/// A UNet's architecture. The defaults are the GPM reference's MNIST EDM denoiser (332,481
/// parameters on 1×32×32 images); its Score GAN's generated-score network is
/// `UNetOptions().model_channels(64).num_blocks(2)`.
struct UNetOptions {
  /// Options of a UNet whose image shape a model fills in (placement, not configuration).
  UNetOptions() = default;
  /// `image`: the shape of one particle, C × H × W (square, H = W).
  explicit UNetOptions(ImageShape image) : image_(image) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, model_channels, Range::at_least(4),
             "channels of the first level (each level: model_channels × its channel_mult)") = 16;
  /// One entry per level; each level after the first halves the image (so H must be divisible by
  /// 2^(levels − 1)).
  GPM_OPTION(std::vector<int64_t>, channel_mult, Range::at_least(1),
             "channel multiplier of each level, from the full resolution down") = std::vector<int64_t>{1, 2, 2};
  GPM_OPTION(int64_t, channel_mult_emb, Range::at_least(1),
             "width of the noise embedding's mapping MLP, in units of model_channels") = 4;
  GPM_OPTION(int64_t, num_blocks, Range::at_least(1),
             "residual blocks per level in the encoder (the decoder has one more)") = 1;
  GPM_OPTION(double, dropout, Range::from_below(0, 1), "dropout probability inside every residual block") = 0.13;
  GPM_OPTION(Embedding, embedding, Range::any(), "how the noise label c_noise is embedded") = Embedding::positional;
  GPM_OPTION(int64_t, embedding_size, Range::at_least(2), "E, the noise label's embedding size (even)") = 256;
  GPM_OPTION(double, fourier_scale, Range::above(0), "fourier: std of the embedding's frequencies") = 16.0;
  /// Each must be the side of a level (32, 16, 8 for a 32×32 image and three levels): a side that
  /// is none is refused rather than ignored. The lowest level's first decoder block always attends.
  GPM_OPTION(std::vector<int64_t>, attention_resolutions, Range::at_least(1),
             "image sides at which the last block of a level ends in self-attention") = std::vector<int64_t>{16};
  GPM_OPTIONS_END

  TORCH_ARG(ImageShape, image) = {};
  /// The seed of a Fourier embedding's frequencies (placement).
  TORCH_ARG(uint64_t, seed) = 0;
};

namespace detail {

/// How a residual block resamples: the reference's [1, 1] filter is 2×2 average pooling down and
/// nearest-neighbour doubling up (its transposed convolution by a 2×2 box of ones).
enum class Resample { none, down, up };

inline torch::Tensor resample(const torch::Tensor& x, Resample how) {
  switch (how) {
    case Resample::none: return x;
    case Resample::down: return torch::avg_pool2d(x, {2, 2});
    case Resample::up: return upsample_nearest2x(x);
  }
  return x;
}

/// DDPM++'s GroupNorm: groups of at least 4 channels, at most 32 groups, ε = 1e-6.
inline torch::nn::GroupNorm unet_group_norm(int64_t channels) {
  const int64_t groups = std::min<int64_t>(32, channels / 4);
  GPM_CHECK(groups > 0, "UNet: a GroupNorm over {} channels has no group of 4; model_channels must be >= 4", channels);
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(1e-6));
}

/// `norm`(x) in its parameters' dtype: under bfloat16 autocast a convolution hands it bfloat16
/// activations, which LibTorch's CPU group norm does not take with float32 parameters (on CUDA,
/// autocast itself runs group norms in float32).
inline torch::Tensor group_norm(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  return norm->forward(x.to(norm->weight.scalar_type()));
}

/// A `kernel` × `kernel` convolution that keeps the image size (LibTorch's default initialisation,
/// which is the reference's).
inline torch::nn::Conv2d unet_conv(int64_t in, int64_t out, int64_t kernel) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

/// The residual scale of DDPM++: each sum of two branches is multiplied by √½.
inline constexpr double unet_skip_scale = 1.0 / std::numbers::sqrt2;

/// One DDPM++ residual block: GroupNorm, SiLU, (resample,) conv 3×3; the embedding's projection
/// added; GroupNorm, SiLU, dropout, conv 3×3; plus the input (through a 1×1 conv when the channels
/// change or the block resamples), times √½; then, optionally, one-head self-attention with its own
/// residual, times √½. Submodule names follow the reference (norm0, conv0, affine, norm1, conv1,
/// skip, norm2, qkv, proj). x [N, in, H, W], emb [N, E'] -> [N, out, H', W'].
class UNetBlockImpl : public torch::nn::Module {
 public:
  UNetBlockImpl(int64_t in, int64_t out, int64_t emb_channels, Resample resample, bool attention, double dropout)
      : in_(in), resample_(resample), dropout_(dropout) {
    norm0 = register_module("norm0", unet_group_norm(in));
    conv0 = register_module("conv0", unet_conv(in, out, 3));
    affine = register_module("affine", torch::nn::Linear(emb_channels, out));
    norm1 = register_module("norm1", unet_group_norm(out));
    conv1 = register_module("conv1", unet_conv(out, out, 3));
    if (in != out || resample != Resample::none) skip = register_module("skip", unet_conv(in, out, 1));
    if (attention) {
      norm2 = register_module("norm2", unet_group_norm(out));
      qkv = register_module("qkv", unet_conv(out, 3 * out, 1));
      proj = register_module("proj", unet_conv(out, out, 1));
    }
  }

  /// `dropout` draws the dropout masks in training mode (none: no dropout).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb, at::Generator* dropout = nullptr) {
    namespace F = torch::nn::functional;
    auto h = conv0->forward(resample(F::silu(group_norm(norm0, x)), resample_));
    h = F::silu(group_norm(norm1, h + affine->forward(emb).unsqueeze(2).unsqueeze(3)));
    if (dropout != nullptr && dropout_ > 0 && is_training()) h = gpm::dropout(h, dropout_, *dropout);
    h = conv1->forward(h);
    h = (h + (skip ? skip->forward(resample(x, resample_)) : x)) * unet_skip_scale;
    return qkv ? attend(h) : h;
  }

  int64_t in_channels() const { return in_; }

  torch::nn::GroupNorm norm0{nullptr}, norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv0{nullptr}, conv1{nullptr}, skip{nullptr}, qkv{nullptr}, proj{nullptr};
  torch::nn::Linear affine{nullptr};

 private:
  /// Softmax attention over the H·W positions, one head of all C channels. The qkv convolution's
  /// 3C output channels are read as [C, 3] (q, k, v interleaved), as in the reference, so that its
  /// weights mean the same here.
  torch::Tensor attend(const torch::Tensor& x) {
    const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const auto qkv_values = qkv->forward(group_norm(norm2, x)).reshape({n, c, 3, h * w});
    const auto parts = qkv_values.unbind(2);  // q, k, v [N, C, HW]; one gradient node for the three
    const auto &q = parts[0], &k = parts[1], &v = parts[2];
    const auto weights = torch::softmax(gpm::bmm(q.transpose(1, 2), k / std::sqrt(static_cast<double>(c))), 2);
    const auto attended = gpm::bmm(v, weights.transpose(1, 2));  // [N, C, HW]: Σ_k w[q, k] v[:, k]
    return (proj->forward(attended.reshape({n, c, h, w})) + x) * unet_skip_scale;
  }

  int64_t in_;
  Resample resample_;
  double dropout_;
};
TORCH_MODULE(UNetBlock);

}  // namespace detail

/// F(x, s): EDM's DDPM++ U-Net on flat images (Karras et al. 2022, arXiv:2206.00364, Appendix F.2;
/// the GPM reference's `SongUNet` with the 'standard' encoder and decoder, Franceschi et al. 2023,
/// arXiv:2305.16150). The noise label s is embedded (positional or Fourier, size E), then mapped by
/// Linear–SiLU–Linear–SiLU to 4·model_channels features that every residual block adds after its
/// first convolution. The encoder is a 3×3 conv, then per level (a downsampling block first, from
/// the second level on) num_blocks residual blocks; the decoder mirrors it with num_blocks + 1
/// blocks per level, each fed the matching encoder output concatenated, after two blocks at the
/// lowest level (the first with self-attention) or an upsampling block; GroupNorm, SiLU and a 3×3
/// conv give the output. Blocks at the sides in attention_resolutions end in self-attention.
/// Parameter names follow the reference (`enc.32x32_block0.conv0.weight`, `map_layer0.bias`, ...).
/// x [N, C·H·W] (or [N, C, H, W]), s [N] -> [N, C·H·W].
/// Example: `UNet net(UNetOptions(ImageShape{1, 32, 32}));  auto f = net(x, c_noise);`
class UNetImpl : public torch::nn::Module {
 public:
  explicit UNetImpl(UNetOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    const ImageShape image = o.image();
    check_architecture();
    const int64_t emb_channels = o.model_channels() * o.channel_mult_emb();
    if (o.embedding() == Embedding::fourier)
      fourier = register_module("embed", FourierEmbedding(FourierEmbeddingOptions(o.embedding_size())
                                                              .scale(o.fourier_scale())
                                                              .seed(o.seed())));
    else
      positional = register_module("embed", PositionalEmbedding(PositionalEmbeddingOptions(o.embedding_size())));
    map_layer0 = register_module("map_layer0", torch::nn::Linear(o.embedding_size(), emb_channels));
    map_layer1 = register_module("map_layer1", torch::nn::Linear(emb_channels, emb_channels));

    const auto levels = static_cast<int64_t>(o.channel_mult().size());
    const auto attends = [&](int64_t side) {
      return std::find(o.attention_resolutions().begin(), o.attention_resolutions().end(), side) !=
             o.attention_resolutions().end();
    };
    const auto block = [&](int64_t in, int64_t out, detail::Resample resample, bool attention) {
      return detail::UNetBlock(in, out, emb_channels, resample, attention, o.dropout());
    };
    const auto name = [](int64_t side, const std::string& what) { return fmt::format("{}x{}_{}", side, side, what); };
    const auto add = [](torch::nn::ModuleDict& dict, std::string key, std::shared_ptr<torch::nn::Module> module) {
      dict->update(std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>{{std::move(key), std::move(module)}});
    };

    // Encoder; `skips` lists the channels of every output the decoder will concatenate.
    std::vector<int64_t> skips;
    int64_t channels = o.model_channels();
    input_conv = detail::unet_conv(image.channels, channels, 3);
    add(enc, name(image.height, "conv"), input_conv.ptr());
    skips.push_back(channels);
    for (int64_t level = 0; level < levels; ++level) {
      const int64_t side = image.height >> level;
      if (level > 0) {
        encoder_.push_back(block(channels, channels, detail::Resample::down, false));
        add(enc, name(side, "down"), encoder_.back().ptr());
        skips.push_back(channels);
      }
      for (int64_t i = 0; i < o.num_blocks(); ++i) {
        const int64_t out = o.model_channels() * o.channel_mult()[static_cast<size_t>(level)];
        encoder_.push_back(block(channels, out, detail::Resample::none, attends(side)));
        add(enc, name(side, fmt::format("block{}", i)), encoder_.back().ptr());
        channels = out;
        skips.push_back(channels);
      }
    }
    register_module("enc", enc);

    // Decoder.
    for (int64_t level = levels - 1; level >= 0; --level) {
      const int64_t side = image.height >> level;
      if (level == levels - 1) {
        decoder_.push_back({block(channels, channels, detail::Resample::none, true), false});
        add(dec, name(side, "in0"), decoder_.back().block.ptr());
        decoder_.push_back({block(channels, channels, detail::Resample::none, false), false});
        add(dec, name(side, "in1"), decoder_.back().block.ptr());
      } else {
        decoder_.push_back({block(channels, channels, detail::Resample::up, false), false});
        add(dec, name(side, "up"), decoder_.back().block.ptr());
      }
      for (int64_t i = 0; i <= o.num_blocks(); ++i) {
        const int64_t in = channels + skips.back();
        skips.pop_back();
        channels = o.model_channels() * o.channel_mult()[static_cast<size_t>(level)];
        decoder_.push_back({block(in, channels, detail::Resample::none, i == o.num_blocks() && attends(side)), true});
        add(dec, name(side, fmt::format("block{}", i)), decoder_.back().block.ptr());
      }
    }
    output_norm = detail::unet_group_norm(channels);
    add(dec, name(image.height, "aux_norm"), output_norm.ptr());
    output_conv = detail::unet_conv(channels, image.channels, 3);
    add(dec, name(image.height, "aux_conv"), output_conv.ptr());
    register_module("dec", dec);
    dropout_passes_ = register_buffer("dropout_passes", torch::zeros({}, torch::kLong));
  }
  explicit UNetImpl(ImageShape image) : UNetImpl(UNetOptions(image)) {}

  /// The embedding emb(s) [N, E]: [cos, sin] of s's frequencies.
  torch::Tensor embed(const torch::Tensor& s) { return fourier ? fourier->forward(s) : positional->forward(s); }

  /// x [N, C·H·W] (or [N, C, H, W]), s [N] -> [N, C·H·W]. x and s must have the module's dtype and
  /// device (convert the module with ->to()).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& s) {
    namespace F = torch::nn::functional;
    check_particles(x, "UNet::forward");
    GPM_CHECK(s.dim() == 1 && s.size(0) == x.size(0), "UNet::forward: s has shape {}, expected one noise label "
              "per particle, shape [{}]", shape_string(s), x.size(0));
    check_compatible(x, "x", s, "s", "UNet::forward");
    check_compatible(x, "x", map_layer0->weight, "the UNet's weights", "UNet::forward");
    auto h = options_.image().unflatten(x, "UNet::forward");

    // The reference's mapping takes [sin, cos]: its weights load unchanged with the halves swapped.
    const auto e = embed(s);
    const int64_t half = e.size(1) / 2;
    auto emb = torch::cat({e.narrow(1, half, half), e.narrow(1, 0, half)}, 1);
    emb = F::silu(map_layer1->forward(F::silu(map_layer0->forward(emb))));

    // Dropout masks come from a stream seeded by the seed and the number of training passes so far (a
    // buffer, so checkpoints keep it): a resumed run draws the masks an uninterrupted one would.
    std::optional<at::Generator> dropout;
    if (is_training() && options_.dropout() > 0) {
      const auto pass = static_cast<uint64_t>(dropout_passes_.item<int64_t>());
      dropout = make_generator(options_.seed() * 0x9E3779B97F4A7C15ull + pass + 1, x.device());
      dropout_passes_ += 1;
    }
    at::Generator* masks = dropout ? &*dropout : nullptr;
    std::vector<torch::Tensor> skips;
    h = input_conv->forward(h);
    skips.push_back(h);
    for (auto& block : encoder_) {
      h = block->forward(h, emb, masks);
      skips.push_back(h);
    }
    for (auto& [block, takes_skip] : decoder_) {
      if (takes_skip) {
        h = torch::cat({h, skips.back()}, 1);
        skips.pop_back();
      }
      h = block->forward(h, emb, masks);
    }
    h = output_conv->forward(F::silu(detail::group_norm(output_norm, h)));
    return h.reshape({x.size(0), options_.image().numel()});
  }

  const UNetOptions& options() const { return options_; }

  /// Exactly one of the two is non-null, following options().embedding().
  FourierEmbedding fourier{nullptr};
  PositionalEmbedding positional{nullptr};
  torch::nn::Linear map_layer0{nullptr}, map_layer1{nullptr};
  /// Every encoder and decoder layer by the reference's name ("32x32_conv", "16x16_down",
  /// "8x8_in0", "32x32_aux_conv", ...), in the order the forward pass runs them.
  torch::nn::ModuleDict enc, dec;

 private:
  void check_architecture() const {
    const auto& o = options_;
    const ImageShape image = o.image();
    GPM_CHECK(image.channels >= 1 && image.height >= 1 && image.width >= 1, "UNet: the image shape {} must have "
              "positive sizes", image.describe());
    GPM_CHECK(image.height == image.width, "UNet: the image {} is not square; the U-Net needs H = W", image.describe());
    GPM_CHECK(o.model_channels() >= 4, "UNet: model_channels must be >= 4 (GroupNorm's groups of 4 channels), got {}",
              o.model_channels());
    GPM_CHECK(!o.channel_mult().empty(), "UNet: channel_mult is empty; give one multiplier per level, e.g. [1, 2, 2]");
    for (const auto m : o.channel_mult())
      GPM_CHECK(m >= 1, "UNet: channel_mult must hold multipliers >= 1, got [{}]", fmt::join(o.channel_mult(), ", "));
    GPM_CHECK(o.channel_mult_emb() >= 1, "UNet: channel_mult_emb must be >= 1, got {}", o.channel_mult_emb());
    GPM_CHECK(o.num_blocks() >= 1, "UNet: num_blocks must be >= 1, got {}", o.num_blocks());
    GPM_CHECK(o.dropout() >= 0 && o.dropout() < 1, "UNet: dropout must be in [0, 1), got {}", o.dropout());
    detail::check_embedding_size(o.embedding_size(), "UNet (embedding_size)");
    const auto levels = static_cast<int64_t>(o.channel_mult().size());
    GPM_CHECK(levels <= 30 && image.height % (int64_t{1} << (levels - 1)) == 0, "UNet: the image {} has side {}, "
              "which {} levels (channel_mult [{}]) halve {} times: the side must be divisible by 2^{}; use fewer "
              "levels or pad the images", image.describe(), image.height, levels, fmt::join(o.channel_mult(), ", "),
              levels - 1, levels - 1);
    std::vector<int64_t> sides;
    for (int64_t level = 0; level < levels; ++level) sides.push_back(image.height >> level);
    for (const auto side : o.attention_resolutions())
      GPM_CHECK(std::find(sides.begin(), sides.end(), side) != sides.end(), "UNet: attention_resolutions holds {}, "
                "which is not the side of any level of the {} image (sides {}); give sides among those, or []",
                side, image.describe(), fmt::join(sides, ", "));
  }

  struct DecoderStep {
    detail::UNetBlock block;
    bool takes_skip;  // concatenates the matching encoder output first
  };

  UNetOptions options_;
  torch::nn::Conv2d input_conv{nullptr}, output_conv{nullptr};
  torch::nn::GroupNorm output_norm{nullptr};
  std::vector<detail::UNetBlock> encoder_;
  std::vector<DecoderStep> decoder_;
  torch::Tensor dropout_passes_;
};
TORCH_MODULE(UNet);

static_assert(ConditionedNetwork<UNet>);

/// An EDM denoiser on a U-Net: the image denoiser of the GPM reference (positional embedding 256).
using EdmUNetDenoiser = EdmPreconditioned<UNet>;

}  // namespace gpm::nn
