// Score GAN as a composition: a generator whose outputs follow the difference between a frozen
// data score (a trained EDM denoiser) and the score of the generated distribution, learnt online.
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/options.hpp"
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

/// The Score GAN's options. The defaults are the reference's 2-D configuration with the changes
/// measured in docs/results (one D_φ step per generator step at D_φ lr 1e-3, the reference's MNIST
/// ratio; weight average); `reference()` is the reference's configuration itself.
struct ScoreGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, latent_dim, Range::at_least(1), "dimension of the generator's Gaussian latent") = 128;
  GPM_OPTION(nn::MlpOptions, generator, Range::any(), "the generator's MLP (latent → data)") =
      nn::MlpOptions().activation(nn::Activation::relu);
  GPM_OPTION(AdamOptions, generator_optimizer, Range::any(), "the generator's Adam") = AdamOptions();
  GPM_OPTION(double, sigma_min, Range::above(0), "the smallest noise level of the flow and of D_φ's training") = 0.1;
  GPM_OPTION(double, sigma_max, Range::above(0), "the largest noise level of the flow and of D_φ's training") = 10.0;
  GPM_OPTION(double, rho, Range::above(0), "ρ of the noise levels' schedule law") = 3.0;
  GPM_OPTION(int64_t, score_steps, Range::at_least(1), "D_φ updates per generator update (the reference: 10)") = 1;
  GPM_OPTION(nn::TimeMlpOptions, denoiser, Range::any(), "the network of the generated-score denoiser D_φ") =
      nn::TimeMlpOptions().fourier_scale(1.0);
  GPM_OPTION(nn::EdmPreconditioningOptions, denoiser_preconditioning, Range::any(),
             "D_φ's EDM preconditioning: σ_data and its noise range") = nn::EdmPreconditioningOptions().sigma_max(40.0);
  GPM_OPTION(AdamOptions, denoiser_optimizer, Range::any(), "D_φ's Adam (the reference: lr 2e-4)") = AdamOptions().lr(1e-3);
  /// EDM's weight keeps D_φ's small-σ errors from vanishing in the loss.
  GPM_OPTION(bool, edm_weighting, Range::any(),
             "train D_φ with EDM's loss weight (σ² + σ_data²)/(σ σ_data)² (the reference: unweighted)") = false;
  GPM_OPTION(double, data_weight, Range::any(), "α of the field α ∇ log p_data − β ∇ log ρ") = 1.0;
  GPM_OPTION(double, generated_weight, Range::any(), "β of the field α ∇ log p_data − β ∇ log ρ") = 1.0;
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the generator's weight average used for sampling (0: the last iterate)") = 0.999;
  GPM_OPTIONS_END

  /// The reference's 2-D Score GAN: ten D_φ steps per generator step at 2e-4, the last iterate.
  static ScoreGanOptions reference() {
    return ScoreGanOptions().score_steps(10).denoiser_optimizer(AdamOptions().lr(2e-4)).weight_average(0.0);
  }

  /// Placement, not part of a config: the runner sets the seed from its training settings.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Score GAN = Int-PM(generator MLP, Perturbed(ScoreDifferenceFlow(D_data, D_φ), ScheduleSigma))
/// (Franceschi et al. 2023, arXiv:2305.16150, Section 4.1, Algorithm 1). Each train_step is one D_φ
/// step on generated samples, plus a generator step every score_steps iterations.
template <Denoiser DataDenoiser = nn::EdmMlpDenoiser>
using ScoreGan = InteractingParticleModel<Generator<nn::Mlp, torch::optim::Adam>,
                                          Perturbed<ScoreDifferenceFlow<DataDenoiser, nn::EdmMlpDenoiser>, ScheduleSigma>>;

/// Assembles a Score GAN from its generator network, the frozen data denoiser and the untrained
/// denoiser of generated samples; `o` is a ScoreGanOptions or an ImageScoreGanOptions.
template <class GeneratorNet, Denoiser DataDenoiser, Denoiser GeneratedDenoiser, class Options>
InteractingParticleModel<Generator<GeneratorNet, torch::optim::Adam>,
                         Perturbed<ScoreDifferenceFlow<DataDenoiser, GeneratedDenoiser>, ScheduleSigma>>
assemble_score_gan(GeneratorNet generator, DataDenoiser data, GeneratedDenoiser generated, const Options& o) {
  generator->to(o.device());
  const ScheduleSigma schedule(o.sigma_min(), o.sigma_max(), o.rho());
  DenoiserTrainer<GeneratedDenoiser, torch::optim::Adam, ScheduleSigma> generated_trainer(
      std::move(generated), schedule, o.denoiser_optimizer().to_torch(),
      DenoiserTrainerOptions().edm_weighting(o.edm_weighting()).sigma_data(o.denoiser_preconditioning().sigma_data())
          .seed(o.seed() + 2));
  return {Generator<GeneratorNet, torch::optim::Adam>(generator, GaussianPrior(GaussianPriorOptions({o.latent_dim()})),
                                                      o.generator_optimizer().to_torch(),
                                                      GeneratorOptions().weight_average(o.weight_average())),
          Perturbed(ScoreDifferenceFlow<DataDenoiser, GeneratedDenoiser>(
                        std::move(data), std::move(generated_trainer),
                        ScoreDifferenceFlowOptions().data_weight(o.data_weight()).generated_weight(o.generated_weight())),
                    schedule, PerturbedOptions().seed(o.seed() + 3).device(o.device())),
          InteractingParticleModelOptions().flow_steps_per_generator_step(o.score_steps()).seed(o.seed()).device(o.device())};
}

/// A Score GAN for data of `dim` coordinates, driven by the (frozen) data denoiser `data`, for
/// example a trained EDM's `copy_sampling_denoiser(edm, dim, options)` or an exact GaussianMixtureDenoiser.
template <Denoiser DataDenoiser>
ScoreGan<DataDenoiser> make_score_gan(int64_t dim, DataDenoiser data, const ScoreGanOptions& o = {}) {
  const ScopedGlobalSeed seed(o.seed());
  nn::Mlp generator(nn::MlpOptions(o.generator()).in(o.latent_dim()).out(dim));
  return assemble_score_gan(generator, std::move(data),
                            make_edm_mlp_denoiser(dim, o.denoiser(), o.denoiser_preconditioning(), o.seed() + 1, o.device()), o);
}

}  // namespace gpm
