// f-divergence gradient flows with a trained discriminator, as a particle model (the Discriminator
// Flow's composition) and with a generator (the GAN's): only the loss differs.
#pragma once

#include <torch/arg.h>

#include "gpm/core/options.hpp"
#include "gpm/losses/f_divergence.hpp"
#include "gpm/models/discriminator_flow_model.hpp"
#include "gpm/models/gan.hpp"

namespace gpm {

/// The f-divergence flow as a particle model: the divergence, and the Discriminator Flow it runs on
/// (its `entropy_reg` adds the entropy term λ ∫ρ log ρ as Brownian noise). The gradient strength is
/// η = 5, not the Discriminator Flow's 20, at which χ² diverges (docs/extensions.md).
struct FDivergenceFlowOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(FDivergence, divergence, Range::any(), "the divergence D_f(ρ ‖ p_data) the particles descend") = FDivergence::kl;
  GPM_OPTION(DiscriminatorFlowModelOptions, flow, Range::any(),
             "the time-dependent logistic discriminator, its integration and prior (η = 5)") =
      DiscriminatorFlowModelOptions().eta(5.0);
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// The f-divergence flow with a generator: the divergence, and the GAN whose generator follows it.
struct FDivergenceGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(FDivergence, divergence, Range::any(), "the divergence D_f(ρ ‖ p_data) the generator's samples descend") =
      FDivergence::kl;
  GPM_OPTION(GanOptions, gan, Range::any(), "the generator, the logistic discriminator and their training") = {};
  GPM_OPTIONS_END

  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// PM(DiscriminatorFlow(time-conditioned MLP, FDivergenceLoss), Euler–Maruyama, uniform grid, prior).
using FDivergenceFlowModel = DiscriminatorFlowModel<FDivergenceLoss>;
/// Int-PM(generator MLP, DiscriminatorFlow(MLP, FDivergenceLoss)).
using FDivergenceGan = Gan<FDivergenceLoss>;

/// Example: `auto flow = make_f_divergence_flow(2, FDivergenceFlowOptions().divergence(FDivergence::chi_squared));`
inline FDivergenceFlowModel make_f_divergence_flow(int64_t dim, const FDivergenceFlowOptions& o = {}) {
  return make_discriminator_flow(dim, DiscriminatorFlowModelOptions(o.flow()).seed(o.seed()).device(o.device()),
                                 FDivergenceLoss(o.divergence()));
}

/// Example: `auto gan = make_f_divergence_gan(2, FDivergenceGanOptions().divergence(FDivergence::reverse_kl));`
inline FDivergenceGan make_f_divergence_gan(int64_t dim, const FDivergenceGanOptions& o = {}) {
  return make_gan(dim, GanOptions(o.gan()).seed(o.seed()).device(o.device()), FDivergenceLoss(o.divergence()));
}

}  // namespace gpm
