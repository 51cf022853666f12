// Nearest-neighbour doubling of images and its adjoint, the sum over 2×2 blocks, each in one pass
// over contiguous float tensors on the CPU: the U-Net's upsampling, whose LibTorch forms (an
// expanded view copied, or upsample_nearest2d) are several times slower there.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"

namespace gpm {

namespace detail {

inline bool plain_float_images(const torch::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.layout() == torch::kStrided;
}

// y [P, 2H, 2W] with y[p, 2i + a, 2j + b] = x[p, i, j], over P planes of x [P, H, W].
inline torch::Tensor double_planes(const torch::Tensor& input) {
  const torch::Tensor x = input.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  torch::Tensor y = torch::empty({n, c, 2 * h, 2 * w}, x.options());
  const float* const in = x.data_ptr<float>();
  float* const out = y.data_ptr<float>();
  at::parallel_for(0, n * c * h, std::max<int64_t>(1, 4096 / std::max<int64_t>(w, 1)), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {  // input row r: output rows 2r and 2r + 1
      const float* const src = in + r * w;
      float* const top = out + 2 * r * 2 * w;
      float* const bottom = top + 2 * w;
      int64_t j = 0;
#if defined(__SSE2__)
      for (; j + 4 <= w; j += 4) {
        const __m128 v = _mm_loadu_ps(src + j);
        const __m128 low = _mm_unpacklo_ps(v, v), high = _mm_unpackhi_ps(v, v);
        _mm_storeu_ps(top + 2 * j, low);
        _mm_storeu_ps(top + 2 * j + 4, high);
        _mm_storeu_ps(bottom + 2 * j, low);
        _mm_storeu_ps(bottom + 2 * j + 4, high);
      }
#endif
      for (; j < w; ++j) top[2 * j] = top[2 * j + 1] = bottom[2 * j] = bottom[2 * j + 1] = src[j];
    }
  });
  return y;
}

// y [N, C, H/2, W/2] with y[., i, j] the sum of g[., 2i..2i+1, 2j..2j+1] (H, W even).
inline torch::Tensor sum_blocks(const torch::Tensor& input) {
  const torch::Tensor g = input.contiguous();
  const int64_t n = g.size(0), c = g.size(1), h = g.size(2) / 2, w = g.size(3) / 2;
  torch::Tensor y = torch::empty({n, c, h, w}, g.options());
  const float* const in = g.data_ptr<float>();
  float* const out = y.data_ptr<float>();
  at::parallel_for(0, n * c * h, std::max<int64_t>(1, 4096 / std::max<int64_t>(w, 1)), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {  // output row r: input rows 2r and 2r + 1
      const float* const top = in + 2 * r * 2 * w;
      const float* const bottom = top + 2 * w;
      float* const dst = out + r * w;
      int64_t j = 0;
#if defined(__SSE2__)
      for (; j + 4 <= w; j += 4) {
        const __m128 t0 = _mm_loadu_ps(top + 2 * j), t1 = _mm_loadu_ps(top + 2 * j + 4);
        const __m128 b0 = _mm_loadu_ps(bottom + 2 * j), b1 = _mm_loadu_ps(bottom + 2 * j + 4);
        const __m128 left = _mm_add_ps(_mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)),
                                       _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)));
        const __m128 right = _mm_add_ps(_mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)),
                                        _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)));
        _mm_storeu_ps(dst + j, _mm_add_ps(left, right));
      }
#endif
      for (; j < w; ++j) dst[j] = (top[2 * j] + bottom[2 * j]) + (top[2 * j + 1] + bottom[2 * j + 1]);
    }
  });
  return y;
}

struct SumBlocks;

// Doubling, whose backward is the block sum (and the block sum's the doubling: any order).
struct DoublePlanes : torch::autograd::Function<DoublePlanes> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& x) { return double_planes(x); }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*, torch::autograd::variable_list grads);
};

struct SumBlocks : torch::autograd::Function<SumBlocks> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& g) { return sum_blocks(g); }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*, torch::autograd::variable_list grads) {
    return {DoublePlanes::apply(grads[0])};
  }
};

inline torch::autograd::variable_list DoublePlanes::backward(torch::autograd::AutogradContext*,
                                                             torch::autograd::variable_list grads) {
  return {SumBlocks::apply(grads[0])};
}

}  // namespace detail

/// x [N, C, H, W] -> [N, C, 2H, 2W], each pixel repeated over a 2×2 block (nearest-neighbour
/// upsampling by 2), differentiable to any order; in one pass each way for float tensors on the
/// CPU, LibTorch's upsample_nearest2d elsewhere.
/// Example: `auto up = gpm::upsample_nearest2x(h);`
inline torch::Tensor upsample_nearest2x(const torch::Tensor& x) {
  GPM_CHECK(x.dim() == 4, "gpm::upsample_nearest2x: x must be images [N, C, H, W], got {} dimensions", x.dim());
  if (!detail::plain_float_images(x)) return at::upsample_nearest2d(x, {2 * x.size(2), 2 * x.size(3)});
  return detail::DoublePlanes::apply(x);
}

}  // namespace gpm
