// Compile-time tests: every shipped policy models its concept, and near-misses do not.
#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

namespace {

using torch::Tensor;

// Near-misses: each lacks or misspells one member of its concept.
struct VelocityWithOneArgument {
  Tensor velocity(const Tensor& x) { return x; }
};
struct VelocityReturningDouble {
  double velocity(const Tensor&, const Tensor&) { return 0.0; }
};
struct MisnamedVelocity {
  Tensor drift(const Tensor& x, const Tensor&) { return x; }
};
struct FlowWithoutUpdate {
  Tensor velocity(const Tensor& x, const Tensor&) { return x; }
};
struct UpdateWithoutStats : FlowWithoutUpdate {
  void update(const Tensor&, const Tensor&, const Tensor&) {}
};
struct StepWithoutGenerator {
  template <gpm::Flow F>
  Tensor step(F& f, const Tensor& x, const gpm::Step& s) {
    return x + s.dt() * f.velocity(x, x);
  }
};
struct GridOfFloats {
  std::vector<float> times() const { return {}; }
};
struct PriorWithoutOptions {
  Tensor sample(int64_t n, at::Generator&) const { return torch::zeros({n}); }
};
struct DynamicsWithoutStep {
  Tensor sample(int64_t n, at::Generator&) { return torch::zeros({n}); }
};
struct ConstSampler {
  Tensor operator()(int64_t n) const { return torch::zeros({n, 2}); }
};
struct MutableSampler {  // a SamplerPrior calls its sampler through a const member
  Tensor operator()(int64_t n) { return torch::zeros({n, 2}); }
};
struct DenoiserWithoutSigma {
  Tensor operator()(const Tensor& x) const { return x; }
};

using Mixture = gpm::GaussianMixtureDenoiser;
using MmdRbf = gpm::MmdFlow<gpm::RbfKernel>;
using Free = gpm::Generator<gpm::FreeParticles, torch::optim::SGD, gpm::OneHotLatents>;

// Flows.
static_assert(gpm::Flow<gpm::ScoreFlow<Mixture>>);
static_assert(gpm::Flow<gpm::KlFlow<gpm::GaussianScore>>);
static_assert(gpm::Flow<gpm::SteinFlow<gpm::GaussianScore>>);
static_assert(gpm::Flow<MmdRbf> && gpm::TrainableFlow<MmdRbf>);
static_assert(gpm::TrainableFlow<gpm::MmdFlow<gpm::ImqKernel>>);
static_assert(!gpm::TrainableFlow<gpm::ScoreFlow<Mixture>>);
static_assert(!gpm::Flow<VelocityWithOneArgument>);
static_assert(!gpm::Flow<VelocityReturningDouble>);
static_assert(!gpm::Flow<MisnamedVelocity>);
static_assert(gpm::Flow<FlowWithoutUpdate> && !gpm::TrainableFlow<FlowWithoutUpdate>);
static_assert(!gpm::TrainableFlow<UpdateWithoutStats>);
static_assert(gpm::Flow<gpm::BorrowedFlow<MmdRbf>> && !gpm::TrainableFlow<gpm::BorrowedFlow<MmdRbf>>);

// Integrators.
static_assert(gpm::Integrator<gpm::Euler>);
static_assert(gpm::Integrator<gpm::Heun>);
static_assert(gpm::Integrator<gpm::EulerMaruyama<>>);
static_assert(gpm::Integrator<gpm::EulerMaruyama<gpm::EdmDiffusion>>);
static_assert(gpm::Integrator<gpm::EdmStochastic>);
static_assert(!gpm::Integrator<StepWithoutGenerator>);
static_assert(gpm::Euler::order == 1 && gpm::Heun::order == 2);

// Grids, priors, callables.
static_assert(gpm::TimeGrid<gpm::UniformGrid> && gpm::TimeGrid<gpm::KarrasGrid> && gpm::TimeGrid<gpm::GeometricGrid>);
static_assert(!gpm::TimeGrid<GridOfFloats>);
static_assert(gpm::Prior<gpm::GaussianPrior> && gpm::Prior<gpm::OneHotLatents>);
static_assert(!gpm::Prior<PriorWithoutOptions>);
static_assert(gpm::Prior<gpm::SamplerPrior<ConstSampler>> && gpm::Prior<gpm::NoisedPrior<gpm::SamplerPrior<ConstSampler>>>);
static_assert(gpm::Prior<gpm::NoisedPrior<gpm::GaussianPrior>>);
template <class S>
concept SamplesAsPrior = requires { typename gpm::SamplerPrior<S>; };
static_assert(SamplesAsPrior<ConstSampler> && !SamplesAsPrior<MutableSampler>);
static_assert(gpm::Denoiser<Mixture> && !gpm::Denoiser<DenoiserWithoutSigma>);
static_assert(gpm::Score<gpm::GaussianScore>);
static_assert(gpm::Kernel<gpm::RbfKernel> && gpm::Kernel<gpm::RbfSumKernel> && gpm::Kernel<gpm::ImqKernel>);
static_assert(gpm::DiffusionCoefficient<gpm::ConstantDiffusion> && gpm::DiffusionCoefficient<gpm::EdmDiffusion>);

// Generators.
static_assert(gpm::GeneratorNetwork<gpm::FreeParticles> && gpm::GeneratorNetwork<torch::nn::Linear>);
static_assert(gpm::Module<gpm::nn::EdmMlpDenoiser> && !gpm::GeneratorNetwork<gpm::nn::EdmMlpDenoiser>);
static_assert(gpm::Optimizer<torch::optim::Adam> && !gpm::Optimizer<int>);
static_assert(gpm::GeneratorDynamics<Free>);
static_assert(gpm::GeneratorDynamics<gpm::Generator<torch::nn::Linear, torch::optim::Adam>>);
static_assert(!gpm::GeneratorDynamics<DynamicsWithoutStep>);

// A host rejects a wrong policy at the composition.
template <class F>
concept ComposesParticleModel = requires { typename gpm::ParticleModel<F, gpm::Euler, gpm::UniformGrid, gpm::GaussianPrior>; };
static_assert(ComposesParticleModel<MmdRbf>);
static_assert(!ComposesParticleModel<VelocityWithOneArgument>);
template <class D>
concept ComposesInteractingModel = requires { typename gpm::InteractingParticleModel<D, MmdRbf>; };
static_assert(ComposesInteractingModel<Free>);
static_assert(!ComposesInteractingModel<DynamicsWithoutStep>);

}  // namespace

TEST_CASE("policies model their concepts and near-misses are rejected (checked at compile time)", "[static]") {
  STATIC_REQUIRE(gpm::Flow<MmdRbf>);
  STATIC_REQUIRE_FALSE(gpm::Flow<VelocityWithOneArgument>);
}
