// Save -> load -> continue for each host, combinator and paper model: a model trained k steps is
// saved with gpm::io::save and loaded with gpm::io::load into a fresh instance built with another
// seed; from then on both must agree bit for bit (weights, weight averages, random streams, step
// statistics, samples). Also: loading a checkpoint into another architecture is a gpm error.
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gpm/gpm.hpp"
#include "support/small_models.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;
namespace nn = gpm::nn;

namespace {

constexpr int64_t kDim = 2;
constexpr int64_t kLatentDim = 4;
constexpr int64_t kBatch = 16;  // also the number of free particles and of samples compared
constexpr int kTrainedSteps = 3;
constexpr int kContinuedSteps = 3;  // odd, so that resuming must restore which iteration steps the generator

// The paper models' small options (see support/small_models.hpp). The seed is set by the caller.
gpm::GanOptions small_gan_options(int64_t width = 16, int64_t depth = 2) { return t::small_gan(kLatentDim, width, depth); }

nn::TimeMlpOptions with_input_features(nn::TimeMlpOptions o) {
  o.mlp(nn::MlpOptions(o.mlp()).input_features(8));
  return o;
}

gpm::EdmOptions small_edm_options() {
  auto o = t::small_edm(16, 1, 8).sampling_steps(4);
  return o.network(with_input_features(o.network()));
}

gpm::DiscriminatorFlowModelOptions small_discriminator_flow_options() {
  auto o = t::small_discriminator_flow(16, 1, 8).generation_steps(4).entropy_reg(0.1);
  return o.discriminator(with_input_features(o.discriminator()));
}

gpm::ScoreGanOptions small_score_gan_options() { return t::small_score_gan(kLatentDim, 16, 1, 16, 1, 8).score_steps(2); }

// Tiny networks and a learning rate large enough that every step visibly moves the weights.
nn::Mlp tiny_mlp(int64_t in, int64_t out, bool batch_norm = false) {
  nn::Mlp net(nn::MlpOptions(in, out).width(16).depth(2).batch_norm(batch_norm));
  net->to(t::device());
  return net;
}

nn::TimeMlp tiny_time_mlp(int64_t in, int64_t out, uint64_t seed) {
  nn::TimeMlp net(nn::TimeMlpOptions(in, out).mlp(nn::MlpOptions().width(16).depth(1)).embedding_size(8).seed(seed));
  net->to(t::device());
  return net;
}

nn::EdmMlpDenoiser tiny_denoiser(uint64_t seed) {
  return nn::EdmMlpDenoiser(tiny_time_mlp(kDim, kDim, seed), nn::EdmPreconditioningOptions().sigma_max(10.0));
}

torch::optim::AdamOptions adam() { return torch::optim::AdamOptions(1e-2); }

/// The tensors a model's future depends on, in named parts (a network's parameters and buffers,
/// its averaged weights, a random stream's state, a counter), copied at one moment.
struct Part {
  std::string name;
  std::vector<torch::Tensor> tensors;
};
using Snapshot = std::vector<Part>;

void add_module(Snapshot& s, const std::string& name, const torch::nn::Module& module) {
  Part part{name, {}};
  for (const auto& p : module.named_parameters()) part.tensors.push_back(p.value().detach().clone());
  for (const auto& b : module.named_buffers()) part.tensors.push_back(b.value().detach().clone());
  s.push_back(std::move(part));
}

/// Walks a host down through its policies by their public accessors and records every network,
/// weight average, random stream, sample set and counter it finds.
template <class C>
void record(Snapshot& s, const std::string& name, C& c) {
  if constexpr (requires { c.net()->parameters(); }) {
    add_module(s, name + ".net", *c.net());
    if constexpr (requires { c.averaged_weights(); }) {
      const auto averaged = c.averaged_weights();
      add_module(s, name + ".averaged", *c.net());
    }
  }
  if constexpr (requires { { c.generator() } -> std::same_as<at::Generator&>; })
    s.push_back({name + ".stream", {c.generator().get_state()}});
  if constexpr (requires { c.iteration(); }) s.push_back({name + ".iteration", {torch::tensor(c.iteration())}});
  if constexpr (requires { c.target(); }) s.push_back({name + ".target", {c.target()}});
  if constexpr (requires { c.data_denoiser()->parameters(); }) add_module(s, name + ".data", *c.data_denoiser());
  if constexpr (requires { c.trainer(); }) record(s, name + ".trainer", c.trainer());
  if constexpr (requires { c.generated(); }) record(s, name + ".generated", c.generated());
  if constexpr (requires { c.dynamics(); }) record(s, name + ".dynamics", c.dynamics());
  if constexpr (requires { c.flow(); }) record(s, name + ".flow", c.flow());
}

template <class Model>
Snapshot snapshot(Model& model) {
  Snapshot s;
  record(s, "model", model);
  return s;
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  return a.sizes() == b.sizes() && a.dtype() == b.dtype() && torch::equal(a, b);
}

bool same(const Part& a, const Part& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i)
    if (!same(a.tensors[i], b.tensors[i])) return false;
  return true;
}

