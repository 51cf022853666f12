// An MLP conditioned on one scalar per particle (time t for Discriminator Flows, c_noise for EDM
// denoisers): the scalar's embedding is concatenated to the flattened input.
#pragma once

#include <cstdint>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/embeddings.hpp"
#include "gpm/nn/fourier_features.hpp"
#include "gpm/nn/mlp.hpp"

namespace gpm::nn {

struct TimeMlpOptions {
  /// `in`: flattened size of one particle; `out`: output features (1 for a discriminator, `in` for
  /// a denoiser).
  TimeMlpOptions(int64_t in, int64_t out) : in_(in), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(int64_t, width) = 512;
  TORCH_ARG(int64_t, depth) = 4;
  TORCH_ARG(Activation, activation) = Activation::leaky_relu;
  TORCH_ARG(double, negative_slope) = 0.2;
  TORCH_ARG(bool, batch_norm) = false;
  TORCH_ARG(Embedding, embedding) = Embedding::fourier;
  /// E: the embedding size (even, >= 2).
  TORCH_ARG(int64_t, embedding_size) = 128;
  /// Fourier only: standard deviation of the frequencies, and the seed of their draw.
  TORCH_ARG(double, fourier_scale) = 16.0;
  TORCH_ARG(uint64_t, seed) = 0;
  /// Positional only.
  TORCH_ARG(double, max_positions) = 10000.0;
  /// F: random Fourier features of the input joined to it (0: none; even otherwise), and the
  /// standard deviation of their angular frequencies, in radians per unit of x (FourierFeatures).
  TORCH_ARG(int64_t, input_features) = 0;
  TORCH_ARG(double, input_feature_scale) = 1.0;
};

/// F(x, s) = Mlp([flatten(x), emb(s)]): an Mlp (in + E -> out, see MlpImpl) on the flattened
/// particle concatenated with an embedding of its scalar s (FourierEmbedding or
/// PositionalEmbedding). x [N, ...], s [N] -> [N, out]. Submodules `model` (the Mlp) and `embed`
/// follow the reference's names (Franceschi et al. 2023, arXiv:2305.16150). With input_features
/// F > 0, Fourier features φ(x) join the input: Mlp([flatten(x), φ(flatten(x)), emb(s)]), in + F + E
/// -> out, submodule `input_features`.
/// Example: `TimeMlp disc(TimeMlpOptions(2, 1));  auto logits = disc(x, t);`
class TimeMlpImpl : public torch::nn::Module {
 public:
  explicit TimeMlpImpl(TimeMlpOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    detail::check_embedding_size(o.embedding_size(), "TimeMlp (embedding_size)");
    GPM_CHECK(o.input_features() >= 0, "TimeMlp: input_features must be >= 0, got {}", o.input_features());
    model = register_module("model", Mlp(MlpOptions(o.in() + o.input_features() + o.embedding_size(), o.out())
                                             .width(o.width())
                                             .depth(o.depth())
                                             .activation(o.activation())
                                             .negative_slope(o.negative_slope())
                                             .batch_norm(o.batch_norm())));
    if (o.embedding() == Embedding::fourier)
      fourier = register_module("embed", FourierEmbedding(FourierEmbeddingOptions(o.embedding_size())
                                                              .scale(o.fourier_scale())
                                                              .seed(o.seed())));
    else
      positional = register_module("embed", PositionalEmbedding(PositionalEmbeddingOptions(o.embedding_size())
                                                                    .max_positions(o.max_positions())));
    if (o.input_features() > 0)
      input_features = register_module("input_features", FourierFeatures(FourierFeaturesOptions(o.in(), o.input_features())
                                                                             .scale(o.input_feature_scale())
                                                                             .seed(o.seed() + 1)));
  }
  TimeMlpImpl(int64_t in, int64_t out) : TimeMlpImpl(TimeMlpOptions(in, out)) {}

  /// The embedding emb(s) [N, E].
  torch::Tensor embed(const torch::Tensor& s) { return fourier ? fourier->forward(s) : positional->forward(s); }

  /// x [N, ...] with `in` features per particle, s [N] -> [N, out].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& s) {
    check_particles(x, "TimeMlp::forward");
    GPM_CHECK(s.dim() == 1 && s.size(0) == x.size(0), "TimeMlp::forward: s has shape {}, expected one scalar "
              "per particle, shape [{}]", shape_string(s), x.size(0));
    check_compatible(x, "x", s, "s", "TimeMlp::forward");
    const auto flat = x.flatten(1);
    GPM_CHECK(flat.size(1) == options_.in(), "TimeMlp::forward: x has shape {} ({} features per particle), but "
              "the TimeMlp was built with in = {}", shape_string(x), flat.size(1), options_.in());
    if (input_features) return model->forward(torch::cat({flat, input_features->forward(flat), embed(s)}, 1));
    return model->forward(torch::cat({flat, embed(s)}, 1));
  }

  const TimeMlpOptions& options() const { return options_; }

  Mlp model{nullptr};
  /// Exactly one of the two is non-null, following options().embedding().
  FourierEmbedding fourier{nullptr};
  PositionalEmbedding positional{nullptr};
  /// Non-null when options().input_features() > 0.
  FourierFeatures input_features{nullptr};

 private:
  TimeMlpOptions options_;
};
TORCH_MODULE(TimeMlp);

}  // namespace gpm::nn
