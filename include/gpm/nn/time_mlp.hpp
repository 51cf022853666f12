// An MLP conditioned on one scalar per particle (time t for Discriminator Flows, c_noise for EDM
// denoisers): the scalar's embedding is concatenated to the flattened input.
#pragma once

#include <cstdint>

#include <ATen/Dispatch.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/embeddings.hpp"
#include "gpm/nn/fourier_features.hpp"
#include "gpm/nn/mlp.hpp"

namespace gpm::nn {

namespace detail {
/// Whether the scalars s [N] are one value for N ≥ 2 particles, read where that costs nothing: on
/// the CPU (elsewhere reading them would wait for the device), and not when s needs its own
/// gradient (each particle's would go to the first).
inline bool same_for_every_particle(const torch::Tensor& s) {
  if (s.size(0) < 2 || !s.device().is_cpu() || s.requires_grad()) return false;
  if (s.stride(0) == 0) return true;
  return AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.scalar_type(), "same_for_every_particle", [&] {
    const auto values = s.accessor<scalar_t, 1>();
    for (int64_t i = 1; i < values.size(0); ++i)
      if (values[i] != values[0]) return false;
    return true;
  });
}
}  // namespace detail

/// A TimeMlp's architecture: the MLP's own options, and the scalar's embedding.
struct TimeMlpOptions {
  /// Options of a TimeMlp whose sizes a model fills in (in, out: placement, not configuration).
  TimeMlpOptions() = default;
  /// `in`: flattened size of one particle; `out`: output features (1 for a discriminator, `in` for
  /// a denoiser).
  TimeMlpOptions(int64_t in, int64_t out) : in_(in), out_(out) {}

  GPM_OPTIONS_BEGIN
  /// input_features are features of x alone, never of the embedding.
  GPM_OPTION(MlpOptions, mlp, Range::any(), "the MLP on [x, φ(x), emb(s)] (its in and out are set by the TimeMlp)") = {};
  GPM_OPTION(Embedding, embedding, Range::any(), "how the scalar s is embedded") = Embedding::fourier;
  GPM_OPTION(int64_t, embedding_size, Range::at_least(2), "E, the embedding's size (even)") = 128;
  GPM_OPTION(double, fourier_scale, Range::above(0), "fourier: std of the embedding's frequencies") = 16.0;
  GPM_OPTION(double, max_positions, Range::above(0), "positional: the longest period's scale") = 10000.0;
  GPM_OPTIONS_END

  TORCH_ARG(int64_t, in) = 0;
  TORCH_ARG(int64_t, out) = 0;
  /// The seed of the embedding's frequencies; the input features draw from seed + 1 (placement).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// F(x, s) = Mlp([flatten(x), emb(s)]): an Mlp (in + E -> out, see MlpImpl) on the flattened
/// particle concatenated with an embedding of its scalar s (FourierEmbedding or
/// PositionalEmbedding). x [N, ...], s [N] -> [N, out]. Submodules `model` (the Mlp) and `embed`
/// follow the reference's names (Franceschi et al. 2023, arXiv:2305.16150). With mlp.input_features
/// F > 0, Fourier features φ(x) join the input: Mlp([flatten(x), φ(flatten(x)), emb(s)]), in + F + E
/// -> out, submodule `input_features`.
/// Example: `TimeMlp disc(TimeMlpOptions(2, 1));  auto logits = disc(x, t);`
class TimeMlpImpl : public torch::nn::Module {
 public:
  explicit TimeMlpImpl(TimeMlpOptions options) : options_(std::move(options)) {
    const auto& o = options_;
    detail::check_embedding_size(o.embedding_size(), "TimeMlp (embedding_size)");
    const auto features = o.mlp().input_features();
    GPM_CHECK(features >= 0, "TimeMlp: mlp.input_features must be >= 0, got {}", features);
    model = register_module("model", Mlp(MlpOptions(o.mlp()).in(o.in() + features + o.embedding_size()).out(o.out())
                                             .input_features(0)));
    if (o.embedding() == Embedding::fourier)
      fourier = register_module("embed", FourierEmbedding(FourierEmbeddingOptions(o.embedding_size())
                                                              .scale(o.fourier_scale())
                                                              .seed(o.seed())));
    else
      positional = register_module("embed", PositionalEmbedding(PositionalEmbeddingOptions(o.embedding_size())
                                                                    .max_positions(o.max_positions())));
    if (features > 0)
      input_features = register_module("input_features", FourierFeatures(FourierFeaturesOptions(o.in(), features)
                                                                             .scale(o.mlp().input_feature_scale())
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
    const torch::Tensor features = input_features ? torch::cat({flat, input_features->forward(flat)}, 1) : flat;
    // A sampler's step gives every particle the same s: its embedding's share of the input layer
    // is then one row's product.
    if (detail::same_for_every_particle(s)) return model->forward_with_shared_row(features, embed(s.narrow(0, 0, 1)));
    return model->forward(torch::cat({features, embed(s)}, 1));
  }

  /// Whether each row's output depends on that row alone (gpm::ReportsRowIndependence).
  bool rows_independent() const { return model->rows_independent(); }

  const TimeMlpOptions& options() const { return options_; }

  Mlp model{nullptr};
  /// Exactly one of the two is non-null, following options().embedding().
  FourierEmbedding fourier{nullptr};
  PositionalEmbedding positional{nullptr};
  /// Non-null when options().mlp().input_features() > 0.
  FourierFeatures input_features{nullptr};

 private:
  TimeMlpOptions options_;
};
TORCH_MODULE(TimeMlp);

}  // namespace gpm::nn
