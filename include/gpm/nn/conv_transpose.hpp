#pragma once

#include <cstdint>
#include <tuple>
#include <vector>

#include <torch/csrc/autograd/custom_function.h>
#include <torch/expanding_array.h>
#include <torch/nn/functional/conv.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/torch_compat.hpp"

namespace gpm::nn {

namespace detail {

/// A transposed convolution is the input gradient of the convolution with the same weight, and its
/// gradients are that convolution's forward (input) and weight gradient. LibTorch 1.x computes
/// transposed convolutions on the CPU by im2col and a matrix product (`slow_conv_transpose2d`), but
/// convolutions and their gradients by oneDNN when it has it, which is much faster at the shapes of
/// a DCGAN generator (docs/performance.md).
struct ConvTransposeByConvolution : torch::autograd::Function<ConvTransposeByConvolution> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               std::vector<int64_t> stride, std::vector<int64_t> padding,
                               std::vector<int64_t> output_padding, std::vector<int64_t> dilation, int64_t groups) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["groups"] = groups;
    std::vector<int64_t> shape{x.size(0), weight.size(1) * groups};
    for (int64_t d = 0; d < 2; ++d)
      shape.push_back((x.size(2 + d) - 1) * stride[d] - 2 * padding[d] + dilation[d] * (weight.size(2 + d) - 1) +
                      output_padding[d] + 1);
    // Only the shape of the convolution's input enters its input gradient.
    const torch::Tensor convolution_input = at::empty(shape, x.options());
    return std::get<0>(at::convolution_backward(x.contiguous(), convolution_input, weight, c10::nullopt, stride,
                                                padding, dilation, /*transposed=*/false, {0, 0}, groups,
                                                {true, false, false}));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1];
    const auto stride = ctx->saved_data["stride"].toIntVector();
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const auto dilation = ctx->saved_data["dilation"].toIntVector();
    const int64_t groups = ctx->saved_data["groups"].toInt();
    const torch::Tensor g = grad[0].contiguous();
    torch::Tensor grad_x, grad_weight;
    if (ctx->needs_input_grad(0)) grad_x = at::conv2d(g, weight, {}, stride, padding, dilation, groups);
    if (ctx->needs_input_grad(1))
      grad_weight = std::get<1>(at::convolution_backward(x.contiguous(), g, weight, c10::nullopt, stride, padding,
                                                         dilation, /*transposed=*/false, {0, 0}, groups,
                                                         {false, true, false}));
    return {grad_x, grad_weight, {}, {}, {}, {}, {}};
  }
};

}  // namespace detail

/// `torch::nn::functional::conv_transpose2d(x, weight, options)` with the same result, computed on
/// the CPU through the convolution's gradients (oneDNN where LibTorch has it; see
/// detail::ConvTransposeByConvolution), elsewhere by LibTorch's own transposed convolution.
inline torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight,
                                      const torch::nn::functional::ConvTranspose2dFuncOptions& options = {}) {
  if (!x.device().is_cpu() || x.dim() != 4) return torch::nn::functional::conv_transpose2d(x, weight, options);
  const auto pair = [](const torch::ExpandingArray<2>& a) { return std::vector<int64_t>(a->begin(), a->end()); };
  torch::Tensor y = detail::ConvTransposeByConvolution::apply(x, weight, pair(options.stride()), pair(options.padding()),
                                                              pair(options.output_padding()), pair(options.dilation()),
                                                              options.groups());
  if (options.bias().defined()) y = y + options.bias().view({1, -1, 1, 1});
  return y;
}

/// The transposed convolution of a layer's options (`layer.options`, zero padding) with `weight` and `bias`.
inline torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                      const torch::nn::detail::ConvNdOptions<2>& o) {
  return gpm::nn::conv_transpose2d(x, weight, torch::nn::functional::ConvTranspose2dFuncOptions()
                                                  .bias(bias)
                                                  .stride(o.stride())
                                                  .padding(compat::get<torch::ExpandingArray<2>>(o.padding()))
                                                  .output_padding(o.output_padding())
                                                  .groups(o.groups())
                                                  .dilation(o.dilation()));
}

/// torch::nn::ConvTranspose2d (same options, parameters and checkpoints) whose forward is
/// gpm::nn::conv_transpose2d. Zero padding only; an explicit `output_size` takes LibTorch's own path.
class ConvTranspose2dImpl : public torch::nn::ConvTranspose2dImpl {
 public:
  using torch::nn::ConvTranspose2dImpl::ConvTranspose2dImpl;

  torch::Tensor forward(const torch::Tensor& x, const c10::optional<at::IntArrayRef>& output_size = c10::nullopt) {
    if (output_size) return torch::nn::ConvTranspose2dImpl::forward(x, output_size);
    GPM_CHECK(compat::holds_alternative<torch::enumtype::kZeros>(options.padding_mode()),
              "gpm::nn::ConvTranspose2d: only zero padding (padding_mode kZeros) is supported");
    return gpm::nn::conv_transpose2d(x, weight, bias, options);
  }
};
TORCH_MODULE(ConvTranspose2d);

}  // namespace gpm::nn
