// Refinement: particles that a generator produced follow the model's own field for a while, as a
// particle model's would. A generator maps a connected latent space continuously, so it leaves
// mass on paths between well-separated modes ("no GAN's land", Tanielian et al. 2020); its field
// still points from those paths to the modes, and moving the particles directly, without the
// generator's smoothing, sharpens them (discriminator gradient flow, Ansari et al. 2021, here
// without its noise). A model driven by a data denoiser (Score GAN) refines the same way along the
// denoiser's probability flow, from its samples with noise added (SDEdit, Meng et al. 2022).
// Both are particle models (ParticleModel) whose prior is the generator's samples (SamplerPrior,
// NoisedPrior); only their flow, integrator and grid differ.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/core/time_grids.hpp"
#include "gpm/flows/borrowed_flow.hpp"
#include "gpm/flows/score_flow.hpp"
#include "gpm/integrators/euler.hpp"
#include "gpm/integrators/heun.hpp"
#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/models/particle_model.hpp"

namespace gpm {

/// The stepper a refinement integrates with.
enum class RefinementIntegrator {
  euler,  ///< first order, one field evaluation per step
  heun    ///< second order, two per step (one on a step that ends at σ = 0)
};

/// Every refinement stepper with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<RefinementIntegrator, std::string_view>, 2> option_names(RefinementIntegrator) {
  return {{{RefinementIntegrator::euler, "euler"}, {RefinementIntegrator::heun, "heun"}}};
}

struct RefinementOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, steps, Range::at_least(0), "K, the integrator's steps (0: no refinement)") = 20;
  /// The field is the one the model was trained with, frozen while the particles move, so refining
  /// far longer than the particles' distance to the data drives them onto the field's fixed points.
  GPM_OPTION(double, time, Range::above(0), "T, the flow time: each step moves a particle by about (T / K) v(x)") = 2.0;
  GPM_OPTION(RefinementIntegrator, integrator, Range::any(), "the stepper: euler or heun") = RefinementIntegrator::euler;
  GPM_OPTIONS_END
};

namespace detail {

/// `f(stepper)` with the stepper `choice` names.
template <class Fn>
decltype(auto) with_refinement_integrator(RefinementIntegrator choice, Fn&& f) {
  switch (choice) {
    case RefinementIntegrator::euler: return f(Euler{});
    case RefinementIntegrator::heun: return f(Heun{});
  }
  throw InvalidArgument(fmt::format("refinement: unknown integrator {}; choose euler or heun", static_cast<int>(choice)));
}

/// The prior of a refinement of given particles: exactly `x`.
inline auto given_particles(torch::Tensor x) {
  return SamplerPrior([x = std::move(x)](int64_t /*n*/) { return x; });
}

/// x.size(0) particles of the particle model (flow, integrator, grid, prior), in x's dtype and on
/// its device, all steps or the first `stop_after`. The model draws from the caller's stream `gen`:
/// at::Generator is a handle, so sharing it makes the model draw from, and advance, that stream.
template <Flow F, Integrator I, TimeGrid G, Prior P>
torch::Tensor sample_refinement(F flow, I integrator, G grid, P prior, const torch::Tensor& x, at::Generator& gen,
                                std::optional<int64_t> stop_after) {
  ParticleModel model(std::move(flow), std::move(integrator), std::move(grid), std::move(prior),
                      ParticleModelOptions().dtype(x.scalar_type()).device(x.device()));
  model.generator() = gen;
  return model.sample(x.size(0), stop_after);
}

}  // namespace detail

/// The particle model PM(flow, integrator, uniform grid t_k = k T / K, prior = x): K steps of the
/// chosen stepper (Euler: x_{k+1} = x_k + (T / K) v(x_k, t_k)), with the flow's averaged weights if
/// it keeps any; `stop_after` k < K takes only the first k steps (early stop). Random steps, if any,
/// draw from `gen`. Returns x unchanged when K = 0.
/// Example: `auto x = refine(gan.flow(), gan.sample(n), RefinementOptions(), gan.generator());`
template <Flow F>
torch::Tensor refine(F& flow, torch::Tensor x, const RefinementOptions& options, at::Generator& gen,
                     std::optional<int64_t> stop_after = std::nullopt) {
  GPM_CHECK(options.steps() >= 0, "refine: steps must be >= 0 (0: no refinement), got {}", options.steps());
  GPM_CHECK(std::isfinite(options.time()) && options.time() > 0, "refine: time must be finite and > 0, got {}",
            options.time());
  check_particles(x, "refine");
  if (options.steps() == 0) {
    GPM_CHECK(!stop_after || *stop_after == 0, "refine: cannot stop after {} steps of a refinement with 0 steps",
              *stop_after);
    return x;
  }
  const UniformGrid grid(UniformGridOptions(options.steps()).end(options.time()));
  return detail::with_refinement_integrator(options.integrator(), [&](auto integrator) {
    return detail::sample_refinement(BorrowedFlow(flow), integrator, grid, detail::given_particles(x), x, gen,
                                     stop_after);
  });
}

