// The Flow contract (gpm/core/concepts.hpp) for every flow in gpm/flows/: velocity(x, t) has the
// shape of x, does not require grad whatever the grad mode and whether x requires grad, keeps x's
// dtype and device, and is finite. Each flow is built in float32 and float64 on the test device.
#include <vector>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

namespace t = gpm::test;

namespace {

constexpr int64_t kParticles = 6;

template <class T, class Holder>
Holder on_test_device(Holder module) {
  module->to(t::device(), t::dtype<T>());
  return module;
}

template <class T>
gpm::GaussianScore gaussian_score() {
  const auto o = t::options<T>();
  return gpm::GaussianScore(torch::tensor({1.0, -1.0}, o), torch::tensor({{1.0, 0.5}, {0.5, 2.0}}, o));
}

template <class T>
gpm::GaussianMixtureDenoiser mixture() {
  return gpm::GaussianMixtureDenoiser(torch::tensor({{3.0, 0.0}, {-3.0, 0.0}, {0.0, 2.0}}, t::options<T>()), 0.5);
}

template <class T>
torch::Tensor target_samples() {
  auto gen = t::generator(3);
  return torch::randn({10, 2}, gen, t::options<T>()) + 1.0;
}

template <class T>
gpm::nn::EdmMlpDenoiser edm_denoiser() {
  return on_test_device<T>(gpm::nn::make_edm_denoiser(
      gpm::nn::TimeMlp(gpm::nn::TimeMlpOptions(2, 2).mlp(gpm::nn::MlpOptions().width(16).depth(1)).embedding_size(8))));
}

template <class T, class Sigma>
auto denoiser_trainer(Sigma sigma) {
  return gpm::DenoiserTrainer<gpm::nn::EdmMlpDenoiser, torch::optim::Adam, Sigma>(
      edm_denoiser<T>(), std::move(sigma), torch::optim::AdamOptions(1e-3));
}

template <class T>
auto score_difference_flow() {
  return gpm::ScoreDifferenceFlow(mixture<T>(), denoiser_trainer<T>(gpm::ScheduleSigma(0.1, 10, 3)));
}

// One fixture per flow (and per estimator or kernel a flow is commonly built with): `make()`
// builds the flow in dtype T on the test device. Flows whose target takes flat particles [N, D]
// only say so; the others also get particles [N, 1, D].
template <class T>
struct ScoreFlowOfMixture {
  static constexpr bool flat_particles_only = true;
  static auto make() { return gpm::ScoreFlow(mixture<T>()); }
};
template <class T>
struct ScoreFlowOfNetwork {
  static auto make() { return gpm::ScoreFlow(edm_denoiser<T>()); }
};
template <class T>
struct DenoisingScoreFlow {
  static auto make() { return gpm::DenoisingScoreFlow(denoiser_trainer<T>(gpm::LogNormalSigma())); }
};
template <class T>
struct DiscriminatorFlowMlp {
  static auto make() {
    return gpm::DiscriminatorFlow(on_test_device<T>(gpm::nn::Mlp(gpm::nn::MlpOptions(2, 1).width(16).depth(2))),
                                  gpm::NonSaturatingLoss{}, torch::optim::AdamOptions(1e-3));
  }
};
template <class T>
struct DiscriminatorFlowTimeMlp {
  static auto make() {
    return gpm::DiscriminatorFlow(
        on_test_device<T>(gpm::nn::TimeMlp(gpm::nn::TimeMlpOptions(2, 1).mlp(gpm::nn::MlpOptions().width(16).depth(2)).embedding_size(8))),
        gpm::HingeLoss{}, torch::optim::AdamOptions(1e-3), gpm::DiscriminatorFlowOptions().eta(20.0));
  }
};
template <class T>
struct InstanceNoiseFDivergenceFlow {
  static auto make() {
    return gpm::InstanceNoise(
        gpm::DiscriminatorFlow(on_test_device<T>(gpm::nn::Mlp(gpm::nn::MlpOptions(2, 1).width(16).depth(2))),
                               gpm::FDivergenceLoss(gpm::FDivergence::chi_squared), torch::optim::AdamOptions(1e-3)),
        gpm::InstanceNoiseOptions().std(0.2).seed(1).device(t::device()));
  }
};
template <class T>
struct ScoreDifferenceFlow {
  static constexpr bool flat_particles_only = true;
  static auto make() { return score_difference_flow<T>(); }
};
template <class T>
struct PerturbedScoreDifferenceFlow {
  static constexpr bool flat_particles_only = true;
  static auto make() {
    return gpm::Perturbed(score_difference_flow<T>(), gpm::ScheduleSigma(0.1, 10, 3),
                          gpm::PerturbedOptions().seed(1).device(t::device()));
  }
};
template <class T>
struct KlFlowOfGaussian {
  static auto make() { return gpm::KlFlow(gaussian_score<T>()); }
};
template <class T>
struct MmdFlowRbf {
  static auto make() { return gpm::MmdFlow(gpm::RbfKernel(), target_samples<T>()); }
};
template <class T>
struct MmdFlowRbfSum {
  static auto make() { return gpm::MmdFlow(gpm::RbfSumKernel({0.5, 1.0, 2.0}), target_samples<T>()); }
};
template <class T>
struct MmdFlowImq {
  static auto make() { return gpm::MmdFlow(gpm::ImqKernel(), target_samples<T>()); }
};
template <class T>
struct SteinFlowMedianBandwidth {
  static auto make() { return gpm::SteinFlow(gaussian_score<T>()); }
};
template <class T>
struct SteinFlowFixedBandwidth {
  static auto make() { return gpm::SteinFlow(gaussian_score<T>(), gpm::SteinFlowOptions().bandwidth(0.8)); }
};
template <class T>
struct PotentialFlow {
  static auto make() {
    return gpm::PotentialFlow([](const torch::Tensor& x, const torch::Tensor& time) {
      return -0.5 * (1.0 + time) * gpm::batched_squared_norm(x);
    });
  }
};

template <class F>
void check_velocity(F& flow, const torch::Tensor& x, const torch::Tensor& times, const char* mode) {
  INFO(mode);
  const torch::Tensor v = flow.velocity(x, times);
  REQUIRE(v.defined());
  CHECK(v.sizes() == x.sizes());
  CHECK_FALSE(v.requires_grad());
  CHECK(v.scalar_type() == x.scalar_type());
  CHECK(v.device() == x.device());
  CHECK(torch::isfinite(v).all().item<bool>());
}

template <class Fixture>
struct ScalarOf;
template <template <class> class Fixture, class T>
struct ScalarOf<Fixture<T>> {
  using type = T;
};

}  // namespace

