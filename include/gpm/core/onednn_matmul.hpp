// Matrix products of float tensors on the CPU through oneDNN's sgemm, which LibTorch's CPU build links
// (its convolutions run on oneDNN) but which LibTorch's own matrix products do not use: they call the
// BLAS the system provides. At the shapes of gpm's MLPs oneDNN's kernels are the faster ones
// (docs/performance.md). The products are differentiable to any order: their backward passes are
// products of the same kind.
// Where oneDNN is not in the process, or a tensor is not a float matrix on the CPU, LibTorch computes
// the product itself.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/autograd.h>
#include <torch/nn/functional/linear.h>
#include <torch/types.h>

#include "gpm/core/mixed_precision.hpp"

namespace gpm {
namespace detail {

// dnnl_sgemm: C = alpha · op(A) op(B) + beta · C on row-major matrices, op = 'N' or 'T'; returns 0
// (dnnl_success) when done. Looked up in the process rather than linked, so that gpm needs no
// oneDNN headers and runs where LibTorch was built without it.
using OnednnSgemm = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                            int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

inline OnednnSgemm onednn_sgemm() {
  static const auto sgemm = reinterpret_cast<OnednnSgemm>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
  return sgemm;
}

// On unless GPM_ONEDNN_MATMUL=0 at start-up or gpm::use_onednn_matmul(false).
inline std::atomic<bool>& onednn_matmul_switch() {
  static std::atomic<bool> on{[] {
    const char* value = std::getenv("GPM_ONEDNN_MATMUL");
    return value == nullptr || std::string_view(value) != "0";
  }()};
  return on;
}

inline constexpr const char* kOnednnSgemmName = "gpm::onednn_sgemm";

// A matrix as an sgemm operand: row-major ('N') or the transpose of a row-major one ('T'), with its
// leading dimension; none for other strides.
struct SgemmOperand {
  const float* data;
  char trans;
  int64_t ld;
};

// The last two dimensions of t (a matrix, or each matrix of a batch [B, rows, cols]).
inline std::optional<SgemmOperand> sgemm_operand(const torch::Tensor& t) {
  const int64_t rows = t.size(-2), cols = t.size(-1), row_stride = t.stride(-2), col_stride = t.stride(-1);
  if (col_stride == 1 && row_stride >= std::max<int64_t>(cols, 1))
    return SgemmOperand{t.data_ptr<float>(), 'N', row_stride};
  if (row_stride == 1 && col_stride >= std::max<int64_t>(rows, 1))
    return SgemmOperand{t.data_ptr<float>(), 'T', col_stride};
  return std::nullopt;
}

// Products with a side under this many rows or columns (a layer from or to 2-D points) stay
// LibTorch's: oneDNN's call costs a few microseconds more than such a product itself.
inline constexpr int64_t kOnednnMinSide = 16;

// Float matrices (dims 2) or batches of them (dims 3) on the CPU whose product oneDNN takes (outside
// bfloat16 autocast, which LibTorch's products follow).
inline bool onednn_applies(const torch::Tensor& a, const torch::Tensor& b, int64_t dims = 2) {
  const auto plain_float = [dims](const torch::Tensor& t) {
    return t.dim() == dims && t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.layout() == torch::kStrided;
  };
  return onednn_sgemm() != nullptr && onednn_matmul_switch().load(std::memory_order_relaxed) && !cpu_autocast_enabled() &&
         plain_float(a) && plain_float(b) && a.size(-1) == b.size(-2) && (dims == 2 || a.size(0) == b.size(0)) &&
         std::min({a.size(-2), a.size(-1), b.size(-1)}) >= kOnednnMinSide;
}

// a [m, k] @ b [k, n] + bias [n] (when defined), without autograd.
inline torch::Tensor onednn_product(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias) {
  const bool plain_bias = !bias.defined() || (bias.dim() == 1 && bias.size(0) == b.size(1) &&
                                              bias.scalar_type() == torch::kFloat && bias.device().is_cpu());
  if (!onednn_applies(a, b) || !plain_bias) return bias.defined() ? at::addmm(bias, a, b) : at::mm(a, b);
  const torch::Tensor lhs = sgemm_operand(a) ? a : a.contiguous();
  const torch::Tensor rhs = sgemm_operand(b) ? b : b.contiguous();
  const auto x = *sgemm_operand(lhs), y = *sgemm_operand(rhs);
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  // The name profilers and gpm bench's operation census see (sgemm is not a dispatched operation).
  RECORD_FUNCTION(kOnednnSgemmName,
                  bias.defined() ? std::vector<c10::IValue>{a, b, bias} : std::vector<c10::IValue>{a, b});
  torch::Tensor out = bias.defined() ? bias.expand({m, n}).contiguous() : torch::empty({m, n}, a.options());
  const int status = onednn_sgemm()(x.trans, y.trans, m, n, k, 1.0f, x.data, x.ld, y.data, y.ld,
                                    bias.defined() ? 1.0f : 0.0f, out.data_ptr<float>(), n);
  if (status != 0) return bias.defined() ? at::addmm(bias, a, b) : at::mm(a, b);
  return out;
}

inline constexpr const char* kOnednnBatchedSgemmName = "gpm::onednn_batched_sgemm";

// a [B, m, k] @ b [B, k, n], without autograd: one sgemm per matrix of the batch, the batch split
// across threads (oneDNN runs single-threaded inside a parallel region).
inline torch::Tensor onednn_batched_product(const torch::Tensor& a, const torch::Tensor& b) {
  if (!onednn_applies(a, b, 3)) return at::bmm(a, b);
  // Each matrix of an operand must be an sgemm operand and the matrices equally spaced.
  const torch::Tensor lhs = sgemm_operand(a) ? a : a.contiguous();
  const torch::Tensor rhs = sgemm_operand(b) ? b : b.contiguous();
  const auto x = *sgemm_operand(lhs), y = *sgemm_operand(rhs);
  const int64_t batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
  const int64_t x_step = lhs.stride(0), y_step = rhs.stride(0);
  RECORD_FUNCTION(kOnednnBatchedSgemmName, std::vector<c10::IValue>{a, b});
  torch::Tensor out = torch::empty({batch, m, n}, a.options());
  float* const c = out.data_ptr<float>();
  std::atomic<bool> failed{false};
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      if (onednn_sgemm()(x.trans, y.trans, m, n, k, 1.0f, x.data + i * x_step, x.ld, y.data + i * y_step, y.ld, 0.0f,
                         c + i * m * n, n) != 0)
        failed = true;
  });
  return failed ? at::bmm(a, b) : out;
}

