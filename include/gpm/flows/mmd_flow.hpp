// The Wasserstein gradient flow of the squared MMD between the particles and target samples.
#pragma once

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/kernels.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// Flow of F(ρ) = ½ MMD²_k(ρ, p): v(x) = E_{y∼p} ∇ₓ k(x, y) − E_{y∼ρ} ∇ₓ k(x, y), with ρ the
/// current particles and p the target samples (Arbel et al. 2019, arXiv:1906.04370; Franceschi et
/// al. 2023, Table 2). For N particles, v(x_i) = −(N/2) ∂ MMD²_V / ∂x_i (MMD²_V: gpm::squared_mmd).
/// As a TrainableFlow, `update(real, ...)` replaces the target samples by `real`, so a generator
/// can be trained by the MMD flow on minibatches. Models gpm::TrainableFlow.
/// Example: `MmdFlow flow(RbfKernel(), target_samples);`
template <Kernel K>
class MmdFlow {
 public:
  explicit MmdFlow(K kernel, torch::Tensor target = {}) : kernel_(std::move(kernel)) {
    if (target.defined()) set_target(target);
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "MmdFlow::velocity");
    check_times(t, x, "MmdFlow::velocity");
    GPM_CHECK(target_.defined(), "MmdFlow::velocity: no target samples; pass them to the constructor "
              "or call update(real, fake, t) first");
    check_compatible(x, "x", target_, "the target samples", "MmdFlow::velocity");
    const auto xf = x.flatten(1);
    GPM_CHECK(xf.size(1) == target_.size(1), "MmdFlow::velocity: particles have {} coordinates but the "
              "target samples have {}", xf.size(1), target_.size(1));
    torch::NoGradGuard no_grad;
    const auto v = kernel_.mean_gradient(xf, target_) - kernel_.mean_gradient(xf, xf);
    return v.view(x.sizes());
  }

  Stats update(const torch::Tensor& real, const torch::Tensor& /*fake*/, const torch::Tensor& /*t*/) {
    set_target(real);
    return {};
  }

  void set_target(const torch::Tensor& target) {
    check_particles(target, "MmdFlow", "target");
    target_ = target.detach().flatten(1);
  }
  const torch::Tensor& target() const { return target_; }

  /// The target samples (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    archive.write("target", target_.defined() ? target_ : torch::Tensor(torch::empty({0})));
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::Tensor target;
    archive.read("target", target);
    target_ = target.numel() > 0 ? target : torch::Tensor();
  }
  const K& kernel() const { return kernel_; }

 private:
  K kernel_;
  torch::Tensor target_;
};

}  // namespace gpm