void require_identical(const Snapshot& a, const Snapshot& b, const std::string& when) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(when << ": " << a[i].name);
    REQUIRE(a[i].name == b[i].name);
    CHECK(same(a[i], b[i]));
  }
}

/// A fresh instance with another seed must differ in every part, or loading would not be tested.
void require_every_part_differs(const Snapshot& a, const Snapshot& b) {
  REQUIRE(a.size() == b.size());
  REQUIRE(!a.empty());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("before loading: " << a[i].name);
    CHECK_FALSE(same(a[i], b[i]));
  }
}

void require_same_stats(const gpm::Stats& a, const gpm::Stats& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [key, value] : a) {
    INFO("statistic " << key);
    REQUIRE(b.count(key) == 1);
    CHECK(same(value, b.at(key)));
  }
}

std::vector<torch::Tensor> data_batches(int count) {
  auto gen = t::generator(7);
  std::vector<torch::Tensor> batches;
  for (int i = 0; i < count; ++i)
    batches.push_back(torch::randn({kBatch, kDim}, gen, torch::TensorOptions().device(t::device())) * 0.5 + 1.0);
  return batches;
}

/// A checkpoint file in the temporary directory, removed at the end of the scope.
class TemporaryCheckpoint {
 public:
  TemporaryCheckpoint()
      : path_(std::filesystem::temp_directory_path() / fmt::format("gpm_checkpoint_test_{}.pt", std::random_device{}())) {}
  TemporaryCheckpoint(const TemporaryCheckpoint&) = delete;
  TemporaryCheckpoint& operator=(const TemporaryCheckpoint&) = delete;
  ~TemporaryCheckpoint() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// `make(seed)` builds the model. The model built with seed 1 trains kTrainedSteps steps and is
/// saved; the one built with seed 2 loads it; both then train kContinuedSteps steps on the same
/// batches, and must agree exactly after loading, at every step and after it, and in their samples.
template <class Make>
void require_exact_resume(Make make) {
  const auto batches = data_batches(kTrainedSteps + kContinuedSteps);
  auto original = make(1);
  for (int i = 0; i < kTrainedSteps; ++i) original.train_step(batches[i]);
  const TemporaryCheckpoint checkpoint;
  gpm::io::save(original, checkpoint.path());

  auto restored = make(2);
  require_every_part_differs(snapshot(original), snapshot(restored));
  gpm::io::load(restored, checkpoint.path());
  require_identical(snapshot(original), snapshot(restored), "after loading");

  for (int i = kTrainedSteps; i < kTrainedSteps + kContinuedSteps; ++i) {
    INFO("continued step " << i);
    require_same_stats(original.train_step(batches[i]), restored.train_step(batches[i]));
  }
  require_identical(snapshot(original), snapshot(restored), "after continuing");
  const auto samples = original.sample(kBatch);
  CHECK(samples.isfinite().all().template item<bool>());
  CHECK(same(samples, restored.sample(kBatch)));
}

gpm::ParticleModelOptions particle_model_options(uint64_t seed) {
  return gpm::ParticleModelOptions().seed(seed).device(t::device());
}

gpm::InteractingParticleModelOptions interacting_options(uint64_t seed) {
  return gpm::InteractingParticleModelOptions().seed(seed).device(t::device());
}

gpm::Generator<nn::Mlp, torch::optim::Adam> tiny_generator(bool batch_norm, double weight_average) {
  return {tiny_mlp(kLatentDim, kDim, batch_norm), gpm::GaussianPrior(gpm::GaussianPriorOptions({kLatentDim})), adam(),
          gpm::GeneratorOptions().weight_average(weight_average)};
}

gpm::DiscriminatorFlow<nn::Mlp, gpm::NonSaturatingLoss> tiny_critic_flow(uint64_t seed) {
  return {tiny_mlp(kDim, 1), gpm::NonSaturatingLoss{}, adam(),
          gpm::DiscriminatorFlowOptions().penalty(gpm::GradientPenaltyOptions().weight(0.1)).seed(seed).weight_average(0.9)};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ParticleModel with each kind of trainable flow

TEST_CASE("checkpoint: ParticleModel with a data-trainable DenoisingScoreFlow and its weight average resumes "
          "exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    using Trainer = gpm::DenoiserTrainer<nn::EdmMlpDenoiser, torch::optim::Adam, gpm::LogNormalSigma>;
    return gpm::ParticleModel(
        gpm::DenoisingScoreFlow(Trainer(tiny_denoiser(seed), gpm::LogNormalSigma(), adam(),
                                        gpm::DenoiserTrainerOptions().seed(seed + 1).weight_average(0.9))),
        gpm::EdmStochastic(gpm::EdmStochasticOptions().s_churn(10.0)),
        gpm::KarrasGrid(gpm::KarrasGridOptions(4).sigma_max(10.0)), gpm::GaussianPrior(gpm::GaussianPriorOptions({kDim}).std(10.0)),
        particle_model_options(seed));
  });
}

