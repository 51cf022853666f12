// Latent optimisation (LOGAN, Wu et al. 2019, arXiv:1912.00953): while it trains, a generator first
// moves each latent one step uphill on the discriminator's logit of its output, and generates from
// the moved latent. A generator network around another one, so that every generator dynamics and
// model takes it unchanged.
#pragma once

#include <functional>
#include <utility>

#include <torch/autograd.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

struct LatentOptimisationOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, step_size, Range::above(0), "α of the latent step") = 0.9;
  GPM_OPTION(bool, natural_gradient, Range::any(),
             "true: Δz = α g/(β + ‖g‖²) (natural gradient); false: Δz = α g (gradient ascent)") = true;
  GPM_OPTION(double, damping, Range::above(0), "β of the natural-gradient step") = 5.0;
  GPM_OPTIONS_END

  /// Δz for the per-latent gradients g [N, ...] of the logit.
  torch::Tensor step(const torch::Tensor& g) const {
    if (!natural_gradient()) return step_size() * g;
    return step_size() * g / per_particle(damping() + batched_squared_norm(g), g);
  }
};

/// The discriminator's logit d(x) of generated samples x [N, ...], one per sample ([N] or [N, 1]).
using Logit = std::function<torch::Tensor(const torch::Tensor&)>;

/// G'(z) = G(z + Δz) in training mode, with g = ∇_z d(G(z)) per latent and Δz = α g/(β + ‖g‖²) (or α g):
/// the generator's training samples — those its discriminator learns from and those its steps move —
/// come from latents moved towards what the discriminator finds realistic. Δz is detached (the
/// first-order variant: the generator's gradient does not flow through the latent step). In eval
/// mode, and so whenever a model samples, G'(z) = G(z). Only G's parameters are the module's: the
/// discriminator is held, not registered, so neither optimiser nor checkpoint of the generator sees
/// it, and the latent step accumulates no gradient in either network.
/// Example: `LatentOptimised g(mlp, [d = disc](const torch::Tensor& x) { return d->forward(x); });`
template <class Net>
class LatentOptimisedImpl : public torch::nn::Module {
 public:
  LatentOptimisedImpl(Net generator, Logit logit, LatentOptimisationOptions options = {})
      : generator(register_module("generator", std::move(generator))), logit_(std::move(logit)), options_(options) {
    GPM_CHECK(static_cast<bool>(logit_), "LatentOptimised: the discriminator's logit is empty");
    GPM_CHECK(options_.step_size() > 0 && options_.damping() > 0,
              "LatentOptimised: step_size and damping must be > 0, got {} and {}", options_.step_size(), options_.damping());
  }

  torch::Tensor forward(const torch::Tensor& z) {
    if (!is_training()) return generator->forward(z);
    return generator->forward(optimised(z));
  }

  /// z + Δz (detached), the latents one step uphill on d(G(z)).
  torch::Tensor optimised(const torch::Tensor& z) {
    torch::Tensor g;
    {
      torch::AutoGradMode enable(true);
      const torch::Tensor input = z.detach().requires_grad_(true);
      const torch::Tensor logits = logit_(generator->forward(input));
      GPM_CHECK(logits.numel() == z.size(0), "LatentOptimised: the logit returned shape {} for {} latents; it must "
                "return one per sample", shape_string(logits), z.size(0));
      g = torch::autograd::grad({logits.sum()}, {input})[0];
    }
    return (z + options_.step(g)).detach();
  }

  const LatentOptimisationOptions& options() const { return options_; }

  Net generator;

 private:
  Logit logit_;
  LatentOptimisationOptions options_;
};

/// The module holder of LatentOptimisedImpl<Net> (as TORCH_MODULE would declare it).
template <class Net>
class LatentOptimised : public torch::nn::ModuleHolder<LatentOptimisedImpl<Net>> {
 public:
  using torch::nn::ModuleHolder<LatentOptimisedImpl<Net>>::ModuleHolder;
};

}  // namespace gpm
