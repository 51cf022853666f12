// A model as the runner sees it (Run), and the three adapters that make any library model one: a
// generator (GAN, Score GAN), a particle model (Discriminator Flow) and EDM with its samplers, on
// point clouds or on flat images alike.
// What differs between models is asked of the model through its type, never by its name.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpm/core/capabilities.hpp>
#include <gpm/core/mixed_precision.hpp>
#include <gpm/data.hpp>
#include <gpm/generators/generator.hpp>
#include <gpm/integrators.hpp>
#include <gpm/io/checkpoint.hpp>
#include <gpm/io/config.hpp>
#include <gpm/models/adversarial_edm.hpp>
#include <gpm/models/discriminator_samplers.hpp>
#include <gpm/models/edm.hpp>
#include <gpm/models/image_edm.hpp>
#include <gpm/models/particle_model.hpp>
#include <gpm/models/refinement.hpp>

namespace gpm::runner {

namespace fs = std::filesystem;
using nlohmann::json;

/// A refinement asked for on the command line: `kind[:key=value,...]`, e.g. `flow:steps=20,time=2`.
struct RefinementRequest {
  std::string kind;
  json options = json::object();
};

/// The trained denoiser of an EDM run, to drive a model that needs one: an MLP's on point clouds, a
/// U-Net's on images.
using DataDenoiserNetwork = std::variant<nn::EdmMlpDenoiser, nn::EdmUNetDenoiser>;

/// A model as the runner sees it. Its tensors live on its device(); the tensors it takes and gives
/// (batches, samples, latents, fields) are on the CPU, where the runner's data, files and metrics are.
class Run {
 public:
  virtual ~Run() = default;
  /// Where the model's parameters, optimiser states and random streams live.
  virtual torch::Device device() = 0;
  /// The arithmetic of the networks' convolutions and products in every call below that runs them
  /// (TrainSettings::precision); float32 unless set.
  virtual void set_precision(Precision precision) = 0;
  virtual Stats train_step(const torch::Tensor& batch) = 0;
  /// n samples of the model itself; `steps` stops a particle model's flow after that many of its N steps.
  virtual torch::Tensor sample(int64_t n, std::optional<int64_t> steps) = 0;
  /// The refinements `refine` accepts (a generator's: "flow", by the field that trained it, and
  /// "denoiser", by a Score GAN's data denoiser); none for a particle model.
  virtual std::vector<std::string> refinements() const { return {}; }
  /// `x` moved by the refinement `request`, stopping after `steps` of its steps if given.
  virtual torch::Tensor refine(const torch::Tensor& /*x*/, const RefinementRequest& request, std::optional<int64_t> /*steps*/) {
    throw InvalidArgument(fmt::format("--refine {}: this model has no refinement; it samples along its own flow", request.kind));
  }
  /// The discriminator-guided samplers `guided_sample` accepts (a GAN's: "latent", by refined
  /// latents, and "drs", by rejection); none for a model without a discriminator.
  virtual std::vector<std::string> guided_samplers() const { return {}; }
  /// n samples of the generator guided by its discriminator, as `request` says.
  virtual torch::Tensor guided_sample(int64_t /*n*/, const RefinementRequest& request) {
    throw InvalidArgument(fmt::format("--guided {}: this model has no discriminator to guide a generator by; --guided "
                                      "applies to runs of a GAN", request.kind));
  }
  virtual void seed(uint64_t seed) = 0;
  /// The model's random stream, which sampling draws from.
  virtual at::Generator& generator() = 0;
  /// The whole training state: networks, optimisers, random streams, counters.
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
  /// N, the generation steps of a particle model; 0 for a generator (one pass).
  virtual int64_t generation_steps() const = 0;
  /// Every optimiser's learning rate times `factor` of the rate it was built with.
  virtual void scale_learning_rate(double factor) = 0;
  /// The velocity the flow gives particles x at time t (for figures).
  virtual torch::Tensor velocity(const torch::Tensor& x, double t) = 0;
  /// The time at which snapshots take the velocity of final samples: a particle model's last step,
  /// t_{N−1}, the last grid time its field is trained for and defined at (EDM's smallest noise level
  /// σ_min: its probability flow (x − D(x, σ)) / σ is undefined at the final σ = 0); 0 for a
  /// generator, whose field has no generation time.
  virtual double last_step_time() const { return 0.0; }
  /// A particle model's generation trajectory of n particles; none for a generator.
  virtual std::optional<Trajectory> trajectory(int64_t /*n*/) { return std::nullopt; }
  /// The name of generation time in figures: "t", or "sigma" for a noise level.
  virtual std::string time_name() const { return "t"; }
  /// The pointwise generator loss c(f(x, t)) of a discriminator-driven flow; undefined otherwise.
  virtual torch::Tensor generator_loss(const torch::Tensor& /*x*/, double /*t*/) { return {}; }
  /// Whether the field changes along training time (a generator's discriminator): then figures keep
  /// the discriminator of each snapshot with save_field and draw its shading with load_field.
  virtual bool field_follows_training() const { return false; }
  virtual void save_field(const fs::path& /*path*/) {}
  virtual void load_field(const fs::path& /*path*/) {}
  /// A copy of the denoiser this model samples with (an EDM's), to drive another model; none otherwise.
  virtual std::optional<DataDenoiserNetwork> sampling_denoiser() { return std::nullopt; }
  /// A generator's latent dimension; 0 for a particle model, which has no latent.
  virtual int64_t latent_dim() { return 0; }
  /// The generator's outputs for latents z [N, latent_dim()] (eval mode, its sampling weights).
  virtual torch::Tensor generate(const torch::Tensor& /*z*/) {
    throw InvalidArgument("this model has no generator: it samples along its own flow, from no latent");
  }
  /// n latents drawn from the generator's prior with a stream seeded by `seed`.
  virtual torch::Tensor latents(int64_t /*n*/, uint64_t /*seed*/) {
    throw InvalidArgument("this model has no generator: it samples along its own flow, from no latent");
  }
};

/// t_{N−1}, the time of a particle model's last generation step.
template <class Model>
double last_step_time_of(const Model& model) {
  const auto times = model.grid().times();
  return times[times.size() - 2];
}

/// The parts every model shares; subclasses say how they sample.
template <class Model>
class ModelRun : public Run {
 public:
  explicit ModelRun(Model model) : model_(std::move(model)) {}
  torch::Device device() override { return model_.generator().device(); }
  void set_precision(Precision precision) override { precision_ = precision; }
  Stats train_step(const torch::Tensor& batch) override {
    const auto arithmetic = precision();
    return model_.train_step(on_device(batch));
  }
  void seed(uint64_t seed) override { model_.seed(seed); }
  at::Generator& generator() override { return model_.generator(); }
  void save(torch::serialize::OutputArchive& archive) const override { model_.save(archive); }
  void load(torch::serialize::InputArchive& archive) override { model_.load(archive); }
  void scale_learning_rate(double factor) override { scale_learning_rate_of(model_, factor); }
  // Figures show the field particles follow when sampled: the flow's averaged weights, if it keeps any.
  torch::Tensor velocity(const torch::Tensor& x, double t) override {
    torch::NoGradGuard no_grad;
    const auto arithmetic = precision();
    const auto weights = averaged_weights_of(model_.flow());
    const auto particles = on_device(x);
    return on_cpu(model_.flow().velocity(particles, particle_times(t, particles)));
  }
  torch::Tensor generator_loss(const torch::Tensor& x, double t) override {
    if constexpr (has_discriminator) {
      torch::NoGradGuard no_grad;
      const auto arithmetic = precision();
      const auto weights = averaged_weights_of(model_.flow());
      const auto particles = on_device(x);
      const auto logits = model_.flow().logits(particles, particle_times(t, particles));
      return on_cpu(model_.flow().loss().generator_loss(logits).to(particles.scalar_type()));
    } else {
      return {};
    }
  }
  Model& model() { return model_; }

