// A fully connected layer and the leaky ReLU after it as one operation: the bias and the
// activation in one pass over the product's output, and, backward, the activation's derivative in
// one pass over the output gradient, without LibTorch's separate node. The hidden layers of gpm's MLPs.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/types.h>

#include "gpm/core/onednn_matmul.hpp"

namespace gpm {

namespace detail {

// Rows per task of the passes below: about 16,384 values.
inline int64_t rows_per_task(int64_t cols) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)); }

// One row of the passes below, four floats at a time where SSE2 is there (the compiler does not
// vectorise a select on a comparison that may trap), the rest one by one.
inline void add_bias_leaky_relu_row(float* row, const float* shift, int64_t cols, float slope) {
  int64_t j = 0;
#if defined(__SSE2__)
  const __m128 zero = _mm_setzero_ps(), scale = _mm_set1_ps(slope);
  for (; j + 4 <= cols; j += 4) {
    const __m128 v = _mm_add_ps(_mm_loadu_ps(row + j), _mm_loadu_ps(shift + j));
    const __m128 positive = _mm_cmpgt_ps(v, zero);
    _mm_storeu_ps(row + j, _mm_or_ps(_mm_and_ps(positive, v), _mm_andnot_ps(positive, _mm_mul_ps(v, scale))));
  }
#endif
  for (; j < cols; ++j) {
    const float v = row[j] + shift[j];
    row[j] = v > 0 ? v : v * slope;
  }
}
inline void leaky_relu_gradient_row(const float* grad, const float* out, float* result, int64_t cols, float slope) {
  int64_t j = 0;
#if defined(__SSE2__)
  const __m128 zero = _mm_setzero_ps(), scale = _mm_set1_ps(slope);
  for (; j + 4 <= cols; j += 4) {
    const __m128 g = _mm_loadu_ps(grad + j);
    const __m128 positive = _mm_cmpgt_ps(_mm_loadu_ps(out + j), zero);
    _mm_storeu_ps(result + j, _mm_or_ps(_mm_and_ps(positive, g), _mm_andnot_ps(positive, _mm_mul_ps(g, scale))));
  }
#endif
  for (; j < cols; ++j) result[j] = out[j] > 0 ? grad[j] : grad[j] * slope;
}

// y ← leaky(y + bias) for a contiguous float y [N, n] and bias [n].
inline void add_bias_leaky_relu_(torch::Tensor& y, const torch::Tensor& bias, float slope) {
  const int64_t cols = y.size(1);
  float* const out = y.data_ptr<float>();
  const torch::Tensor b = bias.contiguous();
  const float* const shift = b.data_ptr<float>();
  at::parallel_for(0, y.size(0), rows_per_task(cols), [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) add_bias_leaky_relu_row(out + i * cols, shift, cols, slope);
  });
}

// g ⊙ leaky'(y) for the layer's output y (y > 0 exactly where its input was, for a slope ≥ 0), in
// one pass over contiguous float tensors [N, n].
inline torch::Tensor leaky_relu_input_gradient(const torch::Tensor& g, const torch::Tensor& y, float slope) {
  const torch::Tensor grad = g.contiguous();
  const int64_t cols = y.size(1);
  torch::Tensor input_gradient = torch::empty_like(y, torch::MemoryFormat::Contiguous);
  const float* const in = grad.data_ptr<float>();
  const float* const out = y.data_ptr<float>();
  float* const result = input_gradient.data_ptr<float>();
  at::parallel_for(0, y.size(0), rows_per_task(cols), [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      leaky_relu_gradient_row(in + i * cols, out + i * cols, result + i * cols, cols, slope);
  });
  return input_gradient;
}

// leaky(x Wᵀ + b) with a backward pass made of the same products (double backward included).
struct OnednnLinearLeakyRelu : torch::autograd::Function<OnednnLinearLeakyRelu> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, double slope) {
    torch::Tensor y;
    {
      const torch::NoGradGuard no_grad;
      y = onednn_product(x, weight.t(), torch::Tensor());
      add_bias_leaky_relu_(y, bias, static_cast<float>(slope));
    }
    ctx->save_for_backward({x, weight, y});
    ctx->saved_data["slope"] = slope;
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &y = saved[2];
    const double slope = ctx->saved_data["slope"].toDouble();
    // Where a second derivative will be taken, LibTorch's differentiable operation.
    const torch::Tensor input_gradient =
        torch::GradMode::is_enabled() ? at::leaky_relu_backward(grads[0], y, slope, /*self_is_result=*/false)
                                      : leaky_relu_input_gradient(grads[0], y, static_cast<float>(slope));
    // The bias gradient is LibTorch's sum, in the order LibTorch's linear sums (data-parallel ranks
    // that each sum part of a batch then add up as one process would).
    return {ctx->needs_input_grad(0) ? OnednnProduct::apply(input_gradient, weight) : torch::Tensor(),
            ctx->needs_input_grad(1) ? OnednnProduct::apply(input_gradient.t(), x) : torch::Tensor(),
            ctx->needs_input_grad(2) ? input_gradient.sum(0) : torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace detail

/// leaky_relu(x [N, in] Wᵀ + b, slope) for a weight [out, in], a bias [out] and a slope ≥ 0 (0: a
/// ReLU): gpm::linear and the activation as one operation, differentiable to any order, where
/// gpm::linear runs on oneDNN; elsewhere, and without a bias, the two operations of LibTorch.
/// Example: `auto h = gpm::linear_leaky_relu(x, layer->weight, layer->bias, 0.2);`
inline torch::Tensor linear_leaky_relu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                       double slope) {
  const bool fusable = detail::onednn_applies(x, weight.t()) && bias.defined() && bias.dim() == 1 &&
                       bias.size(0) == weight.size(0) && bias.scalar_type() == torch::kFloat && bias.device().is_cpu() &&
                       slope >= 0;
  if (!fusable) return torch::leaky_relu(linear(x, weight, bias), slope);
  if (detail::records_gradient(x, weight, bias)) return detail::OnednnLinearLeakyRelu::apply(x, weight, bias, slope);
  torch::Tensor y = detail::onednn_product(x, weight.t(), torch::Tensor());
  detail::add_bias_leaky_relu_(y, bias, static_cast<float>(slope));
  return y;
}

}  // namespace gpm
