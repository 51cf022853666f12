// Sampling a trained generator guided by its discriminator, from the generator's own latents:
// latent refinement (DDLS, Che et al. 2020, arXiv:2003.06060; DGflow, Ansari et al. 2021,
// arXiv:2012.00780, pulled back to latent space) moves each latent uphill on the discriminator's
// logit at G(z); discriminator rejection sampling (DRS, Azadi et al. 2019, arXiv:1810.06758)
// keeps each sample with a probability that grows with its logit. Both judge the generator's samples
// by the discriminator that trained it; the samples they return are the generator's own outputs.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/eval_mode.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/models/interacting_particle_model.hpp"

namespace gpm {

/// What latent refinement ascends.
enum class LatentEnergy {
  ddls,   ///< d(G(z)) − ‖z‖²/2: Langevin dynamics on the latent model p(z) ∝ N(z; 0, I) e^{d(G(z))}
  dgflow  ///< d(G(z)): the KL gradient flow of the samples, pulled back to latent space
};

/// Every latent energy with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<LatentEnergy, std::string_view>, 2> option_names(LatentEnergy) {
  return {{{LatentEnergy::ddls, "ddls"}, {LatentEnergy::dgflow, "dgflow"}}};
}

struct LatentRefinementOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(LatentEnergy, energy, Range::any(), "ddls: ascend d(G(z)) − ‖z‖²/2 (a latent EBM); dgflow: ascend d(G(z))") =
      LatentEnergy::ddls;
  GPM_OPTION(int64_t, steps, Range::at_least(0), "K, the latent steps") = 100;
  GPM_OPTION(double, eta, Range::above(0), "η: z ← z + η ∇E(z) + √(2η) · noise · ξ") = 0.01;
  GPM_OPTION(double, noise, Range::at_least(0), "the Langevin noise's factor (1: Langevin on the EBM; 0: gradient ascent)") =
      1.0;
  GPM_OPTIONS_END
};

/// z after K steps z ← z + η ∇_z E(z) + √(2η) · noise · ξ (ξ ~ N(0, I) from `gen`), E(z) = d(G(z))
/// − ‖z‖²/2 (ddls) or d(G(z)) (dgflow), with `generate` = G and `logits` = d. Gradients are taken
/// with respect to z only (no parameter's gradient is touched); put the networks in eval mode.
/// Example: `z = refine_latents(z, [&](auto& z) { return g->forward(z); }, [&](auto& x) { return d->forward(x).squeeze(1); }, {}, gen);`
template <class Generate, class Logits>
torch::Tensor refine_latents(torch::Tensor z, Generate&& generate, Logits&& logits, const LatentRefinementOptions& o,
                             at::Generator& gen) {
  GPM_CHECK(o.eta() > 0 && std::isfinite(o.eta()), "refine_latents: eta must be finite and > 0, got {}", o.eta());
  const double noise = std::sqrt(2 * o.eta()) * o.noise();
  for (int64_t k = 0; k < o.steps(); ++k) {
    torch::AutoGradMode enable(true);
    const torch::Tensor input = z.detach().requires_grad_(true);
    torch::Tensor energy = logits(generate(input)).sum();  // per-latent gradients are independent
    if (o.energy() == LatentEnergy::ddls) energy = energy - 0.5 * input.square().sum();
    const torch::Tensor gradient = input_gradient(energy, input);
    torch::NoGradGuard no_grad;
    z = input.detach() + o.eta() * gradient;
    if (noise > 0) z = z + noise * torch::randn(z.sizes(), gen, z.options());
  }
  return z.detach();
}

struct RejectionSamplingOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, percentile, Range::between(0, 1), "γ is the batch's q-quantile of F: larger q, fewer accepted") = 0.8;
  GPM_OPTION(bool, shift, Range::any(),
             "subtract γ from F (DRS); false: γ = 0, exact rejection sampling by e^{d − d_max}") = true;
  GPM_OPTION(int64_t, burn_in, Range::at_least(1), "samples drawn first to estimate the largest logit") = 10000;
  GPM_OPTION(int64_t, batch, Range::at_least(1), "samples drawn per round") = 1000;
  GPM_OPTION(int64_t, max_draws, Range::at_least(1), "the most samples drawn after the burn-in before giving up") =
      1000000;
  GPM_OPTION(double, epsilon, Range::above(0), "ε of F = d − d_max − log(1 − e^{d − d_max − ε}) − γ") = 1e-6;
  GPM_OPTIONS_END
};

/// What rejection sampling returns: the kept samples and the fraction of drawn samples kept.
struct RejectionSample {
  torch::Tensor samples;
  double acceptance = 0;
  int64_t drawn = 0;
};

