// Score GAN as a composition: a generator whose outputs follow the difference between a frozen
// data score (a trained EDM denoiser) and the score of the generated distribution, learnt online.
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/flows/perturbed.hpp"
#include "gpm/flows/score_difference_flow.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/losses/noise_levels.hpp"
#include "gpm/models/edm.hpp"
#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/nn/mlp.hpp"

namespace gpm {

struct ScoreGanOptions {
  TORCH_ARG(int64_t, latent_dim) = 128;
  TORCH_ARG(int64_t, width) = 512;
  TORCH_ARG(int64_t, depth) = 4;
  /// BatchNorm1d at the start of each of the generator's hidden blocks (the reference has none).
  TORCH_ARG(bool, generator_batch_norm) = false;
  /// Noise levels of the flow and of D_φ's training: Score GAN's schedule law (σ_min, σ_max, ρ).
  TORCH_ARG(double, sigma_min) = 0.1;
  TORCH_ARG(double, sigma_max) = 10.0;
  TORCH_ARG(double, rho) = 3.0;
  /// D_φ updates per generator update (n_score).
  TORCH_ARG(int64_t, score_steps) = 10;
  TORCH_ARG(double, score_lr) = 2e-4;
  /// Train D_φ with EDM's loss weight λ(σ) = (σ² + σ_data²)/(σ σ_data)², which keeps its small-σ
  /// errors from vanishing in the loss; the reference trains it unweighted (false).
  TORCH_ARG(bool, edm_weighting) = false;
  TORCH_ARG(double, generator_lr) = 2e-4;
  /// α and β of the field α ∇ log p_data − β ∇ log ρ.
  TORCH_ARG(double, data_weight) = 1.0;
  TORCH_ARG(double, generated_weight) = 1.0;
  /// Decay of the generator's weight average used for sampling (0: sample with the last iterate).
  /// 0.999 measured better than none on the 2-D ring (docs/models.md).
  TORCH_ARG(double, weight_average) = 0.999;
  /// The generated-score denoiser D_φ has EDM's architecture and preconditioning.
  TORCH_ARG(EdmOptions, denoiser) = EdmOptions();
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Score GAN = Int-PM(generator MLP, Perturbed(ScoreDifferenceFlow(D_data, D_φ), ScheduleSigma))
/// (Franceschi et al. 2023, arXiv:2305.16150, Section 4.1, Algorithm 1). Each train_step is one D_φ
/// step on generated samples, plus a generator step every score_steps iterations.
template <Denoiser DataDenoiser = nn::EdmMlpDenoiser>
using ScoreGan = InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>,
                                          Perturbed<ScoreDifferenceFlow<DataDenoiser, nn::EdmMlpDenoiser>, ScheduleSigma>>;

/// A Score GAN for data of `dim` coordinates, driven by the (frozen) data denoiser `data`, for
/// example a trained EDM's `copy_sampling_denoiser(edm, dim, options)` or an exact GaussianMixtureDenoiser.
template <Denoiser DataDenoiser>
ScoreGan<DataDenoiser> make_score_gan(int64_t dim, DataDenoiser data, const ScoreGanOptions& o = {}) {
  const ScopedGlobalSeed seed(o.seed());
  nn::Mlp generator(nn::MlpOptions(o.latent_dim(), dim).width(o.width()).depth(o.depth()).activation(nn::Activation::relu)
                        .batch_norm(o.generator_batch_norm()));
  generator->to(o.device());
  const auto denoiser_options = EdmOptions(o.denoiser()).seed(o.seed() + 1).device(o.device());
  const ScheduleSigma schedule(o.sigma_min(), o.sigma_max(), o.rho());
  DenoiserTrainer<nn::EdmMlpDenoiser, torch::optim::Adam, ScheduleSigma> generated(
      make_edm_mlp_denoiser(dim, denoiser_options), schedule, torch::optim::AdamOptions(o.score_lr()),
      DenoiserTrainerOptions().edm_weighting(o.edm_weighting()).sigma_data(denoiser_options.sigma_data()).seed(o.seed() + 2));
  return ScoreGan<DataDenoiser>(
      Generator<nn::Mlp, torch::optim::Adam>(generator, GaussianPrior(GaussianPriorOptions({o.latent_dim()})),
                                             torch::optim::AdamOptions(o.generator_lr()),
                                             GeneratorOptions().weight_average(o.weight_average())),
      Perturbed(ScoreDifferenceFlow<DataDenoiser, nn::EdmMlpDenoiser>(
                    std::move(data), std::move(generated),
                    ScoreDifferenceFlowOptions().data_weight(o.data_weight()).generated_weight(o.generated_weight())),
                schedule, PerturbedOptions().seed(o.seed() + 3).device(o.device())),
      InteractingParticleModelOptions().flow_steps_per_generator_step(o.score_steps()).seed(o.seed()).device(o.device()));
}

}  // namespace gpm
