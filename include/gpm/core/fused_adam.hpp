// Adam's update in one pass over each parameter. LibTorch's torch::optim::Adam::step runs about eight
// element-wise kernels per parameter, each a pass over memory; on the networks of 2-D models those
// passes and their dispatch are a visible share of a training step. fused_adam_step makes the same
// update on the same optimiser state (so checkpoints stay LibTorch's) in one pass per parameter, and
// gives the norm of the gradients it read, which would otherwise take one more.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>

#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gpm {
namespace detail {

// The key of a parameter's state in an optimiser's state map: LibTorch 1.x keys by the printed
// address of the parameter's TensorImpl, 2.x by the address itself.
template <class Key>
Key optimizer_state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return key.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

// The constants of one parameter's step, in the parameter's type.
template <class T>
struct AdamCoefficients {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, sqrt_bias_correction2, eps, minus_step_size, weight_decay;
};

// The update of elements [begin, end), in the order of torch::optim::Adam::step's kernels; returns
// the sum of the squared gradients.
template <class T>
inline double adam_update_scalar(T* p, T* m, T* v, const T* g, int64_t begin, int64_t end, const AdamCoefficients<T>& c) {
  double squares = 0;
  for (int64_t k = begin; k < end; ++k) {
    squares += static_cast<double>(g[k]) * static_cast<double>(g[k]);
    const T grad = c.weight_decay != 0 ? g[k] + c.weight_decay * p[k] : g[k];
    m[k] = m[k] * c.beta1 + c.one_minus_beta1 * grad;
    v[k] = v[k] * c.beta2 + c.one_minus_beta2 * grad * grad;
    p[k] = p[k] + c.minus_step_size * m[k] / (std::sqrt(v[k]) / c.sqrt_bias_correction2 + c.eps);
  }
  return squares;
}

// The same, four floats at a time where SSE2 is there.
template <class T>
inline double adam_update(T* p, T* m, T* v, const T* g, int64_t begin, int64_t end, const AdamCoefficients<T>& c) {
#if defined(__SSE2__)
  if constexpr (std::is_same_v<T, float>) {
    const __m128 beta1 = _mm_set1_ps(c.beta1), one_minus_beta1 = _mm_set1_ps(c.one_minus_beta1);
    const __m128 beta2 = _mm_set1_ps(c.beta2), one_minus_beta2 = _mm_set1_ps(c.one_minus_beta2);
    const __m128 sqrt_bias_correction2 = _mm_set1_ps(c.sqrt_bias_correction2), eps = _mm_set1_ps(c.eps);
    const __m128 minus_step_size = _mm_set1_ps(c.minus_step_size), weight_decay = _mm_set1_ps(c.weight_decay);
    const bool decay = c.weight_decay != 0;
    __m128d squares = _mm_setzero_pd();
    int64_t k = begin;
    for (; k + 4 <= end; k += 4) {
      __m128 grad = _mm_loadu_ps(g + k);
      const __m128 grad_squared = _mm_mul_ps(grad, grad);
      squares = _mm_add_pd(squares, _mm_add_pd(_mm_cvtps_pd(grad_squared),
                                               _mm_cvtps_pd(_mm_movehl_ps(grad_squared, grad_squared))));
      __m128 param = _mm_loadu_ps(p + k);
      if (decay) grad = _mm_add_ps(grad, _mm_mul_ps(weight_decay, param));
      const __m128 mean = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + k), beta1), _mm_mul_ps(one_minus_beta1, grad));
      const __m128 second = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + k), beta2),
                                       _mm_mul_ps(_mm_mul_ps(one_minus_beta2, grad), grad));
      const __m128 denominator = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(second), sqrt_bias_correction2), eps);
      param = _mm_add_ps(param, _mm_div_ps(_mm_mul_ps(minus_step_size, mean), denominator));
      _mm_storeu_ps(m + k, mean);
      _mm_storeu_ps(v + k, second);
      _mm_storeu_ps(p + k, param);
    }
    double lanes[2];
    _mm_storeu_pd(lanes, squares);
    return lanes[0] + lanes[1] + adam_update_scalar(p, m, v, g, k, end, c);
  }
