// Dropout whose masks come from a counter-based generator: every element's draw depends only on a
// key and the element's index, so the masks are made in parallel, in one pass with the product, and
// a batch shard draws only its own rows. LibTorch's CPU bernoulli_ draws one element after another.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <torch/autograd.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/errors.hpp"

namespace gpm {

namespace detail {

// The elements of one generator stream: chunk c of a key's elements is [c·K, (c + 1)·K).
inline constexpr int64_t kDropoutChunk = 4096;

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Four xoshiro128++ generators side by side (Blackman and Vigna), lane l drawing the elements
// c·K + 4i + l of chunk c; their states come from splitmix64 over the key and the chunk, as the
// authors advise for seeding. words[w][l] is word w of lane l's state.
struct DropoutStreams {
  uint32_t words[4][4];

  DropoutStreams(uint64_t key, uint64_t chunk) {
    uint64_t state = key ^ (chunk * 0xD1B54A32D192ED03ull);
    for (int l = 0; l < 4; ++l)
      for (int w = 0; w < 4; w += 2) {
        const uint64_t z = splitmix64(state);
        words[w][l] = static_cast<uint32_t>(z);
        words[w + 1][l] = static_cast<uint32_t>(z >> 32);
      }
  }

  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

  // The next draw of every lane, one lane at a time (the definition the vector code follows).
  void next(uint32_t out[4]) {
    for (int l = 0; l < 4; ++l) {
      uint32_t &s0 = words[0][l], &s1 = words[1][l], &s2 = words[2][l], &s3 = words[3][l];
      out[l] = rotl(s0 + s3, 7) + s0;
      const uint32_t t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
  }
};

// The keep decision of a draw: its top 24 bits under (1 − p)·2²⁴.
inline uint32_t dropout_threshold(double p) {
  return static_cast<uint32_t>(std::llround((1.0 - p) * 16777216.0));
}

// mask[k] (1: kept) for the elements first + k, k < n, of `key`'s stream; with `x` and `y`, also
// y[k] = kept ? x[k]·scale : 0, in the same pass.
inline void dropout_chunk(uint64_t key, int64_t chunk, int64_t first, int64_t n, uint32_t threshold, uint8_t* mask,
                          const float* x, float* y, float scale) {
  DropoutStreams streams(key, static_cast<uint64_t>(chunk));
  const int64_t base = chunk * kDropoutChunk;
  const int64_t begin = std::max(first, base), end = std::min(first + n, base + kDropoutChunk);
  const auto keep_one = [&](int64_t e, uint32_t draw) {
    const bool kept = (draw >> 8) < threshold;
    mask[e - first] = kept;
    if (y != nullptr) y[e - first] = kept ? x[e - first] * scale : 0.0f;
  };
  int64_t group = base;  // the first element of the next four draws (those before `begin` are skipped)
  uint32_t draws[4];
#if defined(__SSE2__)
  __m128i s0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(streams.words[0]));
  __m128i s1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(streams.words[1]));
  __m128i s2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(streams.words[2]));
  __m128i s3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(streams.words[3]));
  const auto rotl = [](__m128i v, int k) { return _mm_or_si128(_mm_slli_epi32(v, k), _mm_srli_epi32(v, 32 - k)); };
  const auto next = [&] {
    const __m128i out = _mm_add_epi32(rotl(_mm_add_epi32(s0, s3), 7), s0);
    const __m128i t = _mm_slli_epi32(s1, 9);
    s2 = _mm_xor_si128(s2, s0);
    s3 = _mm_xor_si128(s3, s1);
    s1 = _mm_xor_si128(s1, s2);
    s0 = _mm_xor_si128(s0, s3);
    s2 = _mm_xor_si128(s2, t);
    s3 = rotl(s3, 11);
    return out;
  };
  const __m128i limit = _mm_set1_epi32(static_cast<int32_t>(threshold));
  const __m128i ones = _mm_set1_epi8(1);
  const __m128 factor = _mm_set1_ps(scale);
  for (; group < end; group += 4) {
    const __m128i draw = next();
    if (group < begin || group + 4 > end) {  // a group cut by the range: lane by lane
      _mm_storeu_si128(reinterpret_cast<__m128i*>(draws), draw);
      for (int l = 0; l < 4; ++l)
        if (group + l >= begin && group + l < end) keep_one(group + l, draws[l]);
      continue;
    }
    const __m128i kept = _mm_cmplt_epi32(_mm_srli_epi32(draw, 8), limit);
    const __m128i bytes = _mm_and_si128(_mm_packs_epi16(_mm_packs_epi32(kept, kept), kept), ones);
    const int32_t four = _mm_cvtsi128_si32(bytes);
    std::memcpy(mask + (group - first), &four, 4);
    if (y != nullptr)
      _mm_storeu_ps(y + (group - first),
                    _mm_and_ps(_mm_castsi128_ps(kept), _mm_mul_ps(_mm_loadu_ps(x + (group - first)), factor)));
  }