 protected:
  /// The run's arithmetic for the scope of the returned object.
  MixedPrecision precision() { return MixedPrecision(precision_, device()); }
  /// `x` moved to the model's device, and a result of the model moved to the CPU (Run's interface).
  torch::Tensor on_device(const torch::Tensor& x) { return x.to(device()); }
  static torch::Tensor on_cpu(const torch::Tensor& x) { return x.to(torch::kCPU); }
  static std::optional<Trajectory> on_cpu(std::optional<Trajectory> trajectory) {
    if (trajectory) {
      for (auto& state : trajectory->states) state = on_cpu(state);
      for (auto& v : trajectory->velocities) v = on_cpu(v);
    }
    return trajectory;
  }

  using ModelFlow = std::remove_reference_t<decltype(std::declval<Model&>().flow())>;
  static constexpr bool has_discriminator = ExposesDiscriminator<ModelFlow>;
  Model model_;
  Precision precision_ = Precision::float32;
};

/// A model that samples in one generator pass (GAN, Score GAN). Its samples can be refined on
/// request: by the field that trained it, or by its data denoiser when its flow has one.
template <class Model>
class GeneratorRun final : public ModelRun<Model> {
 public:
  using ModelRun<Model>::ModelRun;
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps) override {
    GPM_CHECK(!steps, "--steps stops a particle model's flow or a refinement early, but this model samples in one "
              "generator pass; pass --refine to refine its samples");
    const auto arithmetic = this->precision();
    return this->on_cpu(this->model_.sample(n));
  }
  std::vector<std::string> refinements() const override {
    if constexpr (has_data_denoiser) return {"flow", "denoiser"};
    else return {"flow"};
  }
  torch::Tensor refine(const torch::Tensor& x, const RefinementRequest& request, std::optional<int64_t> steps) override {
    const auto where = "--refine " + request.kind;
    const auto arithmetic = this->precision();
    if (request.kind == "flow")
      return this->on_cpu(gpm::refine(this->model_.flow(), this->on_device(x),
                                      io::read_options(request.options, RefinementOptions(), where), this->model_.generator(),
                                      steps));
    if constexpr (has_data_denoiser) {
      if (request.kind == "denoiser")
        return this->on_cpu(denoise_refine(this->model_.flow().data_denoiser(), this->on_device(x),
                                           io::read_options(request.options, DenoisingRefinementOptions(), where),
                                           this->model_.generator(), steps));
    }
    throw InvalidArgument(fmt::format("--refine: unknown refinement '{}' for this model; choose one of {}", request.kind,
                                      fmt::join(refinements(), ", ")));
  }
  std::vector<std::string> guided_samplers() const override {
    if constexpr (ModelRun<Model>::has_discriminator) return {"latent", "drs"};
    else return {};
  }
  torch::Tensor guided_sample(int64_t n, const RefinementRequest& request) override {
    if constexpr (ModelRun<Model>::has_discriminator) {
      const auto where = "--guided " + request.kind;
      const auto arithmetic = this->precision();
      if (request.kind == "latent")
        return this->on_cpu(
            sample_with_latent_refinement(this->model_, n, io::read_options(request.options, LatentRefinementOptions(), where)));
      if (request.kind == "drs") {
        const auto result = sample_by_rejection(this->model_, n, io::read_options(request.options, RejectionSamplingOptions(), where));
        fmt::print(stderr, "--guided drs: kept {:.1f} % of the {} samples drawn after the burn-in\n", 100 * result.acceptance,
                   result.drawn);
        return this->on_cpu(result.samples);
      }
    }
    if (guided_samplers().empty()) return ModelRun<Model>::guided_sample(n, request);
    throw InvalidArgument(fmt::format("--guided: unknown sampler '{}' for this model; choose one of {}", request.kind,
                                      fmt::join(guided_samplers(), ", ")));
  }
  int64_t generation_steps() const override { return 0; }
  int64_t latent_dim() override { return this->model_.dynamics().latent().options().shape().front(); }
  torch::Tensor generate(const torch::Tensor& z) override {
    torch::NoGradGuard no_grad;
    const auto arithmetic = this->precision();
    auto& dynamics = this->model_.dynamics();
    const auto weights = averaged_weights_of(dynamics);
    const EvalMode eval(*dynamics.net());  // batch norm with its running statistics, as sample() does
    const auto options = dynamics.net()->parameters().front().options();
    return this->on_cpu(dynamics.net()->forward(z.to(options)).to(options.dtype()));
  }
  torch::Tensor latents(int64_t n, uint64_t seed) override {
    auto& dynamics = this->model_.dynamics();
    auto gen = make_generator(seed, dynamics.net()->parameters().front().device());
    return this->on_cpu(dynamics.latent().sample(n, dynamics.net()->parameters().front().options(), gen));
  }
  bool field_follows_training() const override { return this->has_discriminator; }
  void save_field(const fs::path& path) override {
    if constexpr (ModelRun<Model>::has_discriminator) io::save(*this->model_.flow().net(), path);
  }
  void load_field(const fs::path& path) override {
    if constexpr (ModelRun<Model>::has_discriminator) io::load(*this->model_.flow().net(), path, this->device());
  }