#endif
  return adam_update_scalar(p, m, v, g, begin, end, c);
}

template <class T>
double adam_update_parameter(torch::Tensor& p, const torch::Tensor& grad, torch::optim::AdamParamState& state,
                             const torch::optim::AdamOptions& options) {
  state.step(state.step() + 1);
  const auto [beta1, beta2] = options.betas();
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
  const AdamCoefficients<T> c{static_cast<T>(beta1),
                              static_cast<T>(1 - beta1),
                              static_cast<T>(beta2),
                              static_cast<T>(1 - beta2),
                              static_cast<T>(std::sqrt(bias_correction2)),
                              static_cast<T>(options.eps()),
                              static_cast<T>(-options.lr() / bias_correction1),
                              static_cast<T>(options.weight_decay())};
  T* param = p.data_ptr<T>();
  T* mean = state.exp_avg().data_ptr<T>();
  T* second = state.exp_avg_sq().data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  const double squares = at::parallel_reduce(
      int64_t{0}, p.numel(), int64_t{16384}, 0.0,
      [&](int64_t begin, int64_t end, double partial) {
        return partial + adam_update(param, mean, second, g, begin, end, c);
      },
      [](double a, double b) { return a + b; });
  p.unsafeGetTensorImpl()->bump_version();  // as an in-place update would: autograd sees the change
  return squares;
}

// Whether the one-pass update applies to `p` (its state, if it has one yet, is `state`).
inline bool fusable_adam_parameter(const torch::Tensor& p, const torch::optim::AdamOptions& options,
                                   const torch::optim::OptimizerParamState* state) {
  const torch::Tensor& grad = p.grad();
  const auto matches = [&](const torch::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.layout() == torch::kStrided && t.scalar_type() == p.scalar_type() &&
           t.is_contiguous() && t.sizes() == p.sizes();
  };
  if (options.amsgrad() || !p.device().is_cpu() || !p.is_contiguous() || !matches(grad)) return false;
  if (p.scalar_type() != torch::kFloat && p.scalar_type() != torch::kDouble) return false;
  if (state == nullptr) return true;
  const auto* adam_state = dynamic_cast<const torch::optim::AdamParamState*>(state);
  return adam_state != nullptr && matches(adam_state->exp_avg()) && matches(adam_state->exp_avg_sq());
}

}  // namespace detail

/// One step of `adam`, as torch::optim::Adam::step makes it (same update, same state), in one pass
/// over each parameter; returns the Euclidean norm of the gradients it applied (a scalar tensor), or
/// nothing, having changed nothing, when a parameter with a gradient, its gradient or its state is
/// not a contiguous float or double CPU tensor of its shape, or a group uses amsgrad: then call
/// `adam.step()`.
/// Example: `auto norm = fused_adam_step(adam); if (!norm) adam.step();`
inline std::optional<torch::Tensor> fused_adam_step(torch::optim::Adam& adam) {
  using Key = typename std::remove_reference_t<decltype(adam.state())>::key_type;
  for (auto& group : adam.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto found = adam.state().find(detail::optimizer_state_key<Key>(p));
      if (!detail::fusable_adam_parameter(p, options, found == adam.state().end() ? nullptr : found->second.get()))
        return std::nullopt;
    }
  }
  torch::NoGradGuard no_grad;
  double squares = 0;
  torch::ScalarType dtype = torch::kFloat;
  for (auto& group : adam.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      dtype = p.scalar_type();
      auto& slot = adam.state()[detail::optimizer_state_key<Key>(p)];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamParamState>();
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& state = static_cast<torch::optim::AdamParamState&>(*slot);
      squares += p.scalar_type() == torch::kFloat ? detail::adam_update_parameter<float>(p, p.grad(), state, options)
                                                   : detail::adam_update_parameter<double>(p, p.grad(), state, options);
    }
  }
  return torch::scalar_tensor(std::sqrt(squares), torch::TensorOptions().dtype(dtype));
}

}  // namespace gpm
