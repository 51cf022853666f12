// EDM as a composition: a preconditioned denoiser (a time-conditioned MLP, or a U-Net for images),
// trained on data, whose probability flow is sampled with Heun on a Karras grid. Reference 2-D
// configuration as defaults.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/time_grids.hpp"
#include "gpm/flows/denoising_score_flow.hpp"
#include "gpm/integrators/annealed_langevin.hpp"
#include "gpm/integrators/consistent_annealed.hpp"
#include "gpm/integrators/edm_stochastic.hpp"
#include "gpm/integrators/euler.hpp"
#include "gpm/integrators/euler_maruyama.hpp"
#include "gpm/integrators/heun.hpp"
#include "gpm/losses/noise_levels.hpp"
#include "gpm/models/particle_model.hpp"
#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/time_mlp.hpp"
#include "gpm/nn/unet.hpp"

namespace gpm {

/// EDM's options. The defaults are the reference's 2-D configuration with the changes measured in
/// docs/results (Fourier features of the input, embedding scale 1, lr 1e-3, weight average);
/// `reference()` is the reference's configuration itself.
struct EdmOptions {
  GPM_OPTIONS_BEGIN
  /// The reference's embedding scale 16 changes the embedding within 10 % of σ, so the network
  /// learns each noise band apart; 1 shares what it learns across σ: as good on the ring, sharper
  /// on the grid. The input features are of c_in x.
  GPM_OPTION(nn::TimeMlpOptions, network, Range::any(),
             "the denoiser's network F(c_in x, c_noise), c_noise = ln σ / 4 (the reference: no input features, fourier_scale 16)") =
      nn::TimeMlpOptions().mlp(nn::MlpOptions().input_features(128)).fourier_scale(1.0);
  GPM_OPTION(nn::EdmPreconditioningOptions, preconditioning, Range::any(),
             "σ_data and the noise range [σ_min, σ_max] of the denoiser; the sampler starts at σ_max") =
      nn::EdmPreconditioningOptions().sigma_max(40.0);
  GPM_OPTION(double, p_mean, Range::any(), "training noise levels: ln σ ~ N(p_mean, p_std²)") = -1.2;
  GPM_OPTION(double, p_std, Range::above(0), "training noise levels: ln σ ~ N(p_mean, p_std²)") = 1.2;
  GPM_OPTION(AdamOptions, optimizer, Range::any(), "the denoiser's Adam (the reference: lr 2e-4)") = AdamOptions().lr(1e-3);
  GPM_OPTION(int64_t, sampling_steps, Range::at_least(1), "N, the steps of the Karras grid the sampler takes") = 28;
  GPM_OPTION(double, rho, Range::above(0), "ρ, the exponent of the Karras grid") = 7.0;
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the denoiser's weight average used for sampling (0: the last iterate)") = 0.999;
  GPM_OPTIONS_END

  /// The reference's 2-D EDM: embedding scale 16, no input features, lr 2e-4, the last iterate.
  static EdmOptions reference() {
    return EdmOptions().network(nn::TimeMlpOptions().fourier_scale(16.0)).optimizer(AdamOptions().lr(2e-4)).weight_average(0.0);
  }

  /// Placement, not part of a config: the runner sets the seed from its training settings.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// How an EDM samples: its own Heun steps, or another stepper over the same Karras grid.
enum class EdmSampler {
  heun,   ///< deterministic, second order (EDM's Algorithm 1)
  euler,  ///< the probability flow, first order
  sde,    ///< Euler–Maruyama on the reverse SDE
  churn,  ///< EDM's stochastic Heun (Algorithm 2)
  als,    ///< annealed Langevin on geometric noise levels
  cas     ///< consistent annealed sampling on geometric noise levels
};

/// Every EDM sampler with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<EdmSampler, std::string_view>, 6> option_names(EdmSampler) {
  return {{{EdmSampler::heun, "heun"}, {EdmSampler::euler, "euler"}, {EdmSampler::sde, "sde"}, {EdmSampler::churn, "churn"},
           {EdmSampler::als, "als"}, {EdmSampler::cas, "cas"}}};
}

struct EdmSamplerOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(EdmSampler, sampler, Range::any(), "the stepper that samples: heun, euler, sde, churn, als or cas") = EdmSampler::heun;
  GPM_OPTION(EdmStochasticOptions, churn, Range::any(), "the churn sampler's settings (EDM's 2-D values)") =
      EdmStochasticOptions().s_churn(40.0).s_min(0.05).s_max(50.0);
  GPM_OPTION(int64_t, annealed_levels, Range::at_least(2),
             "als and cas: geometric noise levels from the grid's σ_max to its σ_min, then a denoising step") = 56;
  GPM_OPTION(AnnealedLangevinOptions, als, Range::any(), "annealed Langevin's settings") = {};
  GPM_OPTION(ConsistentAnnealedOptions, cas, Range::any(), "consistent annealed sampling's settings") = {};
  GPM_OPTIONS_END
};

