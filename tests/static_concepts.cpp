// Compile-time tests: every shipped policy models its concept, and near-misses do not; every
// trainable component has the optional capabilities it should, and every wrapper has exactly those
// of the policy it wraps.
#include <array>

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
static_assert(gpm::Integrator<gpm::AnnealedLangevin> && gpm::Integrator<gpm::ConsistentAnnealed>);
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

// Optional capabilities: one archetype per capability, each a plain flow plus that capability alone.
struct BareFlow {
  Tensor velocity(const Tensor& x, const Tensor&) { return x; }
};
struct CheckpointableFlow : BareFlow {
  void save(torch::serialize::OutputArchive&) const {}
  void load(torch::serialize::InputArchive&) {}
};
struct AveragingFlow : BareFlow {
  gpm::AveragedWeights averaged_weights() { return {}; }
};
struct ScalableFlow : BareFlow {
  void scale_learning_rate(double) {}
};
struct EstimatedFlow : BareFlow {
  gpm::Stats update(const Tensor&, const Tensor&, const Tensor&) { return {}; }
};
struct DataEstimatedFlow : BareFlow {
  gpm::Stats update(const Tensor&) { return {}; }
};
struct IdentityDenoiser {
  Tensor operator()(const Tensor& x, const Tensor&) const { return x; }
};
struct DenoiserDrivenFlow : BareFlow {
  IdentityDenoiser& data_denoiser() { return denoiser; }
  IdentityDenoiser denoiser;
};
struct DiscriminatorDrivenFlow : BareFlow {
  Tensor logits(const Tensor& x, const Tensor&) { return x.sum(1); }
  const gpm::NonSaturatingLoss& loss() const { return loss_; }
  torch::nn::Linear& net() { return net_; }
  gpm::NonSaturatingLoss loss_;
  torch::nn::Linear net_{2, 1};
};
// Near-misses of the capabilities.
struct AveragedWeightsAsBool : BareFlow {
  bool averaged_weights() { return false; }
};
struct DataDenoiserWithoutSigma : BareFlow {
  DenoiserWithoutSigma& data_denoiser() { return denoiser; }
  DenoiserWithoutSigma denoiser;
};
struct SaveWithoutLoad : BareFlow {
  void save(torch::serialize::OutputArchive&) const {}
};

/// Which of the forwarded capabilities T has, in the order of ForwardsCapabilities' members.
template <class T>
constexpr std::array<bool, 7> capabilities() {
  return {gpm::Checkpointable<T>,   gpm::HasAveragedWeights<T>, gpm::LearningRateScalable<T>,
          gpm::TrainableFlow<T>,    gpm::DataTrainableFlow<T>,  gpm::HasDataDenoiser<T>,
          gpm::ExposesDiscriminator<T>};
}
/// The same with Checkpointable set: a wrapper with state of its own checkpoints whatever it wraps.
template <class T>
constexpr std::array<bool, 7> capabilities_and_checkpoint() {
  auto c = capabilities<T>();
  c[0] = true;
  return c;
}

static_assert(capabilities<BareFlow>() == std::array<bool, 7>{});
static_assert(capabilities<CheckpointableFlow>() == std::array<bool, 7>{true, false, false, false, false, false, false});
static_assert(capabilities<AveragingFlow>() == std::array<bool, 7>{false, true, false, false, false, false, false});
static_assert(capabilities<ScalableFlow>() == std::array<bool, 7>{false, false, true, false, false, false, false});
static_assert(capabilities<EstimatedFlow>() == std::array<bool, 7>{false, false, false, true, false, false, false});
static_assert(capabilities<DataEstimatedFlow>() == std::array<bool, 7>{false, false, false, false, true, false, false});
static_assert(capabilities<DenoiserDrivenFlow>() == std::array<bool, 7>{false, false, false, false, false, true, false});
static_assert(capabilities<DiscriminatorDrivenFlow>() == std::array<bool, 7>{false, false, false, false, false, false, true});
static_assert(!gpm::HasAveragedWeights<AveragedWeightsAsBool> && !gpm::HasDataDenoiser<DataDenoiserWithoutSigma>);
static_assert(!gpm::Checkpointable<SaveWithoutLoad>);

