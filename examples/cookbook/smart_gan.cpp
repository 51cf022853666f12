// Cookbook: SMaRt — a GAN whose generator also descends a trained EDM's denoising error at its
// samples, every 8th generator step: the GAN's flow plus a weighted, lazy regularity flow.
// Usage: cookbook_smart_gan [figure directory]. Exits 1 when the samples miss the ring.
#include "cookbook.hpp"

int main(int argc, char** argv) {
  gpm::configure_cpu_runtime();
  auto data_gen = gpm::make_generator(1);
  // [recipe]
  // An EDM trained on the data alone; its denoiser, with the weight average it samples with, is then frozen.
  const auto edm_options = gpm::EdmOptions().network(
      gpm::nn::TimeMlpOptions().embedding_size(16).mlp(gpm::nn::MlpOptions().width(64).depth(2)));
  auto edm = gpm::make_edm(2, edm_options);
  for (int step = 0; step < 1500; ++step) edm.train_step(cookbook::ring().sample(256, data_gen).to(torch::kFloat32));
  // The GAN's flow plus 0.1 × the regularity (the denoising error's descent at σ' ∈ [0.09, 0.125]),
  // applied on every 8th generator step.
  auto gan = gpm::with_score_matching_regularity(
      gpm::make_gan(2, cookbook::small_gan()), gpm::copy_sampling_denoiser(edm, 2, edm_options),
      gpm::SmartOptions().weight(0.1).every(8));
  for (int step = 0; step < 3000; ++step) gan.train_step(cookbook::ring().sample(256, data_gen).to(torch::kFloat32));
  const torch::Tensor samples = gan.sample(2000);
  // [/recipe]
  cookbook::write_figure(argc, argv, "smart_gan.png", samples, "GAN + SMaRt (EDM denoiser), 3000 steps");
  return cookbook::report("GAN + SMaRt", samples, 0.85) ? EXIT_SUCCESS : EXIT_FAILURE;
}
