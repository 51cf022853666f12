// Refinements: particle models started from a generator's samples.
#include <cstdio>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;

namespace {

// Recorded outputs are CPU values: random streams differ between devices.
const auto cpu = torch::TensorOptions().dtype(torch::kFloat32).device(torch::kCPU);

// `x` equals the recorded particles to float precision; with none recorded, prints them.
void check_recorded(const torch::Tensor& x, const std::vector<double>& recorded) {
  const auto flat = x.to(torch::kFloat64).flatten();
  if (recorded.empty()) {
    std::printf("{");
    for (int64_t i = 0; i < flat.size(0); ++i) std::printf("%s%.9g", i ? ", " : "", flat[i].item<double>());
    std::printf("}\n");
    FAIL_CHECK("no recorded values");
    return;
  }
  REQUIRE(flat.size(0) == static_cast<int64_t>(recorded.size()));
  CHECK(t::max_abs(flat - torch::tensor(recorded, torch::kFloat64)) < 1e-6);
}

// A time-dependent nonlinear field, v(x, t) = ∇ₓ h([x, t]) for a small fixed network h.
auto network_flow() {
  torch::manual_seed(11);
  torch::nn::Sequential net(torch::nn::Linear(3, 16), torch::nn::Tanh(), torch::nn::Linear(16, 1));
  return gpm::PotentialFlow([net](const torch::Tensor& x, const torch::Tensor& time) mutable {
    return net->forward(torch::cat({x, time.unsqueeze(1).to(x.dtype())}, 1)).squeeze(1);
  });
}

// A two-mode mixture's exact denoiser that declares the noise range [0.01, 0.7], as a trained one does.
struct RangedDenoiser {
  gpm::GaussianMixtureDenoiser mixture{torch::tensor({{1.0, 0.0}, {-1.0, 0.5}}, cpu), 0.2};
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma) const { return mixture(x, sigma); }
  double sigma_min() const { return 0.01; }
  double sigma_max() const { return 0.7; }
};

// The shape of a Score GAN's flow as sample_refined sees it: flow().data_denoiser().
struct DenoiserDrivenFlow {
  RangedDenoiser denoiser;
  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& time) { return denoiser(x, time + 0.1) - x; }
  DenoiserDrivenFlow& flow() { return *this; }
  const RangedDenoiser& data_denoiser() const { return denoiser; }
};

template <gpm::Flow F>
auto make_generator_model(F flow) {
  torch::manual_seed(5);
  torch::nn::Sequential net(torch::nn::Linear(3, 2));
  return gpm::InteractingParticleModel(
      gpm::Generator<torch::nn::Sequential, torch::optim::SGD>(net, gpm::GaussianPrior(gpm::GaussianPriorOptions({3})),
                                                               torch::optim::SGDOptions(0.1)),
      std::move(flow), gpm::InteractingParticleModelOptions().seed(7));
}

}  // namespace

TEST_CASE("refinements give the particles they gave for the same seeds", "[models][refine]") {
  const auto x = torch::randn({6, 2}, gpm::make_generator(2, torch::kCPU), cpu);
  SECTION("refine") {
    auto flow = network_flow();
    auto gen = gpm::make_generator(3, torch::kCPU);
    const auto options = gpm::RefinementOptions().steps(5).time(1.5);
    check_recorded(gpm::refine(flow, x, options, gen),
                   {0.360220641, 0.0414482914, -0.357649267, -1.01002491, 1.01071584, -0.379257739, 0.543479204, 0.81603539, -0.427859426, -0.835984766, 1.28991747, 1.0122869});
    check_recorded(gpm::refine(flow, x, options, gen, 2),
                   {0.375518203, -0.123064607, -0.332785189, -1.11614299, 1.02835894, -0.533804536, 0.555619538, 0.636640906, -0.405003697, -0.950510979, 1.30326807, 0.837828755});
  }
  SECTION("sample_refined by the model's flow") {
    auto model = make_generator_model(network_flow());
    check_recorded(gpm::sample_refined(model, 6, gpm::RefinementOptions().steps(4).time(1.0)),
                   {0.00972869992, -0.528070092, -0.253519803, 0.0771630704, -0.0995759815, 0.854075551, -0.254510671, -0.750533879, -2.08249259, 0.585041642, -0.815883756, -0.230343685});
  }
  SECTION("denoise_refine") {
    const auto options = gpm::DenoisingRefinementOptions().steps(5).sigma(1.0);
    auto gen = gpm::make_generator(3, torch::kCPU);
    check_recorded(gpm::denoise_refine(RangedDenoiser{}, x, options, gen),
                   {0.985761881, -0.0305643901, 0.607020676, -0.492741972, 1.02321231, -0.482430249, 0.939545393, 0.379318446, -1.12002134, 0.239625216, 1.20727575, 0.489513308});
    check_recorded(gpm::denoise_refine(RangedDenoiser{}, x, options, gen, 3),
                   {-0.729820967, 0.334363103, 0.677524805, -0.388156861, 1.21403825, -0.0192238223, 0.974325418, 0.131798595, -0.953375757, -0.206943005, 1.26007104, 0.282639802});
  }
  SECTION("sample_refined by the model's data denoiser") {
    auto model = make_generator_model(DenoiserDrivenFlow{});
    check_recorded(gpm::sample_refined(model, 6, gpm::DenoisingRefinementOptions().steps(4).sigma(0.5)),
                   {0.688713849, -0.320473611, 0.959438801, -0.0599355139, 0.747654557, 0.0566028394, -0.832059741, 0.327418, -1.51798344, -0.040100839, -0.849526644, 0.0240596533});
  }
}