// a @ b, and a @ b + bias, as autograd functions whose backward passes are made of the same
// products, so that double backward (gradient penalties) goes through them too.
struct OnednnProduct : torch::autograd::Function<OnednnProduct> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    const torch::NoGradGuard no_grad;
    return onednn_product(a, b, torch::Tensor());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &a = saved[0], &b = saved[1], &g = grads[0];
    return {ctx->needs_input_grad(0) ? apply(g, b.t()) : torch::Tensor(),
            ctx->needs_input_grad(1) ? apply(a.t(), g) : torch::Tensor()};
  }
};

// a [B, m, k] @ b [B, k, n] with a backward pass of the same products. An operand that is the
// transpose of a row-major batch gets its gradient in that layout, computed as the transposed
// product: the operation behind the transpose (a softmax, say) then receives a row-major gradient.
struct OnednnBatchedProduct : torch::autograd::Function<OnednnBatchedProduct> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    const torch::NoGradGuard no_grad;
    return onednn_batched_product(a, b);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &a = saved[0], &b = saved[1], &g = grads[0];
    const auto transposed = [](const torch::Tensor& t) { return t.stride(1) == 1 && t.stride(2) != 1; };
    torch::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0))  // g bᵀ, or (b gᵀ)ᵀ
      grad_a = transposed(a) ? apply(b, g.transpose(1, 2)).transpose(1, 2) : apply(g, b.transpose(1, 2));
    if (ctx->needs_input_grad(1))  // aᵀ g, or (gᵀ a)ᵀ
      grad_b = transposed(b) ? apply(g.transpose(1, 2), a).transpose(1, 2) : apply(a.transpose(1, 2), g);
    return {grad_a, grad_b};
  }
};