#else
  for (; group < end; group += 4) {
    streams.next(draws);
    for (int l = 0; l < 4; ++l)
      if (group + l >= begin && group + l < end) keep_one(group + l, draws[l]);
  }
#endif
}

// The masks (and outputs) of the elements [first, first + n) of `key`'s stream, chunks split across threads.
inline void dropout_pass(uint64_t key, int64_t first, int64_t n, double p, uint8_t* mask, const float* x, float* y) {
  if (n <= 0) return;
  const uint32_t threshold = dropout_threshold(p);
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  const int64_t first_chunk = first / kDropoutChunk, last_chunk = (first + n - 1) / kDropoutChunk;
  at::parallel_for(first_chunk, last_chunk + 1, 4, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) dropout_chunk(key, c, first, n, threshold, mask, x, y, scale);
  });
}

// g ⊙ mask · scale in one pass over contiguous float g and a byte mask.
inline torch::Tensor masked_scale(const torch::Tensor& g, const torch::Tensor& mask, float scale) {
  const torch::Tensor grad = g.contiguous();
  torch::Tensor out = torch::empty_like(grad, torch::MemoryFormat::Contiguous);
  const float* const in = grad.data_ptr<float>();
  const uint8_t* const kept = mask.data_ptr<uint8_t>();
  float* const result = out.data_ptr<float>();
  at::parallel_for(0, grad.numel(), 16384, [=](int64_t begin, int64_t end) {
    int64_t k = begin;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    const __m128 factor = _mm_set1_ps(scale);
    for (; k + 4 <= end; k += 4) {
      int32_t four;
      std::memcpy(&four, kept + k, 4);
      const __m128i bytes = _mm_cvtsi32_si128(four);
      const __m128i lanes = _mm_unpacklo_epi16(_mm_unpacklo_epi8(bytes, zero), zero);
      const __m128 on = _mm_castsi128_ps(_mm_cmpgt_epi32(lanes, zero));
      _mm_storeu_ps(result + k, _mm_and_ps(on, _mm_mul_ps(_mm_loadu_ps(in + k), factor)));
    }
#endif
    for (; k < end; ++k) result[k] = kept[k] ? in[k] * scale : 0.0f;
  });
  return out;
}

