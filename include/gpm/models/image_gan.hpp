// The GAN on images: the same composition as gpm::Gan with the reference's DCGAN generator and
// discriminator in place of the MLPs. Particles are flat images [N, C·H·W].
#pragma once

#include <torch/arg.h>
#include <torch/optim/adam.h>

#include "gpm/core/adam_options.hpp"
#include "gpm/core/image_shape.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/priors.hpp"
#include "gpm/core/random.hpp"
#include "gpm/flows/discriminator_flow.hpp"
#include "gpm/generators/generator.hpp"
#include "gpm/losses/gan_losses.hpp"
#include "gpm/models/interacting_particle_model.hpp"
#include "gpm/nn/dcgan.hpp"
#include "gpm/nn/init.hpp"

namespace gpm {

/// The image GAN's options. The defaults are the reference's MNIST configuration (DCGAN width 64
/// with batch norm in both networks, latent 128, Adam 2e-4 with β₁ 0.5, one discriminator step).
struct ImageGanOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, latent_dim, Range::at_least(1), "dimension of the generator's Gaussian latent") = 128;
  GPM_OPTION(nn::DcganGeneratorOptions, generator, Range::any(), "the generator (latent → image)") = {};
  GPM_OPTION(nn::DcganDiscriminatorOptions, discriminator, Range::any(), "the discriminator (image → logit)") =
      nn::DcganDiscriminatorOptions().batch_norm(true).first_bias(false);
  GPM_OPTION(double, init_std, Range::above(0), "initial weights N(0, init_std²) of both networks, zero biases") = 0.02;
  GPM_OPTION(AdamOptions, generator_optimizer, Range::any(), "the generator's Adam") = AdamOptions().beta1(0.5);
  GPM_OPTION(AdamOptions, discriminator_optimizer, Range::any(), "the discriminator's Adam") = AdamOptions().beta1(0.5);
  GPM_OPTION(int64_t, discriminator_steps, Range::at_least(1), "discriminator updates per generator update") = 1;
  GPM_OPTION(GradientPenaltyOptions, penalty, Range::any(), "gradient penalty on the discriminator (the reference: none)") =
      GradientPenaltyOptions();
  GPM_OPTION(double, weight_average, Range::from_below(0, 1),
             "decay of the generator's weight average used for sampling (0: the last iterate)") = 0.0;
  GPM_OPTIONS_END

  /// The reference's MNIST GAN.
  static ImageGanOptions reference() { return ImageGanOptions(); }

  /// Placement, not part of a config.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// Image GAN = Int-PM(DCGAN generator, DiscriminatorFlow(DCGAN discriminator, loss)).
template <GanLoss Loss = NonSaturatingLoss>
using ImageGan = InteractingParticleModel<Generator<nn::DcganGenerator, torch::optim::Adam>,
                                          DiscriminatorFlow<nn::DcganDiscriminator, Loss>>;

/// A GAN for images of shape `image` (32×32 or 64×64). Example: `auto gan = make_image_gan({1, 32, 32});`
template <GanLoss Loss = NonSaturatingLoss>
ImageGan<Loss> make_image_gan(ImageShape image, const ImageGanOptions& o = {}, Loss loss = {}) {
  const ScopedGlobalSeed seed(o.seed());
  nn::DcganGenerator generator(nn::DcganGeneratorOptions(o.generator()).latent(o.latent_dim()).image(image).seed(o.seed()));
  nn::DcganDiscriminator discriminator(
      nn::DcganDiscriminatorOptions(o.discriminator()).image(image).out(1).seed(o.seed() + 2));
  nn::init_normal(*generator, o.init_std());
  nn::init_normal(*discriminator, o.init_std());
  generator->to(o.device());
  discriminator->to(o.device());
  return ImageGan<Loss>(
      Generator<nn::DcganGenerator, torch::optim::Adam>(generator, GaussianPrior(GaussianPriorOptions({o.latent_dim()})),
                                                        o.generator_optimizer().to_torch(),
                                                        GeneratorOptions().weight_average(o.weight_average())),
      DiscriminatorFlow<nn::DcganDiscriminator, Loss>(discriminator, std::move(loss), o.discriminator_optimizer().to_torch(),
                                                      DiscriminatorFlowOptions().penalty(o.penalty()).seed(o.seed() + 1)),
      InteractingParticleModelOptions().flow_steps_per_generator_step(o.discriminator_steps()).seed(o.seed()).device(o.device()));
}

}  // namespace gpm