TEST_CASE("checkpoint: ParticleModel with a DiscriminatorFlow (Algorithm 3, interpolation penalty, weight average) "
          "resumes exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    return gpm::ParticleModel(
        gpm::DiscriminatorFlow<nn::TimeMlp, gpm::NonSaturatingLoss>(
            tiny_time_mlp(kDim, 1, seed), gpm::NonSaturatingLoss{}, adam(),
            gpm::DiscriminatorFlowOptions().penalty(gpm::GradientPenaltyOptions().weight(0.1)).seed(seed + 1).weight_average(0.9)),
        gpm::EulerMaruyama(gpm::ConstantDiffusion(0.1)), gpm::UniformGrid(gpm::UniformGridOptions(4)),
        gpm::GaussianPrior(gpm::GaussianPriorOptions({kDim})), particle_model_options(seed));
  });
}

TEST_CASE("checkpoint: ParticleModel with a Perturbed DiscriminatorFlow resumes exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    return gpm::ParticleModel(
        gpm::Perturbed(gpm::DiscriminatorFlow<nn::TimeMlp, gpm::NonSaturatingLoss>(
                           tiny_time_mlp(kDim, 1, seed), gpm::NonSaturatingLoss{}, adam(), gpm::DiscriminatorFlowOptions().seed(seed + 1)),
                       gpm::ScheduleSigma(0.1, 1.0, 3.0), gpm::PerturbedOptions().seed(seed + 2).device(t::device())),
        gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(4)), gpm::GaussianPrior(gpm::GaussianPriorOptions({kDim})),
        particle_model_options(seed));
  });
}

TEST_CASE("checkpoint: ParticleModel with an MmdFlow keeps its target samples", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    return gpm::ParticleModel(gpm::MmdFlow(gpm::RbfKernel(), torch::randn({kBatch, kDim}, torch::TensorOptions().device(t::device()))),
                              gpm::Euler{}, gpm::UniformGrid(gpm::UniformGridOptions(4)),
                              gpm::GaussianPrior(gpm::GaussianPriorOptions({kDim})), particle_model_options(seed));
  });
}

// ---------------------------------------------------------------------------------------------
// InteractingParticleModel with each generator and trainable flow

TEST_CASE("checkpoint: InteractingParticleModel with a generator and a DiscriminatorFlow, both averaged, two flow "
          "steps per generator step, resumes exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    return gpm::InteractingParticleModel(tiny_generator(/*batch_norm=*/false, 0.9), tiny_critic_flow(seed + 1),
                                         interacting_options(seed).flow_steps_per_generator_step(2));
  });
}

TEST_CASE("checkpoint: InteractingParticleModel with instance noise keeps its noise stream and its annealing",
          "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    return gpm::InteractingParticleModel(
        tiny_generator(/*batch_norm=*/false, 0.9),
        gpm::InstanceNoise(tiny_critic_flow(seed + 1),
                           gpm::InstanceNoiseOptions().std(0.5).anneal_updates(5).seed(seed + 2).device(t::device())),
        interacting_options(seed));
  });
}