/// The smallest wrapper: a flow of its own over F's, every capability forwarded.
template <gpm::Flow F>
struct Reversed : gpm::ForwardsCapabilities<F> {
  explicit Reversed(F f) : gpm::ForwardsCapabilities<F>(std::move(f)) {}
  Tensor velocity(const Tensor& x, const Tensor& t) { return -this->wrapped().velocity(x, t); }
};
template <class F>
using PerturbedBy = gpm::Perturbed<F, gpm::ScheduleSigma>;

/// Every wrapper has each capability iff the flow it wraps has it (Perturbed, which owns a random
/// stream, is Checkpointable and OwnsRandomStream whatever it wraps; Every, which counts evaluations,
/// is Checkpointable whatever it wraps).
template <class F>
constexpr bool wrappers_forward_exactly() {
  return capabilities<Reversed<F>>() == capabilities<F>() &&
         capabilities<PerturbedBy<F>>() == capabilities_and_checkpoint<F>() && gpm::OwnsRandomStream<PerturbedBy<F>> &&
         !gpm::OwnsRandomStream<Reversed<F>> && gpm::Flow<Reversed<F>> && gpm::Flow<PerturbedBy<F>> &&
         capabilities<gpm::Weighted<F>>() == capabilities<F>() &&
         capabilities<gpm::Every<F>>() == capabilities_and_checkpoint<F>() && !gpm::OwnsRandomStream<gpm::Every<F>>;
}
static_assert(wrappers_forward_exactly<BareFlow>());
static_assert(wrappers_forward_exactly<CheckpointableFlow>());
static_assert(wrappers_forward_exactly<AveragingFlow>());
static_assert(wrappers_forward_exactly<ScalableFlow>());
static_assert(wrappers_forward_exactly<EstimatedFlow>());
static_assert(wrappers_forward_exactly<DataEstimatedFlow>());
static_assert(wrappers_forward_exactly<DenoiserDrivenFlow>());
static_assert(wrappers_forward_exactly<DiscriminatorDrivenFlow>());
static_assert(wrappers_forward_exactly<AveragedWeightsAsBool>());
static_assert(wrappers_forward_exactly<Reversed<AveragingFlow>>());  // wrappers nest

// The shipped components, and the same wrapped.
using Adam = torch::optim::Adam;
using EdmNet = gpm::nn::EdmMlpDenoiser;
using Gan = gpm::DiscriminatorFlow<gpm::nn::Mlp, gpm::NonSaturatingLoss>;
using TimeCritic = gpm::DiscriminatorFlow<gpm::nn::TimeMlp, gpm::IpmLoss>;
using Trainer = gpm::DenoiserTrainer<EdmNet, Adam, gpm::LogNormalSigma>;
using Edm = gpm::DenoisingScoreFlow<EdmNet>;
using ScoreDifference = gpm::ScoreDifferenceFlow<Mixture, EdmNet>;
using Network = gpm::OptimisedNetwork<gpm::nn::Mlp, Adam>;
using MlpGenerator = gpm::Generator<gpm::nn::Mlp, Adam>;

