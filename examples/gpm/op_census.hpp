// The matrix products and convolutions of a piece of work, as LibTorch dispatches them (forward and
// backward alike), with their floating-point operations; and the time the same operations take alone,
// back to back, at the same shapes: the rate this machine's GEMM and convolution kernels reach on
// exactly that work, against which a training step's own rate is judged.
#pragma once

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <gpm/core/errors.hpp>
#include <gpm/core/mixed_precision.hpp>
#include <gpm/core/onednn_matmul.hpp>

#include "timing.hpp"

namespace gpm::runner {

/// A tensor argument of a counted operation, kept by its layout only: the replay fills one like it.
struct TensorLayout {
  std::vector<int64_t> sizes, strides;
  c10::ScalarType dtype;
  c10::Device device;
};

/// An argument of a counted operation: a tensor by its layout, anything else by its value.
struct CountedArgument {
  std::optional<TensorLayout> layout;
  c10::IValue value;
};

/// One operation as it was dispatched: its name and arguments, how often it ran and the
/// floating-point operations of one call (a multiply-add counts two).
struct CountedOp {
  c10::OperatorName name;
  std::vector<CountedArgument> arguments;
  std::string shapes;
  int64_t calls = 0;
  double flops = 0;
  /// The arithmetic it was called under (bfloat16: autocast on for its arguments' device), which its
  /// replay takes again: under autocast, an operation's arguments may mix float32 and bfloat16.
  Precision precision = Precision::float32;
};

/// The counted operations of a piece of work.
struct OpCensus {
  std::vector<CountedOp> ops;
  double flops() const {
    double total = 0;
    for (const auto& op : ops) total += op.flops * static_cast<double>(op.calls);
    return total;
  }
};

namespace detail {

inline double numel_of(c10::IntArrayRef sizes) {
  double n = 1;
  for (const auto s : sizes) n *= static_cast<double>(s);
  return n;
}

/// gpm::matmul's, gpm::bmm's and gpm::linear's products on oneDNN, recorded under names of their own
/// (not dispatched operations).
inline bool gpm_product(std::string_view name) {
  return name == gpm::detail::kOnednnSgemmName || name == gpm::detail::kOnednnBatchedSgemmName;
}

/// The floating-point operations of one call of a counted operation, from its arguments; nothing for
/// an operation this census does not count.
inline std::optional<double> counted_flops(std::string_view name, c10::ArrayRef<const c10::IValue> in) {
  const auto sizes = [&](size_t i) { return in[i].toTensor().sizes(); };
  const auto product = [&](size_t a, size_t b) {  // [.., m, k] × [.., k, n], with batch dimensions
    const auto x = sizes(a), y = sizes(b);
    return 2 * numel_of(x) * static_cast<double>(y.back());
  };
  if (name == "aten::mm" || name == "aten::bmm" || gpm_product(name)) return product(0, 1);
  if (name == "aten::addmm" || name == "aten::baddbmm") return product(1, 2);
  if (name == "aten::mv") return 2 * numel_of(sizes(0));
  if (name == "aten::addmv") return 2 * numel_of(sizes(1));
  const bool forward = name == "aten::convolution", backward = name == "aten::convolution_backward";
  if (!forward && !backward) return std::nullopt;
  // convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups);
  // convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
  // output_padding, groups, output_mask). A convolution costs 2 · N · (positions of its dense side) ·
  // weight.numel(): the output's positions, or the input's for a transposed one.
  const size_t shift = backward ? 1 : 0;
  const auto input = sizes(shift), weight = sizes(1 + shift);
  const bool transposed = in[6 + shift].toBool();
  double positions = 1;
  if (transposed) {
    positions = numel_of(input.slice(2));
  } else if (backward) {
    positions = numel_of(sizes(0).slice(2));
  } else {
    // A parameter given once holds for every spatial dimension (conv2d(x, w) passes stride [1]).
    const auto per_dimension = [&](size_t i, size_t k) {
      const auto values = in[i].toIntVector();
      return values.size() == 1 ? values[0] : values.at(k);
    };
    for (size_t d = 2; d < input.size(); ++d) {
      const auto k = d - 2;
      const auto stride = per_dimension(3, k), padding = per_dimension(4, k), dilation = per_dimension(5, k);
      positions *= static_cast<double>((input[d] + 2 * padding - dilation * (weight[d] - 1) - 1) / stride + 1);
    }
  }
  const double one = 2 * static_cast<double>(input[0]) * positions * numel_of(weight);
  if (forward) return one;
  const auto mask = in[10].toBoolList();
  return one * ((mask.get(0) ? 1 : 0) + (mask.get(1) ? 1 : 0));
}

struct CensusState {
  std::mutex mutex;
  std::map<std::string, CountedOp> ops;
};

inline CensusState& census_state() {
  static CensusState state;
  return state;
}

/// Nesting of counted operations on this thread: one dispatched inside another (a convolution's own
/// matrix products) is part of the outer one's work and not counted again.
inline thread_local int counted_depth = 0;

inline bool counted_name(std::string_view name) {
  return name == "aten::mm" || name == "aten::bmm" || name == "aten::addmm" || name == "aten::baddbmm" ||
         name == "aten::mv" || name == "aten::addmv" || name == "aten::convolution" ||
         name == "aten::convolution_backward" || gpm_product(name);
}

template <class Arguments>
bool on_cuda(const Arguments& arguments) {
  for (const auto& v : arguments)
    if (v.isTensor() && v.toTensor().defined()) return v.toTensor().is_cuda();
  return false;
}

inline void count(const at::RecordFunction& fn) {
  const auto in = fn.inputs();
  const auto flops = counted_flops(fn.name(), in);
  const auto op_name = gpm_product(fn.name()) ? c10::optional<c10::OperatorName>(c10::OperatorName(fn.name(), ""))
                                              : fn.operator_name();
  if (!flops || !op_name) return;
  CountedOp op{*op_name, std::vector<CountedArgument>(in.size()), {}, 0, *flops};
  std::vector<std::string> shapes;
  const bool autocast = on_cuda(in) ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  if (autocast) op.precision = Precision::bfloat16;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto& v = in[i];
    if (v.isTensor() && v.toTensor().defined()) {
      const auto& t = v.toTensor();
      op.arguments[i].layout = TensorLayout{t.sizes().vec(), t.strides().vec(), t.scalar_type(), t.device()};
      shapes.push_back(fmt::format("{}/{}", fmt::join(t.sizes(), "x"), fmt::join(t.strides(), ",")));
    } else {
      op.arguments[i].value = v;
      std::ostringstream value;
      if (v.isNone() || v.isTensor()) value << "-";  // None, or an undefined tensor (a missing bias)
      else value << v;
      shapes.push_back(value.str());
    }
  }
  op.shapes = fmt::format("{}{}", fmt::join(shapes, " "), autocast ? " (bfloat16 autocast)" : "");
  const auto key = fmt::format("{}.{} {}", op_name->name, op_name->overload_name, op.shapes);
  auto& state = census_state();
  const std::lock_guard lock(state.mutex);
  auto [it, inserted] = state.ops.try_emplace(key, std::move(op));
  ++it->second.calls;
}

inline std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (!counted_name(fn.name())) return nullptr;
  if (counted_depth++ == 0) count(fn);
  return nullptr;
}