TEST_CASE("checkpoint: InteractingParticleModel with a SMaRt flow (a discriminator plus a lazy, weighted "
          "score-matching regularity) keeps the regularity's stream and schedule", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    gpm::ScoreMatchingRegularity regularity(
        tiny_denoiser(seed + 10), gpm::ScoreMatchingRegularityOptions().seed(seed + 3).device(t::device()));
    return gpm::InteractingParticleModel(
        tiny_generator(/*batch_norm=*/false, 0.9),
        gpm::FlowSum(tiny_critic_flow(seed + 1), gpm::Every(gpm::Weighted(std::move(regularity), 0.5), 3)),
        interacting_options(seed));
  });
}

TEST_CASE("checkpoint: InteractingParticleModel with top-k generator steps keeps its annealing count", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    return gpm::InteractingParticleModel(
        tiny_generator(/*batch_norm=*/false, 0.9),
        gpm::TopK(tiny_critic_flow(seed + 1), gpm::TopKOptions().decay(0.5).min_fraction(0.25).epoch_evaluations(1)),
        interacting_options(seed));
  });
}

TEST_CASE("checkpoint: InteractingParticleModel with a batch-norm generator keeps its running and averaged "
          "statistics", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    return gpm::InteractingParticleModel(tiny_generator(/*batch_norm=*/true, 0.9), tiny_critic_flow(seed + 1),
                                         interacting_options(seed));
  });
}

TEST_CASE("checkpoint: InteractingParticleModel with a Perturbed ScoreDifferenceFlow (frozen data denoiser, "
          "averaged D_phi trainer) resumes exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    const gpm::ScheduleSigma schedule(0.1, 10.0, 3.0);
    using Trainer = gpm::DenoiserTrainer<nn::EdmMlpDenoiser, torch::optim::Adam, gpm::ScheduleSigma>;
    gpm::ScoreDifferenceFlow<nn::EdmMlpDenoiser, nn::EdmMlpDenoiser> flow(
        tiny_denoiser(seed + 10),
        Trainer(tiny_denoiser(seed), schedule, adam(), gpm::DenoiserTrainerOptions().seed(seed + 1).weight_average(0.9)));
    return gpm::InteractingParticleModel(tiny_generator(/*batch_norm=*/false, 0.0),
                                         gpm::Perturbed(std::move(flow), schedule,
                                                        gpm::PerturbedOptions().seed(seed + 2).device(t::device())),
                                         interacting_options(seed));
  });
}

TEST_CASE("checkpoint: InteractingParticleModel with free particles under SGD with momentum and an MmdFlow resumes "
          "exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    const gpm::ScopedGlobalSeed init(seed);
    gpm::FreeParticles particles(torch::randn({kBatch, kDim}, torch::TensorOptions().device(t::device())));
    return gpm::InteractingParticleModel(
        gpm::Generator<gpm::FreeParticles, torch::optim::SGD, gpm::OneHotLatents>(
            particles, gpm::OneHotLatents(kBatch), torch::optim::SGDOptions(0.1).momentum(0.9)),
        gpm::MmdFlow(gpm::RbfKernel()), interacting_options(seed).generator_batch_size(kBatch));
  });
}

// ---------------------------------------------------------------------------------------------
// The four paper models, through their factories

TEST_CASE("checkpoint: make_gan resumes exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) { return gpm::make_gan(kDim, small_gan_options().seed(seed).device(t::device())); });
}

TEST_CASE("checkpoint: make_edm resumes exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) { return gpm::make_edm(kDim, small_edm_options().seed(seed).device(t::device())); });
}

TEST_CASE("checkpoint: make_discriminator_flow resumes exactly", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    return gpm::make_discriminator_flow(kDim, small_discriminator_flow_options().seed(seed).device(t::device()));
  });
}

TEST_CASE("checkpoint: make_score_gan resumes exactly, its data denoiser included", "[checkpoint]") {
  require_exact_resume([](uint64_t seed) {
    auto data = gpm::make_edm_mlp_denoiser(kDim, small_edm_options().seed(seed + 10).device(t::device()));
    return gpm::make_score_gan(kDim, data, small_score_gan_options().seed(seed).device(t::device()));
  });
}

// ---------------------------------------------------------------------------------------------
// Loading into another architecture

namespace {

/// The message of the gpm::InvalidArgument that loading `path` into `model` throws.
template <class Model>
std::string load_error(Model& model, const std::filesystem::path& path) {
  try {
    gpm::io::load(model, path);
  } catch (const gpm::InvalidArgument& e) {
    return e.what();
  }
  FAIL("loading '" << path.string() << "' into another architecture succeeded");
  return {};
}

}  // namespace