TEMPLATE_PRODUCT_TEST_CASE("every flow keeps the Flow contract: shape, no grad, dtype, device, finite",
                           "[flows][contract]",
                           (ScoreFlowOfMixture, ScoreFlowOfNetwork, DenoisingScoreFlow, DiscriminatorFlowMlp,
                            DiscriminatorFlowTimeMlp, InstanceNoiseFDivergenceFlow, ScoreDifferenceFlow,
                            PerturbedScoreDifferenceFlow,
                            KlFlowOfGaussian, MmdFlowRbf, MmdFlowRbfSum, MmdFlowImq, SteinFlowMedianBandwidth,
                            SteinFlowFixedBandwidth, PotentialFlow),
                           (float, double)) {
  const auto o = t::options<typename ScalarOf<TestType>::type>();
  auto flow = TestType::make();
  static_assert(gpm::Flow<decltype(flow)>);
  auto gen = t::generator(7);
  std::vector<std::vector<int64_t>> shapes{{kParticles, 2}};
  if constexpr (!requires { TestType::flat_particles_only; }) shapes.push_back({kParticles, 1, 2});
  // Times in (0, 1]: positive, as the σ-time flows need.
  const torch::Tensor times = torch::linspace(0.2, 1.0, kParticles, o);
  REQUIRE(torch::GradMode::is_enabled());
  for (const auto& shape : shapes) {
    const torch::Tensor x = 2.0 * torch::randn(shape, gen, o);
    CAPTURE(shape);
    check_velocity(flow, x, times, "grad mode on");
    check_velocity(flow, x.clone().requires_grad_(true), times, "grad mode on, x requires grad");
    torch::NoGradGuard no_grad;
    check_velocity(flow, x, times, "under NoGradGuard");
  }
}
