// Closed-form flows toward a 5-mode Gaussian ring, as particle models (EDM with the exact
// denoiser, Langevin, SVGD, MMD flow) and as an interacting particle model (a generator trained by
// the MMD flow). Prints one line per model: time, squared MMD to fresh data, and sample quality.
#include <gpm/gpm.hpp>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace {

using Clock = std::chrono::steady_clock;

// Centres of the ring: R (cos 2πk/K, sin 2πk/K).
torch::Tensor ring_centres(int64_t modes, double radius) {
  const auto angle = torch::arange(modes, torch::kFloat32) * (2.0 * std::numbers::pi / static_cast<double>(modes));
  return torch::stack({torch::cos(angle), torch::sin(angle)}, 1) * radius;
}

// Fraction of samples within 3 std of their nearest centre.
double high_quality_fraction(const torch::Tensor& x, const torch::Tensor& centres, double std) {
  return (gpm::pairwise_squared_distances(x, centres).amin(1) <= 9.0 * std * std).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

int main() {
  gpm::configure_cpu_runtime();
  const double std = 0.5;
  const auto centres = ring_centres(5, 3.0);
  const gpm::GaussianMixtureDenoiser ring(centres, std);
  auto data_gen = gpm::make_generator(2024);
  const auto reference = ring.sample(2000, data_gen);
  const gpm::RbfKernel kernel;
  auto mixture_score = [ring](const torch::Tensor& x) { return ring.score(x, torch::zeros({x.size(0)}, x.options())); };
  const auto prior = [](double s) { return gpm::GaussianPrior(gpm::GaussianPriorOptions({2}).std(s)); };

  fmt::print("{:<34} {:>9} {:>12} {:>12}\n", "model", "time (s)", "MMD^2", "within 3 std");
  auto report = [&](const char* name, auto&& sample) {
    const auto start = Clock::now();
    const torch::Tensor x = sample();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    fmt::print("{:<34} {:>9.2f} {:>12.5f} {:>12.3f}\n", name, seconds, gpm::squared_mmd_v(kernel, x, reference).item<double>(),
               high_quality_fraction(x, centres, std));
  };

  report("PM: EDM, exact denoiser, Heun 28", [&] {
    auto model = gpm::ParticleModel(gpm::ScoreFlow(ring), gpm::Heun{}, gpm::KarrasGrid(gpm::KarrasGridOptions(28).sigma_max(40)),
                             prior(40.0));
    return model.sample(2000);
  });
  report("PM: Langevin (KL flow)", [&] {
    auto model = gpm::ParticleModel(gpm::KlFlow(mixture_score), gpm::EulerMaruyama(gpm::ConstantDiffusion(std::sqrt(2.0))),
                             gpm::UniformGrid(gpm::UniformGridOptions(500).end(10.0)), prior(3.0));
    return model.sample(2000);
  });
  report("PM: SVGD (Stein flow)", [&] {
    auto model = gpm::ParticleModel(gpm::SteinFlow(mixture_score), gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(300).end(30.0)),
                             prior(3.0));
    return model.sample(1000);
  });
  report("PM: MMD flow (IMQ kernel)", [&] {
    auto model = gpm::ParticleModel(gpm::MmdFlow(gpm::ImqKernel(), ring.sample(2000, data_gen)), gpm::Euler{},
                             gpm::UniformGrid(gpm::UniformGridOptions(500).end(500.0)), prior(1.0));
    return model.sample(1000);
  });
  report("Int-PM: generator + MMD flow", [&] {
    torch::manual_seed(0);
    torch::nn::Sequential net(torch::nn::Linear(8, 256), torch::nn::ReLU(), torch::nn::Linear(256, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 2));
    gpm::InteractingParticleModel model(
        gpm::Generator<torch::nn::Sequential, torch::optim::Adam>(net, gpm::GaussianPrior(gpm::GaussianPriorOptions({8})),
                                                                  torch::optim::AdamOptions(1e-3)),
        gpm::MmdFlow(gpm::ImqKernel()));
    for (int step = 0; step < 1500; ++step) model.train_step(ring.sample(256, data_gen));
    return model.sample(2000);
  });
  return 0;
}