/// n samples of `draw(m)` (m fresh generator samples) kept by DRS: with d their logits and d_max the
/// largest logit seen (over a burn-in, then updated), each is kept with probability sigmoid(F),
/// F = d − d_max − log(1 − e^{d − d_max − ε}) − γ, γ the batch's `percentile`-quantile of F without γ.
/// sigmoid(F + γ) = e^{d − d_max − ε}: for a logistic discriminator, d = log p_data/p_g, so with γ = 0
/// (`shift` false) it is exact rejection sampling of p_data when d_max is the largest ratio. DRS's γ
/// moves every acceptance: up where most samples lie far below the largest ratio (a GAN's, with d_max
/// the best of thousands), trading exactness for acceptance.
/// An error when fewer than n are kept within `max_draws` draws.
template <class Draw, class Logits>
RejectionSample rejection_sample(int64_t n, Draw&& draw, Logits&& logits, const RejectionSamplingOptions& o,
                                 at::Generator& gen) {
  GPM_CHECK(n > 0, "rejection_sample: n must be > 0, got {}", n);
  torch::NoGradGuard no_grad;
  double max_logit = logits(draw(o.burn_in())).max().template item<double>();
  std::vector<torch::Tensor> kept;
  int64_t accepted = 0, drawn = 0;
  while (accepted < n) {
    GPM_CHECK(drawn < o.max_draws(), "rejection_sample: {} of {} samples kept after {} draws (max_draws); lower the "
              "percentile, or raise max_draws", accepted, n, drawn);
    const torch::Tensor x = draw(o.batch());
    const torch::Tensor d = logits(x).to(torch::kFloat64);
    max_logit = std::max(max_logit, d.max().item<double>());
    const torch::Tensor shifted = d - max_logit;
    const torch::Tensor f = shifted - torch::log1p(-torch::exp(shifted - o.epsilon()));
    const torch::Tensor shifted_f = o.shift() ? f - torch::quantile(f, o.percentile()) : f;
    const torch::Tensor keep = torch::rand(f.sizes(), gen, f.options()) < torch::sigmoid(shifted_f);
    const torch::Tensor chosen = x.index({keep.to(x.device())});
    kept.push_back(chosen);
    accepted += chosen.size(0);
    drawn += x.size(0);
  }
  return {torch::cat(kept).narrow(0, 0, n), static_cast<double>(accepted) / static_cast<double>(drawn), drawn};
}

/// n samples of a generator model whose flow exposes its discriminator, from latents refined by
/// `refine_latents`, with both networks as the model samples (averaged weights, eval mode) and the
/// model's random stream.
/// Example: `auto x = sample_with_latent_refinement(gan, 2000, LatentRefinementOptions().steps(50));`
template <GeneratorDynamics D, Flow F>
  requires ExposesDiscriminator<F>
torch::Tensor sample_with_latent_refinement(InteractingParticleModel<D, F>& model, int64_t n,
                                            const LatentRefinementOptions& o = {}) {
  GPM_CHECK(n > 0, "sample_with_latent_refinement: n must be > 0, got {}", n);
  auto& generator = model.dynamics();
  auto& flow = model.flow();
  const auto generator_weights = averaged_weights_of(generator);
  const auto flow_weights = averaged_weights_of(flow);
  const EvalMode generator_eval(*generator.net()), discriminator_eval(*flow.net());
  const auto options = generator.net()->parameters().front().options();
  auto& gen = model.generator();
  torch::Tensor z = generator.latent().sample(n, options, gen);
  const auto logits = [&](const torch::Tensor& x) { return flow.logits(x, torch::zeros({x.size(0)}, x.options())); };
  // Particles in the parameters' dtype, as the generator's own samples (under bfloat16 autocast a
  // network's last layer returns bfloat16).
  const auto generate = [&](const torch::Tensor& latent) { return generator.net()->forward(latent).to(options.dtype()); };
  z = refine_latents(z, generate, logits, o, gen);
  torch::NoGradGuard no_grad;
  return generate(z);
}

/// n samples of a generator model kept by discriminator rejection sampling (`rejection_sample`), the
/// networks as the model samples, and the fraction of drawn samples kept.
/// Example: `auto [x, acceptance, drawn] = sample_by_rejection(gan, 2000);`
template <GeneratorDynamics D, Flow F>
  requires ExposesDiscriminator<F>
RejectionSample sample_by_rejection(InteractingParticleModel<D, F>& model, int64_t n, const RejectionSamplingOptions& o = {}) {
  auto& flow = model.flow();
  const auto flow_weights = averaged_weights_of(flow);
  const EvalMode discriminator_eval(*flow.net());
  return rejection_sample(
      n, [&](int64_t m) { return model.sample(m); },
      [&](const torch::Tensor& x) { return flow.logits(x, torch::zeros({x.size(0)}, x.options())); }, o,
      model.generator());
}

}  // namespace gpm
