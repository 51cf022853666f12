// EDM as a composition: a preconditioned time-conditioned MLP denoiser, trained on data, whose
// probability flow is sampled with Heun on a Karras grid. Reference 2-D configuration as defaults.
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/time_grids.hpp"
#include "gpm/flows/denoising_score_flow.hpp"
#include "gpm/integrators/heun.hpp"
#include "gpm/losses/noise_levels.hpp"
#include "gpm/models/particle_model.hpp"
#include "gpm/nn/edm_preconditioning.hpp"
#include "gpm/nn/time_mlp.hpp"

namespace gpm {

struct EdmOptions {
  TORCH_ARG(int64_t, width) = 512;
  TORCH_ARG(int64_t, depth) = 4;
  TORCH_ARG(int64_t, embedding_size) = 128;
  /// Standard deviation of the Fourier embedding's frequencies (of c_noise = ln σ / 4). The
  /// reference's 16 changes the embedding within 10 % of σ, so the network learns each noise band
  /// apart; 1 shares what it learns across σ: as good on the ring, sharper on the grid (docs/models.md).
  TORCH_ARG(double, fourier_scale) = 1.0;
  /// Random Fourier features of the network's input c_in x joined to it (0: none, the reference),
  /// and the standard deviation of their angular frequencies (radians per unit of c_in x); see nn::TimeMlp.
  TORCH_ARG(int64_t, input_features) = 0;
  TORCH_ARG(double, input_feature_scale) = 1.0;
  TORCH_ARG(double, sigma_data) = 0.5;
  TORCH_ARG(double, sigma_min) = 0.002;
  TORCH_ARG(double, sigma_max) = 40.0;
  /// Training noise levels: ln σ ~ N(p_mean, p_std²).
  TORCH_ARG(double, p_mean) = -1.2;
  TORCH_ARG(double, p_std) = 1.2;
  /// 1e-3: as good as the reference's 2e-4 on the ring, better on sharper mixtures (docs/models.md).
  TORCH_ARG(double, lr) = 1e-3;
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  /// Sampling: N steps of the Karras schedule with exponent ρ.
  TORCH_ARG(int64_t, sampling_steps) = 28;
  TORCH_ARG(double, rho) = 7.0;
  /// Decay of the denoiser's weight average used for sampling (0: sample with the last iterate).
  /// 0.999 measured better than none on the 2-D ring (docs/models.md), as in the official EDM.
  TORCH_ARG(double, weight_average) = 0.999;
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// EDM = PM(DenoisingScoreFlow(preconditioned denoiser), Heun, Karras grid, N(0, σ_max² I))
/// (Karras et al. 2022, arXiv:2206.00364). train_step(real) is one denoiser step on data;
/// sample(n, k) integrates the probability flow, stopping after k of N steps if asked.
template <Integrator I = Heun>
using Edm = ParticleModel<DenoisingScoreFlow<nn::EdmMlpDenoiser>, I, KarrasGrid, GaussianPrior>;

/// The denoiser of an EDM for data of `dim` coordinates, initialised reproducibly from the seed.
inline nn::EdmMlpDenoiser make_edm_mlp_denoiser(int64_t dim, const EdmOptions& o) {
  const ScopedGlobalSeed seed(o.seed());
  nn::EdmMlpDenoiser net(nn::TimeMlp(nn::TimeMlpOptions(dim, dim).width(o.width()).depth(o.depth())
                             .embedding_size(o.embedding_size()).fourier_scale(o.fourier_scale())
                             .input_features(o.input_features()).input_feature_scale(o.input_feature_scale()).seed(o.seed())),
             nn::EdmPreconditioningOptions().sigma_data(o.sigma_data()).sigma_min(o.sigma_min()).sigma_max(o.sigma_max()));
  net->to(o.device());
  return net;
}

/// A separate copy of the denoiser `edm` samples with (its weight average, if it keeps one), for
/// example the frozen data denoiser of a Score GAN. `dim` and `o` are those the EDM was made with.
/// Example: `auto sgan = make_score_gan(2, copy_sampling_denoiser(edm, 2, edm_options));`
template <Integrator I>
nn::EdmMlpDenoiser copy_sampling_denoiser(Edm<I>& edm, int64_t dim, const EdmOptions& o) {
  auto copy = make_edm_mlp_denoiser(dim, o);
  const auto weights = edm.flow().averaged_weights();
  copy_weights(*edm.flow().net(), *copy);
  return copy;
}

/// An EDM for data of `dim` coordinates; its grid and prior are clamped to the denoiser's noise
/// range (clamp_to). Example: `auto edm = make_edm(2);` then `edm.train_step(batch)`.
template <Integrator I = Heun>
Edm<I> make_edm(int64_t dim, const EdmOptions& o = {}, I integrator = {}) {
  auto net = make_edm_mlp_denoiser(dim, o);
  DenoiserTrainer<nn::EdmMlpDenoiser, torch::optim::Adam, LogNormalSigma> trainer(
      net, LogNormalSigma(o.p_mean(), o.p_std()), torch::optim::AdamOptions(o.lr()).betas({o.beta1(), o.beta2()}),
      DenoiserTrainerOptions().sigma_data(o.sigma_data()).seed(o.seed() + 1).weight_average(o.weight_average()));
  const auto grid = clamp_to(KarrasGridOptions(o.sampling_steps()).sigma_min(o.sigma_min()).sigma_max(o.sigma_max()).rho(o.rho()), net);
  return Edm<I>(DenoisingScoreFlow<nn::EdmMlpDenoiser>(std::move(trainer)), std::move(integrator), KarrasGrid(grid),
                GaussianPrior(GaussianPriorOptions({dim}).std(grid.sigma_max())),
                ParticleModelOptions().seed(o.seed()).device(o.device()));
}

}  // namespace gpm