static_assert(capabilities<Gan>() == std::array<bool, 7>{true, true, true, true, false, false, true});
static_assert(capabilities<TimeCritic>() == capabilities<Gan>());
static_assert(gpm::TimeDependentCritic<gpm::nn::TimeMlp> && !gpm::TimeDependentCritic<gpm::nn::Mlp>);
static_assert(capabilities<Edm>() == std::array<bool, 7>{true, true, true, false, true, false, false});
static_assert(capabilities<ScoreDifference>() == std::array<bool, 7>{true, true, true, true, false, true, false});
static_assert(capabilities<MmdRbf>() == std::array<bool, 7>{true, false, false, true, false, false, false});
static_assert(capabilities<gpm::ScoreFlow<Mixture>>() == std::array<bool, 7>{});
static_assert(gpm::OwnsRandomStream<Gan> && gpm::OwnsRandomStream<Trainer> && gpm::OwnsRandomStream<Network>);
static_assert(gpm::Checkpointable<Trainer> && gpm::HasAveragedWeights<Trainer> && gpm::LearningRateScalable<Trainer> &&
              !gpm::Flow<Trainer>);
static_assert(gpm::Checkpointable<Network> && gpm::HasAveragedWeights<Network> && gpm::LearningRateScalable<Network>);
static_assert(gpm::GeneratorDynamics<MlpGenerator> && gpm::HasTrainingSample<MlpGenerator> &&
              gpm::Checkpointable<MlpGenerator> && gpm::HasAveragedWeights<MlpGenerator> &&
              gpm::LearningRateScalable<MlpGenerator>);
static_assert(!gpm::HasTrainingSample<DynamicsWithoutStep>);
static_assert(wrappers_forward_exactly<Gan>() && wrappers_forward_exactly<TimeCritic>() &&
              wrappers_forward_exactly<Edm>() && wrappers_forward_exactly<ScoreDifference>() &&
              wrappers_forward_exactly<MmdRbf>() && wrappers_forward_exactly<gpm::ScoreFlow<Mixture>>());
// The hosts: checkpoints and learning-rate scaling of the whole model.
static_assert(gpm::Checkpointable<gpm::Gan<>> && gpm::LearningRateScalable<gpm::Gan<>>);
static_assert(gpm::Checkpointable<gpm::DiscriminatorFlowModel<>> && gpm::LearningRateScalable<gpm::DiscriminatorFlowModel<>>);
static_assert(gpm::Checkpointable<gpm::ScoreGan<>> && gpm::LearningRateScalable<gpm::ScoreGan<>>);
static_assert(gpm::HasDataDenoiser<std::remove_reference_t<decltype(std::declval<gpm::ScoreGan<>&>().flow())>>);
static_assert(gpm::ExposesDiscriminator<std::remove_reference_t<decltype(std::declval<gpm::Gan<>&>().flow())>>);

/// Whether TopK can wrap F (it ranks particles by F's discriminator).
template <class F>
concept top_k_accepts = requires { typename gpm::TopK<F>; };

/// Whether AdaptiveDiffusion can wrap F (a trainable flow exposing its discriminator).
template <class F>
concept adaptive_diffusion_accepts = requires { typename gpm::AdaptiveDiffusion<F>; };

}  // namespace

TEST_CASE("policies model their concepts and near-misses are rejected (checked at compile time)", "[static]") {
  STATIC_REQUIRE(gpm::Flow<MmdRbf>);
  STATIC_REQUIRE_FALSE(gpm::Flow<VelocityWithOneArgument>);
}

