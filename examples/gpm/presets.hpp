// Presets shared by several of the runner's models: the image training settings, the image GAN and
// EDM sized for a CPU, and the small networks of the "quick" presets.
#pragma once

#include <gpm/models/discriminator_flow_model.hpp>
#include <gpm/models/edm.hpp>
#include <gpm/models/gan.hpp>
#include <gpm/models/image_edm.hpp>
#include <gpm/models/image_gan.hpp>

#include "run_config.hpp"

namespace gpm::runner {

/// Training settings of the image presets: images are never standardized (their pixels already lie
/// in [−1, 1]), and evaluations draw fewer samples than on points, each costing a network pass per
/// generation step.
inline TrainSettings image_train_settings(int64_t steps, int64_t batch_size) {
  return TrainSettings().steps(steps).batch_size(batch_size).standardize("never").eval_samples(500);
}

/// The image GAN sized for a CPU: width 16, a 64-dimensional latent.
inline ImageGanOptions cpu_image_gan() {
  return ImageGanOptions()
      .latent_dim(64)
      .generator(ImageGanOptions().generator().width(16))
      .discriminator(ImageGanOptions().discriminator().width(16));
}

/// The image EDM sized for a CPU: a U-Net of 8 channels without dropout, a higher learning rate
/// and a weight average (docs/images.md).
inline ImageEdmOptions cpu_image_edm() {
  return ImageEdmOptions()
      .network(nn::UNetOptions().model_channels(8).embedding_size(64).dropout(0.0))
      .optimizer(AdamOptions().lr(1e-3))
      .weight_average(0.999);
}

/// The EDM of the "quick" presets: a denoiser MLP of width 128 and depth 3.
inline EdmOptions quick_edm() {
  return EdmOptions().network(EdmOptions().network().mlp(EdmOptions().network().mlp().width(128).depth(3)));
}

/// The GAN of the "quick" presets: smaller networks, one discriminator step, a higher learning rate.
inline GanOptions quick_gan() {
  return GanOptions()
      .generator(nn::MlpOptions().width(128).depth(3))
      .discriminator(nn::MlpOptions().width(128).depth(3))
      .generator_optimizer(AdamOptions().lr(5e-4).beta1(0.5))
      .discriminator_optimizer(AdamOptions().lr(5e-4).beta1(0.5))
      .latent_dim(16)
      .discriminator_steps(1);
}

/// The Discriminator Flow of the "quick" presets: a smaller discriminator, 32 generation steps.
inline DiscriminatorFlowModelOptions quick_discriminator_flow() {
  const auto critic = DiscriminatorFlowModelOptions().discriminator();
  return DiscriminatorFlowModelOptions()
      .discriminator(nn::TimeMlpOptions(critic).embedding_size(32).mlp(nn::MlpOptions(critic.mlp()).width(128).depth(3)))
      .generation_steps(32);
}

}  // namespace gpm::runner