/// n samples of an interacting particle model, refined by the flow that trained its generator.
/// Example: `auto x = sample_refined(gan, 2000, RefinementOptions().steps(20).time(2.0));`
template <GeneratorDynamics D, Flow F>
torch::Tensor sample_refined(InteractingParticleModel<D, F>& model, int64_t n, const RefinementOptions& options,
                             std::optional<int64_t> stop_after = std::nullopt) {
  return refine(model.flow(), model.sample(n), options, model.generator(), stop_after);
}

struct DenoisingRefinementOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, steps, Range::at_least(0),
             "K, the steps of the denoiser's probability flow from sigma down to 0 (0: no refinement)") = 10;
  /// Structure finer than about σ_start comes from the denoiser, coarser structure (the modes'
  /// weights) from the particles.
  GPM_OPTION(double, sigma, Range::above(0), "σ_start, the noise added to the particles before denoising them") = 1.0;
  GPM_OPTION(double, sigma_min, Range::above(0), "the Karras grid's smallest non-zero level") = 0.002;
  GPM_OPTION(double, rho, Range::above(0), "ρ of the Karras grid") = 7.0;
  GPM_OPTION(RefinementIntegrator, integrator, Range::any(), "the stepper: heun (EDM's) or euler") =
      RefinementIntegrator::heun;
  GPM_OPTIONS_END
};

/// The particle model PM(ScoreFlow(denoiser), integrator, Karras grid from σ_start down to 0,
/// prior = x + σ_start ε): x noised from `gen`, then K steps (Heun by default) of the probability
/// flow dx/dσ = (x − D(x, σ))/σ; `stop_after` k < K takes only the first k. Returns x unchanged when
/// K = 0 or k = 0, as refine does: stopping before the first step skips the noise too. If the
/// particles are distributed as the data are, x + σ_start ε is distributed as the data noised at
/// σ_start, and the flow carries it back to the data. The grid, σ_start included, is clamped to the
/// denoiser's noise range if it declares one (clamp_to), so the noise matches the first level.
/// Example: `auto x = denoise_refine(edm_denoiser, generated, DenoisingRefinementOptions(), gen);`
template <Denoiser D>
torch::Tensor denoise_refine(const D& denoiser, torch::Tensor x, const DenoisingRefinementOptions& options,
                             at::Generator& gen, std::optional<int64_t> stop_after = std::nullopt) {
  GPM_CHECK(options.steps() >= 0, "denoise_refine: steps must be >= 0 (0: no refinement), got {}", options.steps());
  GPM_CHECK(std::isfinite(options.sigma()) && options.sigma() > options.sigma_min() && options.sigma_min() > 0,
            "denoise_refine: need 0 < sigma_min < sigma (the starting noise level), got sigma_min = {}, sigma = {}",
            options.sigma_min(), options.sigma());
  check_particles(x, "denoise_refine");
  if (options.steps() == 0) {
    GPM_CHECK(!stop_after || *stop_after == 0,
              "denoise_refine: cannot stop after {} steps of a refinement with 0 steps", *stop_after);
    return x;
  }
  if (stop_after && *stop_after == 0) return x;
  const auto levels = clamp_to(
      KarrasGridOptions(options.steps()).sigma_min(options.sigma_min()).sigma_max(options.sigma()).rho(options.rho()),
      denoiser);
  return detail::with_refinement_integrator(options.integrator(), [&](auto integrator) {
    return detail::sample_refinement(ScoreFlow<D>(denoiser), integrator, KarrasGrid(levels),
                                     NoisedPrior(detail::given_particles(x), levels.sigma_max()), x, gen, stop_after);
  });
}

/// n samples of an interacting particle model whose flow is driven by a data denoiser (Score GAN:
/// Perturbed(ScoreDifferenceFlow(D_data, D_φ))), refined along that denoiser's probability flow.
/// Example: `auto x = sample_refined(score_gan, 2000, DenoisingRefinementOptions());`
template <GeneratorDynamics D, Flow F>
  requires requires(F& flow) { flow.flow().data_denoiser(); }
torch::Tensor sample_refined(InteractingParticleModel<D, F>& model, int64_t n, const DenoisingRefinementOptions& options,
                             std::optional<int64_t> stop_after = std::nullopt) {
  return denoise_refine(model.flow().flow().data_denoiser(), model.sample(n), options, model.generator(), stop_after);
}

}  // namespace gpm
