// Cookbook: two extensions at once, one on each side of a GAN — the discriminator sees data and
// samples through Diffusion-GAN's adaptive forward diffusion, and the generator trains on latents
// moved uphill on the discriminator's logit (LOGAN).
// Usage: cookbook_diffusion_logan_gan [figure directory]. Exits 1 when the samples miss the ring.
#include "cookbook.hpp"

int main(int argc, char** argv) {
  gpm::configure_cpu_runtime();
  auto data_gen = gpm::make_generator(1);
  // [recipe]
  // The small GAN around a time-conditioned discriminator (the diffusion step is its time).
  const gpm::GanOptions options = cookbook::small_gan();
  auto gan = gpm::make_gan_around(2, options, [](const gpm::nn::MlpOptions& mlp) {
    return gpm::nn::TimeMlp(gpm::nn::TimeMlpOptions(2, 1).mlp(mlp).embedding_size(16));
  });
  // The generator network, wrapped by the latent step on the discriminator's logit at clean inputs.
  gpm::nn::TimeMlp critic = gan.flow().net();
  gpm::LatentOptimised<gpm::nn::Mlp> generator(gan.dynamics().net(), [critic](const torch::Tensor& x) mutable {
    return critic->forward(x, torch::zeros({x.size(0)}, x.options()));
  });
  // The discriminator's flow, wrapped by the adaptive diffusion.
  gpm::InteractingParticleModel model(
      gpm::Generator<gpm::LatentOptimised<gpm::nn::Mlp>, torch::optim::Adam>(
          generator, gan.dynamics().latent(), options.generator_optimizer().to_torch(),
          gpm::GeneratorOptions().weight_average(options.weight_average())),
      gpm::AdaptiveDiffusion(std::move(gan.flow()), gpm::AdaptiveDiffusionOptions()), gan.options());
  for (int step = 0; step < 2000; ++step) model.train_step(cookbook::ring().sample(256, data_gen).to(torch::kFloat32));
  const torch::Tensor samples = model.sample(2000);
  // [/recipe]
  cookbook::write_figure(argc, argv, "diffusion_logan_gan.png", samples, "Diffusion-GAN + LOGAN, 2000 steps");
  const auto T = fmt::format("T = {} at the end", model.flow().diffusion_steps());
  return cookbook::report("Diffusion-GAN + LOGAN", samples, 0.85, T) ? EXIT_SUCCESS : EXIT_FAILURE;
}
