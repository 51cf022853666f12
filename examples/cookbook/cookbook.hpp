// What the cookbook's programs share: the data they learn (the reference 5-mode ring), the small GAN
// the GAN recipes start from, the check each makes of its samples, and the optional PNG of them.
#pragma once

#include <gpm/gpm.hpp>

#ifdef GPM_COOKBOOK_PLOT
#include <gpm/plot/figures.hpp>
#endif

#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace cookbook {

/// The reference ring (K = 5, R = 3, s = 0.5): true samples put ≈ 0.989 of their mass within 3s
/// of a centre, so a model that learnt it is judged by that fraction and by the modes it covers.
inline const gpm::data::GaussianRing& ring() {
  static const gpm::data::GaussianRing data;
  return data;
}

/// The small GAN the GAN recipes start from: latents of 8, two hidden layers of 64 in each network,
/// Adam(1e-3, β₁ 0.5) on both sides, one discriminator step per generator step, and sampling with a
/// weight average of decay 0.995.
inline gpm::GanOptions small_gan() {
  return gpm::GanOptions()
      .latent_dim(8)
      .generator(gpm::nn::MlpOptions().width(64).depth(2))
      .discriminator(gpm::nn::MlpOptions().width(64).depth(2))
      .generator_optimizer(gpm::AdamOptions().lr(1e-3).beta1(0.5))
      .discriminator_optimizer(gpm::AdamOptions().lr(1e-3).beta1(0.5))
      .discriminator_steps(1)
      .weight_average(0.995);
}

/// The largest energy distance to 2,000 fresh data points that 2,000 samples pass with, so that the
/// spread is judged as well as the modes: the recipes' samples score 0.009 or less, while samples
/// squeezed onto the centres (a Discriminator Flow of 8 steps from the GAN's samples) scored 0.032.
inline constexpr double max_energy_distance = 0.02;

/// Prints "<name>: high-quality fraction F (needs >= min), energy distance E (needs <= 0.02),
/// modes covered M/5 [, extra]" and returns whether the samples pass: F >= min_fraction, E within
/// max_energy_distance (the spread is right, not only the modes), and every mode covered by 1 % of them.
inline bool report(const std::string& name, const torch::Tensor& samples, double min_fraction, const std::string& extra = {}) {
  const auto n = samples.size(0);
  const auto x = samples.to(torch::kFloat64);
  const auto coverage = gpm::metrics::mode_coverage(x, ring().centers(), ring().std(), n / 100);
  auto gen = gpm::make_generator(7);
  const double energy = gpm::metrics::energy_distance(x, ring().sample(2000, gen).to(torch::kFloat64));
  const bool pass = coverage.high_quality_fraction >= min_fraction && energy <= max_energy_distance &&
                    coverage.modes_covered == ring().modes();
  fmt::print("{}: high-quality fraction {:.3f} (needs >= {}), energy distance {:.4f} (needs <= {}), modes covered "
             "{}/{}{}{} -> {}\n", name, coverage.high_quality_fraction, min_fraction, energy, max_energy_distance,
             coverage.modes_covered, ring().modes(), extra.empty() ? "" : ", ", extra, pass ? "pass" : "FAIL");
  return pass;
}

/// Writes the samples over fresh data to `<dir>/<file>` when the program was given a directory
/// (its first argument) and gpm::plot is built; does nothing otherwise.
inline void write_figure(int argc, char** argv, const std::string& file, const torch::Tensor& samples, const std::string& title) {
  if (argc < 2) return;
#ifdef GPM_COOKBOOK_PLOT
  auto gen = gpm::make_generator(99);
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  gpm::plot::scatter_comparison(dir / file, samples, ring().sample(2000, gen).to(torch::kFloat32), title);
  fmt::print("wrote {}\n", (dir / file).string());
#else
  (void)argv, (void)file, (void)samples, (void)title;
#endif
}

}  // namespace cookbook