// x Wᵀ + b, LibTorch's linear: its weight gradient ∂yᵀ x comes out in W's own layout.
struct OnednnLinear : torch::autograd::Function<OnednnLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    const torch::NoGradGuard no_grad;
    return onednn_product(x, weight.t(), bias);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &g = grads[0];
    return {ctx->needs_input_grad(0) ? OnednnProduct::apply(g, weight) : torch::Tensor(),
            ctx->needs_input_grad(1) ? OnednnProduct::apply(g.t(), x) : torch::Tensor(),
            ctx->needs_input_grad(2) ? g.sum(0) : torch::Tensor()};
  }
};

// Whether a product of these operands must be recorded for autograd.
inline bool records_gradient(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias = {}) {
  return torch::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad() || (bias.defined() && bias.requires_grad()));
}

}  // namespace detail

/// a [m, k] @ b [k, n], differentiable to any order; through oneDNN's sgemm for float matrices on
/// the CPU when the process has it, else LibTorch's own product. Example: `auto c = gpm::matmul(a, b);`
inline torch::Tensor matmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (!detail::onednn_applies(a, b)) return at::mm(a, b);
  if (!detail::records_gradient(a, b)) return detail::onednn_product(a, b, torch::Tensor());
  return detail::OnednnProduct::apply(a, b);
}

/// a [B, m, k] @ b [B, k, n], torch::bmm differentiable to any order; through oneDNN's sgemm for
/// float batches on the CPU (one product per matrix, the batch split across threads) as gpm::matmul.
/// Example: `auto scores = gpm::bmm(queries.transpose(1, 2), keys);`
inline torch::Tensor bmm(const torch::Tensor& a, const torch::Tensor& b) {
  if (!detail::onednn_applies(a, b, 3)) return at::bmm(a, b);
  if (!detail::records_gradient(a, b)) return detail::onednn_batched_product(a, b);
  return detail::OnednnBatchedProduct::apply(a, b);
}

/// x [N, in] Wᵀ + b for a weight [out, in] and a bias [out] (or none): torch::nn::functional::linear,
/// differentiable to any order, through oneDNN as gpm::matmul is.
/// Example: `auto y = gpm::linear(x, layer->weight, layer->bias);`
inline torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {}) {
  if (!detail::onednn_applies(x, weight.t())) return torch::nn::functional::linear(x, weight, bias);
  if (!detail::records_gradient(x, weight, bias)) return detail::onednn_product(x, weight.t(), bias);
  return bias.defined() ? detail::OnednnLinear::apply(x, weight, bias) : detail::OnednnProduct::apply(x, weight.t());
}

/// Whether gpm::matmul, gpm::bmm and gpm::linear run on oneDNN here: LibTorch's CPU build links it
/// (some builds hide its symbols), and it is switched on.
inline bool onednn_matmul_available() {
  return detail::onednn_sgemm() != nullptr && detail::onednn_matmul_switch().load();
}

/// Switches gpm::matmul, gpm::bmm and gpm::linear between oneDNN's sgemm (true, the default where
/// the process has it) and LibTorch's own products (false), for this process; the environment variable
/// GPM_ONEDNN_MATMUL=0 starts it switched off. The two differ in the last bits of their sums.
inline void use_onednn_matmul(bool on) { detail::onednn_matmul_switch().store(on); }

}  // namespace gpm