TEST_CASE("checkpoint: loading into another model or architecture is a gpm::InvalidArgument naming the file",
          "[checkpoint][errors]") {
  const TemporaryCheckpoint checkpoint;
  gpm::io::save(gpm::make_gan(kDim, small_gan_options().seed(1)), checkpoint.path());
  const auto require_refused = [&](auto model) {
    const std::string message = load_error(model, checkpoint.path());
    CHECK_THAT(message, Contains(checkpoint.path().string()) && Contains("written for a different model or configuration"));
    CHECK_THAT(message, !Contains("Exception raised from") && !Contains("frame #"));  // LibTorch's backtrace
  };
  SECTION("another model") { require_refused(gpm::make_edm(kDim, small_edm_options())); }
  SECTION("wider networks") { require_refused(gpm::make_gan(kDim, small_gan_options(32))); }
  SECTION("a shallower network") { require_refused(gpm::make_gan(kDim, small_gan_options(16, 1))); }
  SECTION("a deeper network") { require_refused(gpm::make_gan(kDim, small_gan_options(16, 3))); }
  SECTION("a generator with batch norm") {
    const auto o = small_gan_options();
    require_refused(gpm::make_gan(kDim, gpm::GanOptions(o).generator(nn::MlpOptions(o.generator()).batch_norm(true))));
  }
}

// A checkpoint of another architecture is refused before any weight changes shape (LibTorch's own
// Module::load would take the saved shapes), and a load refused part-way restores what it had
// already overwritten.

TEST_CASE("checkpoint: a checkpoint of narrower networks is refused without a weight average too",
          "[checkpoint][errors]") {
  const TemporaryCheckpoint checkpoint;
  gpm::io::save(gpm::make_gan(kDim, small_gan_options().weight_average(0.0).seed(1)), checkpoint.path());
  auto wider = gpm::make_gan(kDim, small_gan_options(32).weight_average(0.0));
  CHECK_THROWS_AS(gpm::io::load(wider, checkpoint.path()), gpm::InvalidArgument);
  CHECK(wider.dynamics().net()->parameters().front().size(0) == 32);
}

TEST_CASE("checkpoint: a refused load leaves the model as it was", "[checkpoint][errors]") {
  const TemporaryCheckpoint checkpoint;
  gpm::io::save(gpm::make_gan(kDim, small_gan_options().weight_average(0.0).seed(1)), checkpoint.path());
  auto shallower = gpm::make_gan(kDim, small_gan_options(16, 1).weight_average(0.0).seed(2));
  const auto before = snapshot(shallower);
  CHECK_THROWS_AS(gpm::io::load(shallower, checkpoint.path()), gpm::InvalidArgument);
  require_identical(before, snapshot(shallower), "after the refused load");
}

TEST_CASE("checkpoint: a checkpoint written on the CPU, loaded onto the device, leaves the model on its device",
          "[checkpoint]") {
  // LibTorch moves a parameter to the device an archive was saved from unless the archive is read
  // onto the model's device: gpm::io::load's device argument.
  const TemporaryCheckpoint checkpoint;
  nn::Mlp saved(nn::MlpOptions(kDim, kDim).width(16).depth(2).batch_norm(true));
  {
    torch::NoGradGuard no_grad;
    for (auto& tensor : saved->parameters()) tensor.uniform_(-1, 1);
    for (auto& tensor : saved->buffers())
      if (tensor.is_floating_point()) tensor.uniform_(0.5, 1.5);
  }
  gpm::io::save(*saved, checkpoint.path());
  auto loaded = tiny_mlp(kDim, kDim, /*batch_norm=*/true);
  gpm::io::load(*loaded, checkpoint.path(), t::device());
  const auto expected = saved->named_parameters(), got = loaded->named_parameters();
  for (const auto& item : expected) {
    INFO(item.key());
    CHECK(got[item.key()].device() == t::device());
    CHECK(torch::equal(got[item.key()].to(torch::kCPU), item.value()));
  }
  const auto expected_buffers = saved->named_buffers(), got_buffers = loaded->named_buffers();
  for (const auto& item : expected_buffers) {
    INFO(item.key());
    CHECK(got_buffers[item.key()].device() == t::device());
    CHECK(torch::equal(got_buffers[item.key()].to(torch::kCPU), item.value()));
  }
}
