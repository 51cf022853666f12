// Time conditioning of an image discriminator for Discriminator Flows: f(x, t) is the network on x
// with every block modulated (FiLM) by an MLP of t's embedding, as the reference conditions its
// convolutional critics.
#pragma once

#include <concepts>
#include <cstdint>
#include <utility>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/embeddings.hpp"

namespace gpm::nn {

/// An image network (module holder) that can be built conditioned and then takes the condition:
/// its options place it with image(), out(), condition_size(), seed(); `net->conditioned(x, c)`.
template <class N>
concept ConditionableImageNetwork = requires(N& net, const torch::Tensor& x, const torch::Tensor& c,
                                             typename N::ContainedType::Options options) {
  { net->conditioned(x, c) } -> std::same_as<torch::Tensor>;
  options.image(ImageShape{}).out(int64_t{1}).condition_size(int64_t{1}).seed(uint64_t{0});
};

/// A TimeConditioned network's architecture: the image network's own options and the time's
/// embedding (the fields of TimeMlpOptions, with the reference's defaults).
template <class NetworkOptions>
struct TimeConditionedOptions {
  /// Options of a network whose sizes a model fills in (image, out: placement).
  TimeConditionedOptions() = default;
  /// `image`: the input images' shape; `out`: outputs per image (1: a logit).
  TimeConditionedOptions(ImageShape image, int64_t out) : image_(image), out_(out) {}

  GPM_OPTIONS_BEGIN
  GPM_OPTION(NetworkOptions, network, Range::any(), "the image network (its image, out and condition are set here)") = {};
  GPM_OPTION(Embedding, embedding, Range::any(), "how the time t is embedded") = Embedding::fourier;
  GPM_OPTION(int64_t, embedding_size, Range::at_least(2), "E, the embedding's size (even); FiLM sees 2E features") = 128;
  GPM_OPTION(double, fourier_scale, Range::above(0), "fourier: std of the embedding's frequencies") = 16.0;
  GPM_OPTION(double, max_positions, Range::above(0), "positional: the longest period's scale") = 10000.0;
  GPM_OPTIONS_END

  TORCH_ARG(ImageShape, image) = {};
  TORCH_ARG(int64_t, out) = 1;
  /// Seed of the embedding's frequencies; the network's spectral norms draw from seed + 1 (placement).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// f(x, t) = network.conditioned(x, c(t)) with c(t) = SiLU(Linear(SiLU(Linear(emb(t))))), E -> 2E
/// -> 2E, and emb a FourierEmbedding or PositionalEmbedding of size E: the network's blocks are
/// modulated by FiLM(c(t)) (Franceschi et al. 2023, arXiv:2305.16150, code `c_mlp` and
/// `Adaptive2DLayer`). x [N, C·H·W], t [N] -> [N, out]: the interface of a time-dependent critic
/// (gpm::TimeDependentCritic), like TimeMlp's. Submodules `embed`, `mlp`, `network`.
/// Example: `TimeConditioned<DcganDiscriminator> f(TimeConditionedOptions<DcganDiscriminatorOptions>(image, 1));`
template <ConditionableImageNetwork Network>
class TimeConditionedImpl : public torch::nn::Module {
 public:
  using NetworkOptions = typename Network::ContainedType::Options;
  using Options = TimeConditionedOptions<NetworkOptions>;

  explicit TimeConditionedImpl(Options options) : options_(std::move(options)) {
    const auto& o = options_;
    detail::check_embedding_size(o.embedding_size(), "TimeConditioned (embedding_size)");
    const int64_t e = o.embedding_size();
    embed = make_embedding(o.embedding(), e, o.fourier_scale(), o.max_positions(), o.seed());
    register_module("embed", embed.ptr());
    mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(e, 2 * e), torch::nn::SiLU(),
                                                       torch::nn::Linear(2 * e, 2 * e), torch::nn::SiLU()));
    network = register_module("network", Network(NetworkOptions(o.network())
                                                      .image(o.image())
                                                      .out(o.out())
                                                      .condition_size(2 * e)
                                                      .seed(o.seed() + 1)));
  }

  /// The condition c(t) [N, 2E] the network's FiLM layers see.
  torch::Tensor condition(const torch::Tensor& t) { return mlp->forward(embed.forward(t)); }

  /// x [N, C·H·W], t [N] -> [N, out].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "TimeConditioned::forward");
    check_times(t, x, "TimeConditioned::forward");
    check_compatible(x, "x", t, "t", "TimeConditioned::forward");
    return network->conditioned(x, condition(t));
  }

  const Options& options() const { return options_; }

  /// FourierEmbedding or PositionalEmbedding, per options().embedding().
  torch::nn::AnyModule embed;
  torch::nn::Sequential mlp{nullptr};
  Network network{nullptr};

 private:
  Options options_;
};

/// The module holder of TimeConditionedImpl<Network> (TORCH_MODULE for a template).
template <ConditionableImageNetwork Network>
class TimeConditioned : public torch::nn::ModuleHolder<TimeConditionedImpl<Network>> {
 public:
  using torch::nn::ModuleHolder<TimeConditionedImpl<Network>>::ModuleHolder;
};

}  // namespace gpm::nn
