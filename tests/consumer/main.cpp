// Samples N(mu, 0.5² I) with the exact denoiser and Heun, through the installed headers only.
#include <gpm/gpm.hpp>

#include <cstdio>

int main() {
  const auto mu = torch::tensor({{1.0f, -2.0f}});
  gpm::ParticleModel model(gpm::ScoreFlow(gpm::GaussianMixtureDenoiser(mu, 0.5)), gpm::Heun{},
                           gpm::KarrasGrid(gpm::KarrasGridOptions(32)),
                           gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(80.0)));
  const auto mean = model.sample(4096).mean(0);
  const double error = (mean - mu.squeeze(0)).abs().max().item<double>();
  std::printf("consumer: sample mean error %.4f\n", error);
  return error < 0.05 ? 0 : 1;
}