TEST_CASE("wrappers have exactly the optional capabilities of what they wrap (checked at compile time)", "[static]") {
  STATIC_REQUIRE(gpm::HasAveragedWeights<PerturbedBy<Gan>>);
  STATIC_REQUIRE_FALSE(gpm::HasAveragedWeights<PerturbedBy<MmdRbf>>);
  STATIC_REQUIRE(wrappers_forward_exactly<AveragingFlow>());
  // InstanceNoise wraps trainable flows: the GAN's keeps its discriminator, averages and learning rates.
  using NoisyGan = gpm::InstanceNoise<Gan>;
  STATIC_REQUIRE(gpm::TrainableFlow<NoisyGan>);
  STATIC_REQUIRE(gpm::ExposesDiscriminator<NoisyGan>);
  STATIC_REQUIRE(gpm::HasAveragedWeights<NoisyGan> == gpm::HasAveragedWeights<Gan>);
  STATIC_REQUIRE(gpm::LearningRateScalable<NoisyGan>);
  STATIC_REQUIRE(gpm::Checkpointable<NoisyGan>);
  STATIC_REQUIRE(gpm::OwnsRandomStream<NoisyGan>);
  // Flow arithmetic: a weight keeps every capability; Every adds a checkpointed count; a sum is
  // trainable, averaged and scalable through either term and shows its first term's discriminator.
  STATIC_REQUIRE(gpm::TrainableFlow<gpm::Weighted<Gan>> && gpm::ExposesDiscriminator<gpm::Weighted<Gan>>);
  STATIC_REQUIRE(gpm::TrainableFlow<gpm::Every<Gan>> && gpm::ExposesDiscriminator<gpm::Every<Gan>>);
  using Smart = gpm::SmartFlow<Gan, Mixture>;
  STATIC_REQUIRE(gpm::TrainableFlow<Smart> && gpm::ExposesDiscriminator<Smart> && gpm::Checkpointable<Smart>);
  STATIC_REQUIRE(gpm::HasAveragedWeights<Smart> == gpm::HasAveragedWeights<Gan>);
  STATIC_REQUIRE(gpm::LearningRateScalable<Smart>);
  STATIC_REQUIRE_FALSE(gpm::TrainableFlow<gpm::FlowSum<gpm::ScoreFlow<Mixture>, gpm::ScoreMatchingRegularity<Mixture>>>);
  STATIC_REQUIRE_FALSE(gpm::ExposesDiscriminator<gpm::FlowSum<gpm::ScoreFlow<Mixture>, Gan>>);
  STATIC_REQUIRE(gpm::Checkpointable<gpm::SmartGan<>> && gpm::LearningRateScalable<gpm::SmartGan<>>);
  // TopK needs a discriminator to rank by, and keeps every capability of the flow, adding a checkpoint.
  STATIC_REQUIRE(capabilities<gpm::TopK<Gan>>() == capabilities_and_checkpoint<Gan>());
  STATIC_REQUIRE(capabilities<gpm::TopK<DiscriminatorDrivenFlow>>() == capabilities_and_checkpoint<DiscriminatorDrivenFlow>());
  STATIC_REQUIRE(top_k_accepts<Gan> && !top_k_accepts<MmdRbf>);
  STATIC_REQUIRE(gpm::Checkpointable<gpm::TopKGan<>> && gpm::LearningRateScalable<gpm::TopKGan<>>);
  // AdaptiveDiffusion too (it reads r_d from the discriminator), and owns a random stream.
  STATIC_REQUIRE(capabilities<gpm::AdaptiveDiffusion<TimeCritic>>() == capabilities_and_checkpoint<TimeCritic>());
  STATIC_REQUIRE(gpm::OwnsRandomStream<gpm::AdaptiveDiffusion<TimeCritic>>);
  STATIC_REQUIRE(adaptive_diffusion_accepts<Gan> && !adaptive_diffusion_accepts<MmdRbf>);
  STATIC_REQUIRE(gpm::Checkpointable<gpm::DiffusionGan<>> && gpm::LearningRateScalable<gpm::DiffusionGan<>>);
  // LOGAN's latent step is a generator network: the generator dynamics keep every capability.
  STATIC_REQUIRE(gpm::GeneratorNetwork<gpm::LatentOptimised<gpm::nn::Mlp>>);
  using LoganGenerator = gpm::Generator<gpm::LatentOptimised<gpm::nn::Mlp>, torch::optim::Adam>;
  STATIC_REQUIRE(gpm::HasTrainingSample<LoganGenerator> && gpm::HasAveragedWeights<LoganGenerator> &&
                 gpm::Checkpointable<LoganGenerator>);
  STATIC_REQUIRE(gpm::Checkpointable<gpm::LoganGan<>> && gpm::LearningRateScalable<gpm::LoganGan<>>);
}