 private:
  static constexpr bool has_data_denoiser = HasDataDenoiser<typename ModelRun<Model>::ModelFlow>;
};

/// A particle model (Discriminator Flow), sampled by its own stepper with optional early stop.
template <class Model>
class ParticleRun final : public ModelRun<Model> {
 public:
  using ModelRun<Model>::ModelRun;
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps) override {
    const auto arithmetic = this->precision();
    return this->on_cpu(this->model_.sample(n, steps));
  }
  int64_t generation_steps() const override { return this->model_.steps(); }
  double last_step_time() const override { return last_step_time_of(this->model_); }
  std::optional<Trajectory> trajectory(int64_t n) override {
    const auto arithmetic = this->precision();
    return this->on_cpu(this->model_.trajectory(n));
  }
};

/// EDM, or a model sampled as EDM is (the adversarial EDM), sampled with the configured stepper;
/// generation time is the noise level. `Shape` and `Options` are what the model was made with (a
/// dimension and EdmOptions, or an ImageShape and ImageEdmOptions, say), which a copy of its
/// denoiser needs.
template <class Model, class Shape, class Options>
class EdmRun final : public ModelRun<Model> {
 public:
  EdmRun(Model model, EdmSamplerOptions sampler, Shape shape, Options options)
      : ModelRun<Model>(std::move(model)), sampler_(std::move(sampler)), shape_(shape),
        options_(std::move(options)) {}
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps) override {
    const auto arithmetic = this->precision();
    return this->on_cpu(sample_edm(this->model_, n, sampler_, steps));
  }
  int64_t generation_steps() const override { return this->model_.steps(); }
  double last_step_time() const override { return last_step_time_of(this->model_); }
  std::optional<Trajectory> trajectory(int64_t n) override {
    const auto arithmetic = this->precision();
    return this->on_cpu(this->model_.trajectory(n));
  }
  std::string time_name() const override { return "sigma"; }
  std::optional<DataDenoiserNetwork> sampling_denoiser() override {
    return DataDenoiserNetwork(copy_sampling_denoiser(this->model_, shape_, options_));
  }

 private:
  EdmSamplerOptions sampler_;
  Shape shape_;
  Options options_;
};

}  // namespace gpm::runner
