// Embeddings of a per-particle scalar (time t, or EDM's noise level c_noise) into a vector, to be
// concatenated to a network's input (Karras et al. 2022; Song et al. 2021).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>
#include <utility>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm::nn {

namespace detail {
inline void check_embedding_size(int64_t size, const char* where) {
  GPM_CHECK(size >= 2 && size % 2 == 0, "{}: size must be even and >= 2 (half cosines, half sines), got {}",
            where, size);
}
/// Fixed random frequencies ~ N(0, scale²) of the given shape: drawn in float64 from `seed` (a CPU
/// generator independent of the global one), stored in float32.
inline torch::Tensor random_frequencies(at::IntArrayRef shape, double scale, uint64_t seed, const char* where) {
  GPM_CHECK(scale > 0 && std::isfinite(scale), "{}: scale must be finite and > 0, got {}", where, scale);
  auto gen = make_generator(seed);
  return (torch::randn(shape, gen, torch::TensorOptions().dtype(torch::kFloat64)) * scale).to(torch::kFloat32);
}
inline void check_scalars(const torch::Tensor& s, const char* where) {
  GPM_CHECK(s.defined() && s.dim() == 1, "{}: s must have shape [N] (one scalar per particle), got {}", where,
            s.defined() ? shape_string(s) : std::string("an undefined tensor"));
  GPM_CHECK(s.is_floating_point(), "{}: s has dtype {}, expected a floating-point dtype", where,
            std::string(c10::toString(s.scalar_type())));
}
}  // namespace detail

/// The kind of scalar embedding used by TimeMlp: config names "fourier" and "positional".
enum class Embedding { fourier, positional };

/// Every embedding kind with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<Embedding, std::string_view>, 2> option_names(Embedding) {
  return {{{Embedding::fourier, "fourier"}, {Embedding::positional, "positional"}}};
}

struct FourierEmbeddingOptions {
  /// E: the embedding size (even, >= 2).
  explicit FourierEmbeddingOptions(int64_t size) : size_(size) {}
  TORCH_ARG(int64_t, size);
  /// Standard deviation of the random frequencies.
  TORCH_ARG(double, scale) = 16.0;
  /// Seed of the frequency draw (a CPU generator independent of the global one).
  TORCH_ARG(uint64_t, seed) = 0;
};

/// Random Fourier features: fixed frequencies f_k ~ N(0, scale²), k = 1..E/2, drawn once from
/// `seed`; emb(s) = [cos(2π s f), sin(2π s f)] (Tancik et al. 2020; Karras et al. 2022,
/// arXiv:2206.00364, NCSN++ variant). The frequencies are a buffer `freqs`, not a parameter:
/// they are saved and moved with the module but never trained. s [N] -> [N, E].
/// Example: `FourierEmbedding embed(FourierEmbeddingOptions(128).seed(3));`
class FourierEmbeddingImpl : public torch::nn::Module {
 public:
  explicit FourierEmbeddingImpl(FourierEmbeddingOptions options) : options_(options) {
    detail::check_embedding_size(options_.size(), "FourierEmbedding");
    freqs = register_buffer("freqs", detail::random_frequencies({options_.size() / 2}, options_.scale(), options_.seed(),
                                                                "FourierEmbedding"));
  }
  explicit FourierEmbeddingImpl(int64_t size) : FourierEmbeddingImpl(FourierEmbeddingOptions(size)) {}

  /// s [N] -> [N, E]; s must match the module's dtype and device (convert the module with ->to()).
  torch::Tensor forward(const torch::Tensor& s) {
    detail::check_scalars(s, "FourierEmbedding::forward");
    check_compatible(s, "s", freqs, "the frequencies", "FourierEmbedding::forward");
    const auto phase = s.unsqueeze(1) * (2.0 * std::numbers::pi) * freqs.unsqueeze(0);
    return torch::cat({phase.cos(), phase.sin()}, 1);
  }

  const FourierEmbeddingOptions& options() const { return options_; }

  /// f [E/2].
  torch::Tensor freqs;

 private:
  FourierEmbeddingOptions options_;
};
TORCH_MODULE(FourierEmbedding);

struct PositionalEmbeddingOptions {
  /// E: the embedding size (even, >= 2).
  explicit PositionalEmbeddingOptions(int64_t size) : size_(size) {}
  TORCH_ARG(int64_t, size);
  TORCH_ARG(double, max_positions) = 10000.0;
};

/// Transformer sinusoidal embedding with endpoint = true: f_k = (1/max_positions)^{k/(E/2 − 1)},
/// k = 0..E/2 − 1 (so f_0 = 1 and f_{E/2−1} = 1/max_positions; f = [1] when E = 2);
/// emb(s) = [cos(s f), sin(s f)] (Vaswani et al. 2017; Karras et al. 2022, arXiv:2206.00364, DDPM++
/// variant). The frequencies are recomputed in the dtype of s: the module has no state. s [N] -> [N, E].
/// Example: `PositionalEmbedding embed(PositionalEmbeddingOptions(128));`
class PositionalEmbeddingImpl : public torch::nn::Module {
 public:
  explicit PositionalEmbeddingImpl(PositionalEmbeddingOptions options) : options_(options) {
    detail::check_embedding_size(options_.size(), "PositionalEmbedding");
    GPM_CHECK(options_.max_positions() > 0 && std::isfinite(options_.max_positions()), "PositionalEmbedding: "
              "max_positions must be finite and > 0, got {}", options_.max_positions());
  }
  explicit PositionalEmbeddingImpl(int64_t size) : PositionalEmbeddingImpl(PositionalEmbeddingOptions(size)) {}

  /// The frequencies f [E/2] in `options`' dtype and device.
  torch::Tensor frequencies(const torch::TensorOptions& options) const {
    const int64_t half = options_.size() / 2;
    if (half == 1) return torch::ones({1}, options);
    const auto exponents = torch::arange(half, options) / static_cast<double>(half - 1);
    return torch::pow(1.0 / options_.max_positions(), exponents);
  }

  /// s [N] -> [N, E].
  torch::Tensor forward(const torch::Tensor& s) {
    detail::check_scalars(s, "PositionalEmbedding::forward");
    const auto phase = s.unsqueeze(1) * frequencies(s.options()).unsqueeze(0);
    return torch::cat({phase.cos(), phase.sin()}, 1);
  }

  const PositionalEmbeddingOptions& options() const { return options_; }

 private:
  PositionalEmbeddingOptions options_;
};
TORCH_MODULE(PositionalEmbedding);

/// The embedding of the given kind as a module s [N] -> [N, size]: a FourierEmbedding (frequencies
/// of std `fourier_scale` drawn from `seed`) or a PositionalEmbedding (`max_positions`).
/// Example: `auto embed = make_embedding(Embedding::fourier, 128, 16.0, 10000.0, seed);  embed.forward(t);`
inline torch::nn::AnyModule make_embedding(Embedding kind, int64_t size, double fourier_scale, double max_positions,
                                           uint64_t seed) {
  if (kind == Embedding::fourier)
    return torch::nn::AnyModule(FourierEmbedding(FourierEmbeddingOptions(size).scale(fourier_scale).seed(seed)));
  return torch::nn::AnyModule(PositionalEmbedding(PositionalEmbeddingOptions(size).max_positions(max_positions)));
}

}  // namespace gpm::nn
