// The Discriminator Flow on images: the same composition as gpm::DiscriminatorFlowModel with the
// reference's DCGAN critic, its blocks modulated by FiLM of the time embedding. Particles are flat
// images [N, C·H·W].
#pragma once

#include <cmath>

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/time_grids.hpp"
#include "gpm/flows/discriminator_flow.hpp"
#include "gpm/integrators/euler_maruyama.hpp"
#include "gpm/losses/gan_losses.hpp"
#include "gpm/models/particle_model.hpp"
#include "gpm/nn/dcgan.hpp"
#include "gpm/nn/init.hpp"

namespace gpm {

/// The image Discriminator Flow's options. The defaults are the reference's MNIST configuration
/// (DCGAN critic width 64 without batch norm, Fourier time embedding 128, orthogonal init with gain
/// 1.41, N = 64 Euler steps with η = 2, a penalty 0.04 · (‖∇f‖ − 0)² at interpolates, Adam 2e-4
/// with β₁ 0.5; the runner's image presets pair it with the IPM loss, as the reference).
struct ImageDiscriminatorFlowOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(nn::DcganTimeDiscriminatorOptions, discriminator, Range::any(),
             "the time-conditioned critic f(x, t), t in [0, 1]") = {};
  GPM_OPTION(nn::Init, init, Range::any(), "the critic's initialisation") = nn::Init::orthogonal;
  GPM_OPTION(double, init_scale, Range::above(0), "the gain of orthogonal, the std of normal initialisation") = 1.41;
  GPM_OPTION(int64_t, generation_steps, Range::at_least(1), "N, the Euler steps of the flow on [0, 1]") = 64;
  GPM_OPTION(double, eta, Range::above(0), "η, the gradient strength: v = −η ∇ₓ c(f(x, t))") = 2.0;
  GPM_OPTION(double, entropy_reg, Range::at_least(0),
             "λ_e: Brownian noise √(λ_e / N) ξ on every step but the last (0: the plain Euler flow)") = 0.0;
  GPM_OPTION(double, prior_std, Range::above(0), "the prior N(0, prior_std² I)") = 1.0;
  GPM_OPTION(AdamOptions, optimizer, Range::any(), "the critic's Adam") = AdamOptions().beta1(0.5);
  GPM_OPTION(GradientPenaltyOptions, penalty, Range::any(), "gradient penalty on the critic") =
      GradientPenaltyOptions().weight(0.04).center(0.0);
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the critic's weight average used for sampling (0: the last iterate)") = 0.0;
  GPM_OPTIONS_END

  /// The reference's MNIST Discriminator Flow.
  static ImageDiscriminatorFlowOptions reference() { return ImageDiscriminatorFlowOptions(); }

  /// Placement, not part of a config.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Image Discriminator Flow = PM(DiscriminatorFlow(FiLM-conditioned DCGAN critic, loss),
/// Euler–Maruyama with constant noise √λ_e, N steps on [0, 1], N(0, prior_std² I)).
template <GanLoss Loss = IpmLoss>
using ImageDiscriminatorFlow = ParticleModel<DiscriminatorFlow<nn::DcganTimeDiscriminator, Loss>,
                                             EulerMaruyama<ConstantDiffusion>, UniformGrid, GaussianPrior>;

/// A Discriminator Flow for images of shape `image`. Example: `auto df = make_image_discriminator_flow({1, 32, 32});`
template <GanLoss Loss = IpmLoss>
ImageDiscriminatorFlow<Loss> make_image_discriminator_flow(ImageShape image, const ImageDiscriminatorFlowOptions& o = {},
                                                           Loss loss = {}) {
  GPM_CHECK(o.entropy_reg() >= 0 && std::isfinite(o.entropy_reg()),
            "make_image_discriminator_flow: entropy_reg must be finite and >= 0, got {}", o.entropy_reg());
  const ScopedGlobalSeed seed(o.seed());
  nn::DcganTimeDiscriminator net(nn::DcganTimeDiscriminatorOptions(o.discriminator()).image(image).out(1).seed(o.seed()));
  nn::init_module(*net, o.init(), o.init_scale());
  net->to(o.device());
  return ImageDiscriminatorFlow<Loss>(
      DiscriminatorFlow<nn::DcganTimeDiscriminator, Loss>(
          net, std::move(loss), o.optimizer().to_torch(),
          DiscriminatorFlowOptions().eta(o.eta()).penalty(o.penalty()).seed(o.seed() + 1).weight_average(o.weight_average())),
      EulerMaruyama(ConstantDiffusion(std::sqrt(o.entropy_reg()))), UniformGrid(UniformGridOptions(o.generation_steps())),
      GaussianPrior(GaussianPriorOptions({image.numel()}).std(o.prior_std())),
      ParticleModelOptions().seed(o.seed()).device(o.device()));
}

}  // namespace gpm