inline void on_end(const at::RecordFunction& fn, at::ObserverContext*) {
  if (counted_name(fn.name())) --counted_depth;
}

/// A tensor laid out as `layout`, filled with standard normal values (a view into a buffer large
/// enough for its strides, so that overlapping or transposed layouts are kept as they were).
inline torch::Tensor tensor_like(const TensorLayout& layout) {
  int64_t extent = 1;
  for (size_t d = 0; d < layout.sizes.size(); ++d) {
    if (layout.sizes[d] == 0) extent = 0;
    else extent += (layout.sizes[d] - 1) * layout.strides[d];
  }
  const auto buffer = torch::randn({std::max<int64_t>(extent, 1)}, torch::TensorOptions(layout.dtype).device(layout.device));
  return buffer.as_strided(layout.sizes, layout.strides);
}

}  // namespace detail

/// The matrix products and convolutions that `work` dispatches, with their shapes, calls and FLOPs.
/// One census at a time; the work runs with a callback on every operation, so time it apart.
inline OpCensus take_op_census(const std::function<void()>& work) {
  auto& state = detail::census_state();
  {
    const std::lock_guard lock(state.mutex);
    state.ops.clear();
  }
  const auto handle = at::addGlobalCallback(at::RecordFunctionCallback(detail::on_start, detail::on_end)
                                                .needsInputs(true)
                                                .scopes({at::RecordScope::FUNCTION}));
  try {
    work();
  } catch (...) {
    at::removeCallback(handle);
    throw;
  }
  at::removeCallback(handle);
  const std::lock_guard lock(state.mutex);
  OpCensus census;
  for (auto& [key, op] : state.ops) census.ops.push_back(std::move(op));
  state.ops.clear();
  std::sort(census.ops.begin(), census.ops.end(),
            [](const CountedOp& a, const CountedOp& b) { return a.flops * a.calls > b.flops * b.calls; });
  return census;
}

/// Seconds that the census's operations take alone, each called as often as it was, on fresh tensors
/// of the same layouts: per operation the fastest of three timed blocks of at least `block_seconds`.
inline double replay_seconds(const OpCensus& census, double block_seconds = 0.02) {
  const torch::NoGradGuard no_grad;
  double total = 0;
  for (const auto& op : census.ops) {
    std::vector<c10::IValue> arguments(op.arguments.size());
    for (size_t i = 0; i < arguments.size(); ++i) {
      const auto& a = op.arguments[i];
      arguments[i] = a.layout ? c10::IValue(detail::tensor_like(*a.layout)) : a.value;
    }
    const MixedPrecision arithmetic(op.precision, detail::on_cuda(arguments) ? torch::Device(torch::kCUDA) : torch::kCPU);
    std::function<void()> call;
    if (op.name.name == gpm::detail::kOnednnSgemmName) {
      const torch::Tensor bias = arguments.size() > 2 ? arguments[2].toTensor() : torch::Tensor();
      call = [&, bias] { gpm::detail::onednn_product(arguments[0].toTensor(), arguments[1].toTensor(), bias); };
    } else if (op.name.name == gpm::detail::kOnednnBatchedSgemmName) {
      call = [&] { gpm::detail::onednn_batched_product(arguments[0].toTensor(), arguments[1].toTensor()); };
    } else {
      const auto handle = c10::Dispatcher::singleton().findOp(op.name);
      GPM_CHECK(handle.has_value(), "the operation {} is not registered with the dispatcher", op.name.name);
      call = [&, handle] {
        auto stack = arguments;
        handle->callBoxed(&stack);
      };
    }
    call();  // warm-up: first-touch allocation, kernel selection
    synchronize_devices();
    const double best = fastest_seconds_per_call(call, block_seconds);
    total += best * static_cast<double>(op.calls);
  }
  return total;
}

}  // namespace gpm::runner