// x ⊙ mask · scale for a float x, the mask drawn in the same pass; backward g ⊙ mask · scale.
struct CounterDropout : torch::autograd::Function<CounterDropout> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double p, int64_t key,
                               int64_t first) {
    const torch::Tensor input = x.contiguous();
    torch::Tensor y = torch::empty_like(input, torch::MemoryFormat::Contiguous);
    torch::Tensor mask = torch::empty(input.sizes(), input.options().dtype(torch::kUInt8));
    dropout_pass(static_cast<uint64_t>(key), first, input.numel(), p, mask.data_ptr<uint8_t>(), input.data_ptr<float>(),
                 y.data_ptr<float>());
    ctx->save_for_backward({mask});
    ctx->saved_data["p"] = p;
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::Tensor mask = ctx->get_saved_variables()[0];
    const double p = ctx->saved_data["p"].toDouble();
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    // Where a second derivative will be taken, LibTorch's differentiable operations.
    const torch::Tensor input_gradient = torch::GradMode::is_enabled() ? grads[0] * mask.to(grads[0].scalar_type()) * scale
                                                                       : masked_scale(grads[0], mask, scale);
    return {input_gradient, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// A 64-bit key from a CPU generator, as its other draws take their bits.
inline uint64_t dropout_key(at::Generator& gen) {
  auto* cpu = at::check_generator<at::CPUGeneratorImpl>(gen);
  const std::lock_guard<std::mutex> lock(gen.mutex());
  return cpu->random64();
}

}  // namespace detail

/// The keep mask (bool, shape of x) that gpm::dropout(x, p, gen) applies, drawn from gen's next key;
/// with a batch shard (gpm::ScopedBatchShard), this shard's rows of the mask of count·N rows, as
/// every per-row draw of gpm is (gpm::draw_rows). CPU generators.
inline torch::Tensor dropout_mask(at::IntArrayRef sizes, double p, at::Generator& gen) {
  GPM_CHECK(p >= 0 && p < 1, "gpm::dropout_mask: p must be in [0, 1), got {}", p);
  GPM_CHECK(!sizes.empty(), "gpm::dropout_mask: the mask needs at least one dimension (one row per particle)");
  torch::Tensor mask = torch::empty(sizes, torch::kUInt8);
  const uint64_t key = detail::dropout_key(gen);
  detail::dropout_pass(key, current_batch_shard().index * mask.numel(), mask.numel(), p, mask.data_ptr<uint8_t>(),
                       nullptr, nullptr);
  return mask.to(torch::kBool);
}

/// Dropout in training: each element of x kept with probability 1 − p and scaled by 1/(1 − p), else
/// zero; differentiable to any order. On the CPU the masks come from a counter-based generator keyed by
/// one draw of `gen` (xoshiro128++ streams seeded by splitmix64, made in parallel and in one pass with the
/// product; the same masks on any number of threads, and a batch shard draws only its own rows of the
/// count·N rows, as gpm::draw_rows keeps them). Elsewhere, LibTorch's bernoulli_ through draw_rows.
/// Example: `h = gpm::dropout(h, 0.1, gen);`
inline torch::Tensor dropout(const torch::Tensor& x, double p, at::Generator& gen) {
  GPM_CHECK(p >= 0 && p < 1, "gpm::dropout: p must be in [0, 1), got {}", p);
  GPM_CHECK(x.dim() >= 1, "gpm::dropout: x needs at least one dimension (one row per particle), got a scalar");
  if (p == 0) return x;
  if (!x.device().is_cpu() || !gen.device().is_cpu())
    return x * draw_rows(x.size(0), [&](int64_t rows) {
             auto sizes = x.sizes().vec();
             sizes[0] = rows;
             return torch::empty(sizes, x.options()).bernoulli_(1 - p, gen);
           }) / (1 - p);
  const uint64_t key = detail::dropout_key(gen);
  const int64_t first = current_batch_shard().index * x.numel();
  if (x.scalar_type() == torch::kFloat) return detail::CounterDropout::apply(x, p, static_cast<int64_t>(key), first);
  torch::Tensor mask = torch::empty(x.sizes(), x.options().dtype(torch::kUInt8).requires_grad(false));
  detail::dropout_pass(key, first, x.numel(), p, mask.data_ptr<uint8_t>(), nullptr, nullptr);
  return x * mask.to(x.scalar_type()) * (1.0 / (1.0 - p));
}

}  // namespace gpm
