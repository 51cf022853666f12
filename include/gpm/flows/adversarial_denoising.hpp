// Adversarial score matching (Jolicoeur-Martineau et al. 2021, "Adversarial score matching and
// improved sampling for image generation", arXiv:2009.05475): a denoiser trained by denoising score
// matching plus a GAN generator loss on its denoised outputs, against a discriminator trained on
// data versus denoised samples — an adversarial denoising auto-encoder.
#pragma once

#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/archive.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/optimised_network.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/losses/gan_losses.hpp"

namespace gpm {

struct AdversarialDenoisingOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, weight, Range::at_least(0), "λ_G, the adversarial term's weight beside the denoising loss's 1") = 1.0;
  GPM_OPTION(int64_t, discriminator_steps, Range::at_least(1), "discriminator steps before each denoiser step") = 1;
  GPM_OPTION(AdamOptions, optimizer, Range::any(),
             "the discriminator's Adam (the source's lr and β2; β1 0.5 where the source's −0.5 is outside Adam's range)") =
      AdamOptions().lr(1e-4).beta1(0.5).beta2(0.9);
  GPM_OPTIONS_END

  /// Seed of the discriminator step's random stream (noise levels and noise).
  TORCH_ARG(uint64_t, seed) = 0;
};

namespace detail {
/// The parameters of `module` that require gradients, switched off for the scope of this object:
/// a network whose input gradients alone are needed.
class NoWeightGradients {
 public:
  explicit NoWeightGradients(torch::nn::Module& module) {
    for (auto& p : module.parameters())
      if (p.requires_grad()) frozen_.push_back(p.requires_grad_(false));
  }
  ~NoWeightGradients() {
    for (auto& p : frozen_) p.requires_grad_(true);
  }
  NoWeightGradients(const NoWeightGradients&) = delete;
  NoWeightGradients& operator=(const NoWeightGradients&) = delete;

 private:
  std::vector<torch::Tensor> frozen_;
};
}  // namespace detail

/// The denoising flow f (a DenoisingScoreFlow: a denoiser's probability-flow field and its trainer)
/// whose denoiser trains on its denoising loss plus weight · mean_b c(d(D(x_b + σ_b ε_b, σ_b))), c the
/// generator cost of `loss` (least squares by default, as the source) and d a discriminator that
/// first takes `discriminator_steps` steps of `loss` on data against sg(D(x + σε, σ)) at fresh noise
/// levels from f's law. The field, the samples and the averaged weights are f's; a checkpoint holds
/// both networks (gpm::ForwardsCapabilities).
/// Example: `AdversarialDenoising flow(DenoisingScoreFlow(trainer), nn::Mlp(nn::MlpOptions(2, 1)));`
template <class F, Module Disc, GanLoss Loss = LeastSquaresLoss>
  requires DataTrainableFlow<F> && requires(F& f, const torch::Tensor& y) {
    f.net();
    f.trainer().step(y, [](const torch::Tensor&, const torch::Tensor&) { return torch::Tensor(); });
    f.trainer().sigma_sampler();
  }
class AdversarialDenoising : public ForwardsCapabilities<F> {
 public:
  AdversarialDenoising(F flow, Disc discriminator, Loss loss = {}, AdversarialDenoisingOptions options = {})
      : ForwardsCapabilities<F>(std::move(flow)),
        discriminator_(std::move(discriminator), options.optimizer().to_torch(), options.seed(), "AdversarialDenoising"),
        loss_(std::move(loss)),
        options_(options) {}

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) { return flow().velocity(x, t); }

  /// The discriminator's steps, then the denoiser's on real data [N, ...].
  Stats update(const torch::Tensor& real) {
    check_particles(real, "AdversarialDenoising::update", "real");
    const torch::Tensor clean = real.detach();
    Stats stats;
    for (int64_t k = 0; k < options_.discriminator_steps(); ++k) stats = discriminator_step(clean);
    auto& d = discriminator_.net();
    torch::Tensor adversarial;
    {
      const detail::NoWeightGradients frozen(*d);
      stats.merge(flow().trainer().step(clean, [&](const torch::Tensor& denoised, const torch::Tensor&) {
        adversarial = loss_.generator_loss(d->forward(denoised)).mean();
        return options_.weight() * adversarial;
      }));
    }
    stats["adversarial_loss"] = adversarial.detach();
    return stats;
  }

  /// Both networks' states (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    write_nested(archive, "flow", this->wrapped());
    write_nested(archive, "discriminator", discriminator_);
  }
  void load(torch::serialize::InputArchive& archive) {
    read_nested(archive, "flow", this->wrapped());
    read_nested(archive, "discriminator", discriminator_);
  }
  /// Both optimisers' learning rates times `factor`.
  void scale_learning_rate(double factor) {
    this->wrapped().scale_learning_rate(factor);
    discriminator_.scale_learning_rate(factor);
  }

  F& flow() { return this->wrapped(); }
  /// The denoiser (f's network).
  decltype(auto) net() { return flow().net(); }
  Disc& discriminator() { return discriminator_.net(); }

 private:
  Stats discriminator_step(const torch::Tensor& clean) {
    auto& gen = discriminator_.generator();
    const torch::Tensor sigma = flow().trainer().sigma_sampler().sample(clean.size(0), clean.options(), gen);
    torch::Tensor denoised;
    {
      torch::NoGradGuard no_grad;
      const torch::Tensor noisy = clean + per_particle(sigma, clean) * randn_rows(clean.sizes(), gen, clean.options());
      denoised = flow().net()(noisy, sigma);
    }
    auto& d = discriminator_.net();
    const torch::Tensor loss = loss_.discriminator_loss(d->forward(clean), d->forward(denoised));
    return {{"discriminator_loss", loss.detach()}, {"discriminator_grad_norm", discriminator_.minimise(loss)}};
  }

  OptimisedNetwork<Disc, torch::optim::Adam> discriminator_;
  Loss loss_;
  AdversarialDenoisingOptions options_;
};

}  // namespace gpm
