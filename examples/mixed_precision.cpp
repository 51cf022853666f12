// Mixed precision: the same small GAN trained from the same seed in float32 and in bfloat16 under
// gpm::MixedPrecision (convolutions and products in bfloat16; parameters, optimiser states and
// samples float32), each judged on its own samples of the reference ring, with its training time.
// Usage: mixed_precision. Exits 1 when either run's samples miss the ring, or a sample is not float32.
#include <chrono>

#include "cookbook/cookbook.hpp"

namespace {

/// A small GAN trained for 2,000 steps at `precision`; its 2,000 samples and the seconds it trained.
std::pair<torch::Tensor, double> train(gpm::Precision precision) {
  auto gan = gpm::make_gan(2, cookbook::small_gan());
  auto data_gen = gpm::make_generator(1);
  const auto start = std::chrono::steady_clock::now();
  const gpm::MixedPrecision arithmetic(precision, torch::kCPU);
  for (int step = 0; step < 2000; ++step) gan.train_step(cookbook::ring().sample(256, data_gen).to(torch::kFloat32));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {gan.sample(2000), seconds};
}

}  // namespace

int main() {
  gpm::configure_cpu_runtime();
  bool pass = true;
  for (const auto precision : {gpm::Precision::float32, gpm::Precision::bfloat16}) {
    const auto [samples, seconds] = train(precision);
    const auto name = fmt::format("GAN in {}", gpm::precision_name(precision));
    pass = cookbook::report(name, samples, 0.85, fmt::format("{:.1f} s of training", seconds)) && pass;
    pass = samples.scalar_type() == torch::kFloat32 && pass;
  }
  return pass ? EXIT_SUCCESS : EXIT_FAILURE;
}
