// Batch normalisation that data-parallel training can synchronise: inside a DataParallelScope with
// sync_batch_norm, the batch statistics are those of the whole batch over every rank, in the forward
// and in the backward pass, so W ranks of batch B normalise as one process of batch W·B. Elsewhere it
// is LibTorch's BatchNorm (momentum 0.1, ε 1e-5, affine, running statistics), with the same
// parameters, buffers and names, so checkpoints do not depend on which one wrote them.
#pragma once

#include <memory>
#include <vector>

#include <torch/arg.h>
#include <torch/autograd.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/data_parallel.hpp"
#include "gpm/core/errors.hpp"

namespace gpm::nn {

namespace detail {

/// `local` summed over the ranks of `group`, differentiably: each rank's loss depends on every rank's
/// `local` through the sum, so the gradient reaching `local` is the sum of the ranks' gradients of
/// the sum (a backward hook sums them, by the same function, so that double backward works too).
inline torch::Tensor sum_over_ranks(const torch::Tensor& local, const std::shared_ptr<Collectives>& group) {
  auto total = local.detach().clone();
  group->start_sum(total)();
  if (!local.requires_grad()) return total;
  auto routed = local.view_as(local);
  routed.register_hook([group](const torch::Tensor& grad) { return sum_over_ranks(grad, group); });
  return routed + (total - routed.detach());
}

}  // namespace detail

struct BatchNormOptions {
  BatchNormOptions(int64_t num_features = 1) : num_features_(num_features) {}
  /// C: the features (channels) normalised, dimension 1 of the input.
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, momentum) = 0.1;
  TORCH_ARG(double, eps) = 1e-5;
};

/// Batch normalisation over every dimension but 1 ([N, C] or [N, C, H, W], ...). Example:
/// `gpm::nn::BatchNorm bn(64); auto y = bn(x);` — synchronised over the ranks inside
/// `gpm::DataParallelScope(group, gpm::DataParallelOptions().sync_batch_norm(true))`.
class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(int64_t num_features) : BatchNormImpl(BatchNormOptions(num_features)) {}
  explicit BatchNormImpl(BatchNormOptions options) : options(std::move(options)) { reset(); }

  void reset() override {
    const int64_t c = options.num_features();
    GPM_CHECK(c >= 1, "BatchNorm: num_features must be >= 1, got {}", c);
    weight = register_parameter("weight", torch::ones({c}));
    bias = register_parameter("bias", torch::zeros({c}));
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    GPM_CHECK(x.dim() >= 2 && x.size(1) == options.num_features(),
              "BatchNorm: expected an input [N, {}, ...], got {} dimensions with {} features in dimension 1",
              options.num_features(), x.dim(), x.dim() >= 2 ? x.size(1) : 0);
    const auto& parallel = current_data_parallel();
    if (is_training()) num_batches_tracked += 1;
    if (!is_training() || !parallel.group || !parallel.sync_batch_norm)
      return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), options.momentum(),
                               options.eps(), /*cudnn_enabled=*/true);
    return synchronised(x, parallel.group);
  }

  BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  // The whole batch's mean from the ranks' sums of x and their counts, then its (biased) variance
  // from their sums of (x − mean)²: two summations, exact where one of Σx and Σx² would cancel.
  torch::Tensor synchronised(const torch::Tensor& x, const std::shared_ptr<Collectives>& group) {
    std::vector<int64_t> reduced{0}, shape(static_cast<size_t>(x.dim()), 1);
    for (int64_t dim = 2; dim < x.dim(); ++dim) reduced.push_back(dim);
    shape[1] = -1;
    const int64_t c = options.num_features();
    const auto count = torch::full({1}, static_cast<double>(x.numel() / c), x.options());
    const auto sums = detail::sum_over_ranks(torch::cat({x.sum(reduced), count}), group);
    const auto n = sums[c].item<double>();
    GPM_CHECK(n >= 2, "BatchNorm: the whole batch over the ranks holds {} value(s) per feature; batch statistics "
              "need at least 2", n);
    const auto mean = sums.slice(0, 0, c) / n;
    const auto centred = x - mean.view(shape);
    const auto var = detail::sum_over_ranks((centred * centred).sum(reduced), group) / n;
    {
      const torch::NoGradGuard no_grad;
      const double m = options.momentum();
      running_mean.mul_(1 - m).add_(mean.detach(), m);
      running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), m);
    }
    return centred * (torch::rsqrt(var + options.eps()) * weight).view(shape) + bias.view(shape);
  }
};
TORCH_MODULE(BatchNorm);

}  // namespace gpm::nn
