// Cookbook: a Discriminator Flow started from a GAN's samples and trained from them.
// Usage: cookbook_flow_from_gan [figure directory]. Exits 1 when the flow's samples miss the ring
// or are worse than the GAN's own.
#include "cookbook.hpp"

int main(int argc, char** argv) {
  gpm::configure_cpu_runtime();
  auto data_gen = gpm::make_generator(1);
  const auto batch = [&data_gen] { return cookbook::ring().sample(256, data_gen).to(torch::kFloat32); };
  auto gan = gpm::make_gan(2, gpm::GanOptions()
                                  .latent_dim(8)
                                  .generator(gpm::nn::MlpOptions().width(64).depth(2))
                                  .discriminator(gpm::nn::MlpOptions().width(64).depth(2))
                                  .generator_optimizer(gpm::AdamOptions().lr(1e-3).beta1(0.5))
                                  .discriminator_optimizer(gpm::AdamOptions().lr(1e-3).beta1(0.5)));
  for (int step = 0; step < 1000; ++step) gan.train_step(batch());
  // [recipe]
  // The Discriminator Flow's flow, stepper and grid; the GAN's samples as its prior, so that it
  // learns (and later samples) the way from those samples to the data.
  auto df = gpm::make_discriminator_flow(
      2, gpm::DiscriminatorFlowModelOptions()
             .discriminator(gpm::nn::TimeMlpOptions().mlp(gpm::nn::MlpOptions().width(64).depth(2)).embedding_size(16))
             .generation_steps(16)
             .optimizer(gpm::AdamOptions().lr(1e-3).beta1(0.5)));
  gpm::ParticleModel from_gan(std::move(df.flow()), std::move(df.integrator()), df.grid(),
                              gpm::SamplerPrior([&gan](int64_t n) { return gan.sample(n); }));
  for (int step = 0; step < 600; ++step) from_gan.train_step(batch());
  const torch::Tensor refined = from_gan.sample(2000);
  // [/recipe]
  cookbook::write_figure(argc, argv, "flow_from_gan.png", refined, "Discriminator Flow from a GAN's samples");
  const auto gan_fraction = gpm::metrics::mode_coverage(gan.sample(2000).to(torch::kFloat64), cookbook::ring().centers(),
                                                        cookbook::ring().std()).high_quality_fraction;
  // Trained from the GAN's samples, the flow must take more of them to the modes than the GAN put
  // there: 0.05 above the GAN's fraction, 5 standard errors of a fraction of 2000 samples.
  const double needed = gan_fraction + 0.05;
  return cookbook::report("Discriminator Flow from the GAN's samples", refined, needed,
                          fmt::format("the GAN's own {:.3f}", gan_fraction))
             ? EXIT_SUCCESS
             : EXIT_FAILURE;
}