/// EDM = PM(DenoisingScoreFlow(preconditioned denoiser), Heun, Karras grid, N(0, σ_max² I))
/// (Karras et al. 2022, arXiv:2206.00364). train_step(real) is one denoiser step on data;
/// sample(n, k) integrates the probability flow, stopping after k of N steps if asked.
/// EdmWith<Net> is that composition around any preconditioned denoiser network (the image EDM's
/// U-Net: gpm/models/image_edm.hpp); Edm is the one around a TimeMlp.
template <Denoiser Net, Integrator I = Heun>
using EdmWith = ParticleModel<DenoisingScoreFlow<Net>, I, KarrasGrid, GaussianPrior>;
template <Integrator I = Heun>
using Edm = EdmWith<nn::EdmMlpDenoiser, I>;

/// An EDM denoiser for data of `dim` coordinates: a TimeMlp `network` (its embedding drawn from
/// `seed`) preconditioned by `preconditioning`, initialised reproducibly from the seed.
inline nn::EdmMlpDenoiser make_edm_mlp_denoiser(int64_t dim, const nn::TimeMlpOptions& network,
                                                const nn::EdmPreconditioningOptions& preconditioning, uint64_t seed,
                                                torch::Device device = torch::kCPU) {
  const ScopedGlobalSeed scoped(seed);
  nn::EdmMlpDenoiser net(nn::TimeMlp(nn::TimeMlpOptions(network).in(dim).out(dim).seed(seed)), preconditioning);
  net->to(device);
  return net;
}

/// An EDM denoiser for images of shape `image` (particles [N, C·H·W]): a UNet `network` (a
/// Fourier embedding drawn from `seed`) preconditioned by `preconditioning`, initialised
/// reproducibly from the seed.
/// Example: `auto d = make_edm_unet_denoiser({1, 32, 32}, nn::UNetOptions(), nn::EdmPreconditioningOptions(), 0);`
inline nn::EdmUNetDenoiser make_edm_unet_denoiser(ImageShape image, const nn::UNetOptions& network,
                                                  const nn::EdmPreconditioningOptions& preconditioning, uint64_t seed,
                                                  torch::Device device = torch::kCPU) {
  const ScopedGlobalSeed scoped(seed);
  nn::EdmUNetDenoiser net(nn::UNet(nn::UNetOptions(network).image(image).seed(seed)), preconditioning);
  net->to(device);
  return net;
}

/// The denoiser of an EDM made with options `o` for data of `dim` coordinates.
inline nn::EdmMlpDenoiser make_edm_mlp_denoiser(int64_t dim, const EdmOptions& o) {
  return make_edm_mlp_denoiser(dim, o.network(), o.preconditioning(), o.seed(), o.device());
}

/// A separate copy of the denoiser `edm` samples with (its weight average, if it keeps one), written
/// into `copy`, a denoiser of the same architecture, which is returned. `edm` is any model sampled
/// as EDM is: a particle model on a Karras grid from a Gaussian prior whose flow has the denoiser as
/// `net()` (EdmWith, and the adversarial EDM of gpm/models/adversarial_edm.hpp).
template <class F, Integrator I, Denoiser Net>
Net copy_sampling_denoiser_into(ParticleModel<F, I, KarrasGrid, GaussianPrior>& edm, Net copy) {
  const auto weights = edm.flow().averaged_weights();
  copy_weights(*edm.flow().net(), *copy);
  return copy;
}

/// A separate copy of the denoiser `edm` samples with (its weight average, if it keeps one), for
/// example the frozen data denoiser of a Score GAN. `dim` and `o` are those the EDM was made with.
/// Example: `auto sgan = make_score_gan(2, copy_sampling_denoiser(edm, 2, edm_options));`
template <Integrator I>
nn::EdmMlpDenoiser copy_sampling_denoiser(Edm<I>& edm, int64_t dim, const EdmOptions& o) {
  return copy_sampling_denoiser_into(edm, make_edm_mlp_denoiser(dim, o));
}

/// The EDM around the denoiser `net` for particles of `dim` coordinates, with the training, grid and
/// averaging fields of `o` (EdmOptions or ImageEdmOptions); its grid and prior are clamped to the
/// denoiser's noise range (clamp_to).
template <Denoiser Net, class O, Integrator I = Heun>
EdmWith<Net, I> make_edm_around(Net net, int64_t dim, const O& o, I integrator = {}) {
  DenoiserTrainer<Net, torch::optim::Adam, LogNormalSigma> trainer(
      net, LogNormalSigma(o.p_mean(), o.p_std()), o.optimizer().to_torch(),
      DenoiserTrainerOptions().sigma_data(o.preconditioning().sigma_data()).seed(o.seed() + 1).weight_average(o.weight_average()));
  const auto grid = clamp_to(KarrasGridOptions(o.sampling_steps()).sigma_min(o.preconditioning().sigma_min())
                                 .sigma_max(o.preconditioning().sigma_max()).rho(o.rho()), net);
  return EdmWith<Net, I>(DenoisingScoreFlow<Net>(std::move(trainer)), std::move(integrator), KarrasGrid(grid),
                         GaussianPrior(GaussianPriorOptions({dim}).std(grid.sigma_max())),
                         ParticleModelOptions().seed(o.seed()).device(o.device()));
}

/// An EDM for data of `dim` coordinates; its grid and prior are clamped to the denoiser's noise
/// range (clamp_to). Example: `auto edm = make_edm(2);` then `edm.train_step(batch)`.
template <Integrator I = Heun>
Edm<I> make_edm(int64_t dim, const EdmOptions& o = {}, I integrator = {}) {
  return make_edm_around(make_edm_mlp_denoiser(dim, o), dim, o, std::move(integrator));
}

/// n samples of `edm` with the stepper `sampler` names, all N steps or the first `steps`.
/// The noise levels of EDM's annealed samplers: `annealed_levels` geometric levels from the first
/// to the last positive level of the model's Karras grid (its σ_max and σ_min), then 0.
template <class F, Integrator I>
std::vector<double> annealed_levels(const ParticleModel<F, I, KarrasGrid, GaussianPrior>& edm, const EdmSamplerOptions& sampler) {
  const auto levels = edm.grid().times();
  const double sigma_max = levels.front(), sigma_min = levels[levels.size() - 2];
  GPM_CHECK(sigma_min < sigma_max, "sample_edm: the annealed samplers need a grid of at least 2 noise levels; this EDM's "
            "Karras grid has {} step(s): raise sampling_steps", edm.grid().steps());
  return GeometricGrid(GeometricGridOptions(sampler.annealed_levels() - 1, sigma_max, sigma_min).final_zero(true)).times();
}

/// `edm` is any model sampled as EDM is (see copy_sampling_denoiser_into).
/// Example: `auto x = sample_edm(edm, 2000, EdmSamplerOptions().sampler(EdmSampler::churn));`
template <class F, Integrator I>
torch::Tensor sample_edm(ParticleModel<F, I, KarrasGrid, GaussianPrior>& edm, int64_t n, const EdmSamplerOptions& sampler,
                         std::optional<int64_t> steps = std::nullopt) {
  switch (sampler.sampler()) {
    case EdmSampler::heun: {
      Heun heun;
      return edm.sample_with(heun, n, steps);
    }
    case EdmSampler::euler: {
      Euler euler;
      return edm.sample_with(euler, n, steps);
    }
    case EdmSampler::sde: {
      EulerMaruyama<EdmDiffusion> sde(EdmDiffusion{}, EulerMaruyamaOptions().drift_scale(2.0));
      return edm.sample_with(sde, n, steps);
    }
    case EdmSampler::churn: {
      EdmStochastic churn(sampler.churn());
      return edm.sample_with(churn, n, steps);
    }
    case EdmSampler::als:
      return edm.sample_with(AnnealedLangevin(sampler.als()), annealed_levels(edm, sampler), n, steps);
    case EdmSampler::cas:
      return edm.sample_with(ConsistentAnnealed(sampler.cas()), annealed_levels(edm, sampler), n, steps);
  }
  throw InvalidArgument("sample_edm: unknown sampler");
}

}  // namespace gpm
