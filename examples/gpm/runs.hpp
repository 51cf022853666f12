// The runner's models behind one interface: configuration schemas (defaults = the reference's
// 2-D settings), construction, training steps, sampling, and saving/loading a run directory.
#pragma once

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <gpm/data.hpp>
#include <gpm/integrators.hpp>
#include <gpm/io/checkpoint.hpp>
#include <gpm/io/config.hpp>
#include <gpm/models/discriminator_flow_model.hpp>
#include <gpm/models/edm.hpp>
#include <gpm/models/gan.hpp>
#include <gpm/models/refinement.hpp>
#include <gpm/models/score_gan.hpp>

namespace gpm::runner {

namespace fs = std::filesystem;
using nlohmann::json;

/// Training-loop settings shared by every model.
struct TrainSettings {
  TORCH_ARG(int64_t, steps) = 1000;
  TORCH_ARG(int64_t, batch_size) = 128;
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(int64_t, log_every) = 100;
  /// Metrics on a fixed evaluation batch every eval_every steps (0: five evaluations per run).
  TORCH_ARG(int64_t, eval_every) = 0;
  /// A checkpoint every checkpoint_every steps (0: only at the end).
  TORCH_ARG(int64_t, checkpoint_every) = 0;
  /// Train on standardized coordinates: "auto" (data whose spread or offset is far from the
  /// defaults' scale), "always" or "never". See standardized_run.hpp.
  TORCH_ARG(std::string, standardize) = "auto";
  /// The learning rates fall linearly towards zero over this last fraction of the steps (0: constant).
  TORCH_ARG(double, lr_decay) = 0.0;
};

/// The learning-rate multiplier for step `step` + 1 of `total`: 1, then over the last `decay`
/// fraction of the steps falling linearly to 1 / (decay · total) at the last step.
inline double learning_rate_factor(int64_t step, int64_t total, double decay) {
  const double remaining = static_cast<double>(total - step);
  const double span = decay * static_cast<double>(total);
  return remaining < span ? remaining / span : 1.0;
}

/// Sampler of an EDM run: heun (deterministic, default), euler, sde (Euler–Maruyama on the reverse
/// SDE) or churn (EDM's stochastic Heun).
struct EdmSampler {
  TORCH_ARG(std::string, sampler) = "heun";
  TORCH_ARG(double, s_churn) = 40.0;
  TORCH_ARG(double, s_min) = 0.05;
  TORCH_ARG(double, s_max) = 50.0;
  TORCH_ARG(double, s_noise) = 1.0;
};

template <class Model, class Refinement = RefinementOptions>
struct RunConfig {
  TrainSettings train;
  Model model;
  EdmSampler sampler;  // used by EDM only
  /// Refinement of a generator's samples after training: by the model's own flow (the GAN's) or by
  /// its data denoiser (the Score GAN's).
  Refinement refinement = Refinement().steps(0);
};

// Adds the training fields; every model's schema starts with them.
template <class C>
void add_train_fields(io::ConfigSchema<C>& s) {
  s.field("steps", [](const C& c) { return c.train.steps(); }, [](C& c, int64_t v) { c.train.steps(v); },
          io::non_negative([](const C& c) { return c.train.steps(); }));
  s.field("batch_size", [](const C& c) { return c.train.batch_size(); }, [](C& c, int64_t v) { c.train.batch_size(v); },
          io::positive([](const C& c) { return c.train.batch_size(); }));
  s.field("seed", [](const C& c) { return c.train.seed(); }, [](C& c, uint64_t v) { c.train.seed(v); });
  s.field("log_every", [](const C& c) { return c.train.log_every(); }, [](C& c, int64_t v) { c.train.log_every(v); },
          io::positive([](const C& c) { return c.train.log_every(); }));
  s.field("eval_every", [](const C& c) { return c.train.eval_every(); }, [](C& c, int64_t v) { c.train.eval_every(v); },
          io::non_negative([](const C& c) { return c.train.eval_every(); }));
  s.field("checkpoint_every", [](const C& c) { return c.train.checkpoint_every(); },
          [](C& c, int64_t v) { c.train.checkpoint_every(v); },
          io::non_negative([](const C& c) { return c.train.checkpoint_every(); }));
  s.field("standardize", [](const C& c) { return c.train.standardize(); }, [](C& c, std::string v) { c.train.standardize(v); },
          [](const C& c) {
            const auto& v = c.train.standardize();
            return v == "auto" || v == "always" || v == "never" ? std::string()
                                                                : fmt::format("must be one of auto, always, never; got \"{}\"", v);
          });
  s.field("lr_decay", [](const C& c) { return c.train.lr_decay(); }, [](C& c, double v) { c.train.lr_decay(v); },
          [](const C& c) {
            const double v = c.train.lr_decay();
            return v >= 0 && v <= 1 ? std::string() : fmt::format("must be in [0, 1] (0: a constant rate), got {}", v);
          });
}

// A model field: `name` reads and writes c.model.name().
#define GPM_MODEL_FIELD(schema, C, name, check)                                                           \
  schema.field(#name, [](const C& c) { return c.model.name(); }, [](C& c, auto v) { c.model.name(v); }, \
               check([](const C& c) { return c.model.name(); }))
#define GPM_MODEL_FIELD_UNCHECKED(schema, C, name) \
  schema.field(#name, [](const C& c) { return c.model.name(); }, [](C& c, auto v) { c.model.name(v); })

// The discriminator's gradient penalty: penalty_weight (0: off), penalty_center, penalty_point.
template <class C>
void add_penalty_fields(io::ConfigSchema<C>& s) {
  s.field("penalty_weight", [](const C& c) { return c.model.penalty().weight(); },
          [](C& c, double v) { c.model.penalty(GradientPenaltyOptions(c.model.penalty()).weight(v)); },
          io::non_negative([](const C& c) { return c.model.penalty().weight(); }));
  s.field("penalty_center", [](const C& c) { return c.model.penalty().center(); },
          [](C& c, double v) { c.model.penalty(GradientPenaltyOptions(c.model.penalty()).center(v)); },
          io::non_negative([](const C& c) { return c.model.penalty().center(); }));
  s.field("penalty_point", [](const C& c) { return to_string(c.model.penalty().point()); },
          [](C& c, std::string v) { c.model.penalty(GradientPenaltyOptions(c.model.penalty()).point(parse_penalty_point(v))); });
}

using GanConfig = RunConfig<GanOptions>;
using EdmConfig = RunConfig<EdmOptions>;
using DiscrFlowConfig = RunConfig<DiscriminatorFlowModelOptions>;
using ScoreGanConfig = RunConfig<ScoreGanOptions, DenoisingRefinementOptions>;

inline io::ConfigSchema<GanConfig> gan_schema() {
  io::ConfigSchema<GanConfig> s("gan");
  add_train_fields(s);
  GPM_MODEL_FIELD(s, GanConfig, latent_dim, io::positive);
  GPM_MODEL_FIELD(s, GanConfig, width, io::positive);
  GPM_MODEL_FIELD(s, GanConfig, depth, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, GanConfig, generator_batch_norm);
  GPM_MODEL_FIELD(s, GanConfig, init_std, io::positive);
  GPM_MODEL_FIELD(s, GanConfig, input_features, io::non_negative);
  GPM_MODEL_FIELD(s, GanConfig, input_feature_scale, io::positive);
  GPM_MODEL_FIELD(s, GanConfig, lr, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, GanConfig, beta1);
  GPM_MODEL_FIELD_UNCHECKED(s, GanConfig, beta2);
  GPM_MODEL_FIELD(s, GanConfig, discriminator_steps, io::positive);
  GPM_MODEL_FIELD(s, GanConfig, weight_average, io::decay);
  add_penalty_fields(s);
  // Sampling: K Euler steps of the discriminator's flow over time T after the generator (0: none).
  s.field("refine_steps", [](const GanConfig& c) { return c.refinement.steps(); },
          [](GanConfig& c, int64_t v) { c.refinement.steps(v); },
          io::non_negative([](const GanConfig& c) { return c.refinement.steps(); }));
  s.field("refine_time", [](const GanConfig& c) { return c.refinement.time(); },
          [](GanConfig& c, double v) { c.refinement.time(v); },
          io::positive([](const GanConfig& c) { return c.refinement.time(); }));
  return s;
}

template <class C>
void add_edm_fields(io::ConfigSchema<C>& s) {
  GPM_MODEL_FIELD(s, C, width, io::positive);
  GPM_MODEL_FIELD(s, C, depth, io::positive);
  GPM_MODEL_FIELD(s, C, embedding_size, io::positive);
  GPM_MODEL_FIELD(s, C, fourier_scale, io::positive);
  GPM_MODEL_FIELD(s, C, input_features, io::non_negative);
  GPM_MODEL_FIELD(s, C, input_feature_scale, io::positive);
  GPM_MODEL_FIELD(s, C, sigma_data, io::positive);
  GPM_MODEL_FIELD(s, C, sigma_min, io::positive);
  GPM_MODEL_FIELD(s, C, sigma_max, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, C, p_mean);
  GPM_MODEL_FIELD(s, C, p_std, io::positive);
  GPM_MODEL_FIELD(s, C, lr, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, C, beta1);
  GPM_MODEL_FIELD_UNCHECKED(s, C, beta2);
  GPM_MODEL_FIELD(s, C, sampling_steps, io::positive);
  GPM_MODEL_FIELD(s, C, rho, io::positive);
  GPM_MODEL_FIELD(s, C, weight_average, io::decay);
}

inline io::ConfigSchema<EdmConfig> edm_schema() {
  io::ConfigSchema<EdmConfig> s("edm");
  add_train_fields(s);
  add_edm_fields(s);
  s.field("sampler", [](const EdmConfig& c) { return c.sampler.sampler(); }, [](EdmConfig& c, std::string v) { c.sampler.sampler(v); },
          [](const EdmConfig& c) {
            const auto& v = c.sampler.sampler();
            return v == "heun" || v == "euler" || v == "sde" || v == "churn"
                       ? std::string()
                       : fmt::format("must be one of heun, euler, sde, churn; got \"{}\"", v);
          });
  s.field("s_churn", [](const EdmConfig& c) { return c.sampler.s_churn(); }, [](EdmConfig& c, double v) { c.sampler.s_churn(v); },
          io::non_negative([](const EdmConfig& c) { return c.sampler.s_churn(); }));
  s.field("s_min", [](const EdmConfig& c) { return c.sampler.s_min(); }, [](EdmConfig& c, double v) { c.sampler.s_min(v); });
  s.field("s_max", [](const EdmConfig& c) { return c.sampler.s_max(); }, [](EdmConfig& c, double v) { c.sampler.s_max(v); });
  s.field("s_noise", [](const EdmConfig& c) { return c.sampler.s_noise(); }, [](EdmConfig& c, double v) { c.sampler.s_noise(v); },
          io::positive([](const EdmConfig& c) { return c.sampler.s_noise(); }));
  return s;
}

inline io::ConfigSchema<DiscrFlowConfig> discr_flow_schema() {
  io::ConfigSchema<DiscrFlowConfig> s("discr-flow");
  add_train_fields(s);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, width, io::positive);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, depth, io::positive);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, embedding_size, io::positive);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, fourier_scale, io::positive);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, init_std, io::positive);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, input_features, io::non_negative);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, input_feature_scale, io::positive);
  // N, the flow's Euler steps ("steps" is the number of training steps).
  s.field("generation_steps", [](const DiscrFlowConfig& c) { return c.model.steps(); },
          [](DiscrFlowConfig& c, int64_t v) { c.model.steps(v); }, io::positive([](const DiscrFlowConfig& c) { return c.model.steps(); }));
  GPM_MODEL_FIELD(s, DiscrFlowConfig, eta, io::positive);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, entropy_reg, io::non_negative);
  GPM_MODEL_FIELD_UNCHECKED(s, DiscrFlowConfig, prior_mean);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, prior_std, io::positive);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, lr, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, DiscrFlowConfig, beta1);
  GPM_MODEL_FIELD_UNCHECKED(s, DiscrFlowConfig, beta2);
  GPM_MODEL_FIELD(s, DiscrFlowConfig, weight_average, io::decay);
  add_penalty_fields(s);
  return s;
}

inline io::ConfigSchema<ScoreGanConfig> score_gan_schema() {
  io::ConfigSchema<ScoreGanConfig> s("score-gan");
  add_train_fields(s);
  GPM_MODEL_FIELD(s, ScoreGanConfig, latent_dim, io::positive);
  GPM_MODEL_FIELD(s, ScoreGanConfig, width, io::positive);
  GPM_MODEL_FIELD(s, ScoreGanConfig, depth, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, ScoreGanConfig, generator_batch_norm);
  GPM_MODEL_FIELD(s, ScoreGanConfig, sigma_min, io::positive);
  GPM_MODEL_FIELD(s, ScoreGanConfig, sigma_max, io::positive);
  GPM_MODEL_FIELD(s, ScoreGanConfig, rho, io::positive);
  GPM_MODEL_FIELD(s, ScoreGanConfig, score_steps, io::positive);
  GPM_MODEL_FIELD(s, ScoreGanConfig, score_lr, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, ScoreGanConfig, edm_weighting);
  GPM_MODEL_FIELD(s, ScoreGanConfig, generator_lr, io::positive);
  GPM_MODEL_FIELD_UNCHECKED(s, ScoreGanConfig, data_weight);
  GPM_MODEL_FIELD_UNCHECKED(s, ScoreGanConfig, generated_weight);
  GPM_MODEL_FIELD(s, ScoreGanConfig, weight_average, io::decay);
  // The generated-score denoiser D_φ: EDM's architecture, sized independently of the generator.
  s.field("denoiser_width", [](const ScoreGanConfig& c) { return c.model.denoiser().width(); },
          [](ScoreGanConfig& c, int64_t v) { c.model.denoiser(EdmOptions(c.model.denoiser()).width(v)); },
          io::positive([](const ScoreGanConfig& c) { return c.model.denoiser().width(); }));
  s.field("denoiser_depth", [](const ScoreGanConfig& c) { return c.model.denoiser().depth(); },
          [](ScoreGanConfig& c, int64_t v) { c.model.denoiser(EdmOptions(c.model.denoiser()).depth(v)); },
          io::positive([](const ScoreGanConfig& c) { return c.model.denoiser().depth(); }));
  s.field("denoiser_embedding_size", [](const ScoreGanConfig& c) { return c.model.denoiser().embedding_size(); },
          [](ScoreGanConfig& c, int64_t v) { c.model.denoiser(EdmOptions(c.model.denoiser()).embedding_size(v)); },
          io::positive([](const ScoreGanConfig& c) { return c.model.denoiser().embedding_size(); }));
  s.field("denoiser_fourier_scale", [](const ScoreGanConfig& c) { return c.model.denoiser().fourier_scale(); },
          [](ScoreGanConfig& c, double v) { c.model.denoiser(EdmOptions(c.model.denoiser()).fourier_scale(v)); },
          io::positive([](const ScoreGanConfig& c) { return c.model.denoiser().fourier_scale(); }));
  // Sampling: noise σ_start added to the generator's samples, then K Heun steps of the data
  // denoiser's probability flow down to 0 (0: none).
  s.field("refine_steps", [](const ScoreGanConfig& c) { return c.refinement.steps(); },
          [](ScoreGanConfig& c, int64_t v) { c.refinement.steps(v); },
          io::non_negative([](const ScoreGanConfig& c) { return c.refinement.steps(); }));
  s.field("refine_sigma", [](const ScoreGanConfig& c) { return c.refinement.sigma(); },
          [](ScoreGanConfig& c, double v) { c.refinement.sigma(v); },
          [](const ScoreGanConfig& c) {
            const auto& r = c.refinement;
            return r.sigma() > r.sigma_min() && std::isfinite(r.sigma())
                       ? std::string()
                       : fmt::format("must be a noise level above {} (the Karras grid's smallest), got {}", r.sigma_min(),
                                     r.sigma());
          });
  return s;
}

#undef GPM_MODEL_FIELD
#undef GPM_MODEL_FIELD_UNCHECKED

/// Defaults per model: the reference configurations for the 2-D Gaussian mixture, except where
/// docs/models.md records a measured improvement (25-mode mixtures need longer training: EDM trains
/// 20,000 steps instead of 10,000; the GAN 28,000 instead of 1,900, with two discriminator steps per
/// generator step, which keep it from losing modes over that long, and its learning rates decaying
/// linearly over the second half, which settles a generator that swings late in training; the Score
/// GAN 50,400 steps with one D_φ step per generator step at D_φ learning rate 1e-3, the reference's
/// MNIST ratio, instead of 31,500 with ten; EDM's denoiser and the Discriminator Flow's
/// discriminator see 128 random Fourier features of x, which sharpen the modes of a 25-mode grid;
/// the Discriminator Flow trains
/// on standardized data, so that its N(0, I) prior is as wide as the data and the flow carries mass
/// evenly to every mode, with its features at scale 3, as fine as scale 1 in a grid's own units; the
/// GAN's samples take 20 steps of its discriminator's flow over time 2, which moves the mass its
/// generator leaves between well-separated modes onto them; the Score GAN's are noised at σ = 1 and
/// denoised in 10 Heun steps by its data denoiser, which draws the modes' fine structure that its
/// generator blurs).
inline GanConfig default_gan() {
  return {TrainSettings().steps(28000).lr_decay(0.5), GanOptions().discriminator_steps(2), {}, RefinementOptions()};
}
inline EdmConfig default_edm() { return {TrainSettings().steps(20000), EdmOptions().input_features(128), {}}; }
inline DiscrFlowConfig default_discr_flow() {
  return {TrainSettings().steps(4000).standardize("always"),
          DiscriminatorFlowModelOptions().input_features(128).input_feature_scale(3.0), {}};
}
inline ScoreGanConfig default_score_gan() {
  return {TrainSettings().steps(50400).log_every(1000), ScoreGanOptions().score_steps(1).score_lr(1e-3), {},
          DenoisingRefinementOptions()};
}

/// A model as the runner sees it.
class Run {
 public:
  virtual ~Run() = default;
  virtual Stats train_step(const torch::Tensor& batch) = 0;
  /// n samples; `steps` stops a particle model's flow after that many of its N steps.
  virtual torch::Tensor sample(int64_t n, std::optional<int64_t> steps) = 0;
  virtual void seed(uint64_t seed) = 0;
  /// The model's random stream, which sampling draws from.
  virtual at::Generator& generator() = 0;
  /// The whole training state: networks, optimisers, random streams, counters.
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
  /// N, the generation steps of a particle model; a generator's refinement steps (0: none).
  virtual int64_t generation_steps() const = 0;
  /// Every optimiser's learning rate times `factor` of the rate it was built with.
  virtual void scale_learning_rate(double factor) = 0;
  /// The velocity the flow gives particles x at time t (for figures).
  virtual torch::Tensor velocity(const torch::Tensor& x, double t) = 0;
  /// A particle model's generation trajectory of n particles; none for a generator.
  virtual std::optional<Trajectory> trajectory(int64_t /*n*/) { return std::nullopt; }
  /// The pointwise generator loss c(f(x, t)) of a discriminator-driven flow; undefined otherwise.
  virtual torch::Tensor generator_loss(const torch::Tensor& /*x*/, double /*t*/) { return {}; }
  /// Whether the field changes along training time (a generator's discriminator): then figures keep
  /// the discriminator of each snapshot with save_field and draw its shading with load_field.
  virtual bool field_follows_training() const { return false; }
  virtual void save_field(const fs::path& /*path*/) {}
  virtual void load_field(const fs::path& /*path*/) {}
};

/// The parts every model shares; subclasses say how they sample.
template <class Model>
class ModelRun : public Run {
 public:
  explicit ModelRun(Model model) : model_(std::move(model)) {}
  Stats train_step(const torch::Tensor& batch) override { return model_.train_step(batch); }
  void seed(uint64_t seed) override { model_.seed(seed); }
  at::Generator& generator() override { return model_.generator(); }
  void save(torch::serialize::OutputArchive& archive) const override { model_.save(archive); }
  void load(torch::serialize::InputArchive& archive) override { model_.load(archive); }
  void scale_learning_rate(double factor) override { scale_learning_rate_of(model_, factor); }
  // Figures show the field particles follow when sampled: the flow's averaged weights, if it keeps any.
  torch::Tensor velocity(const torch::Tensor& x, double t) override {
    torch::NoGradGuard no_grad;
    const auto weights = averaged_weights_of(model_.flow());
    return model_.flow().velocity(x, particle_times(t, x));
  }
  torch::Tensor generator_loss(const torch::Tensor& x, double t) override {
    if constexpr (requires { model_.flow().loss(); }) {
      torch::NoGradGuard no_grad;
      const auto weights = averaged_weights_of(model_.flow());
      return model_.flow().loss().generator_loss(model_.flow().logits(x, particle_times(t, x)));
    } else {
      return {};
    }
  }
  Model& model() { return model_; }

 protected:
  Model model_;
};

/// A model that samples in one generator pass (GAN, Score GAN), optionally refined: by its own flow
/// (RefinementOptions) or by its data denoiser (DenoisingRefinementOptions).
template <class Model, class Refinement = RefinementOptions>
class GeneratorRun final : public ModelRun<Model> {
 public:
  GeneratorRun(Model model, const char* name, Refinement refinement = Refinement().steps(0))
      : ModelRun<Model>(std::move(model)), name_(name), refinement_(refinement) {}
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps) override {
    GPM_CHECK(!steps || refinement_.steps() > 0, "--steps stops a particle model's flow, or a generator's "
              "refinement, early, but this {} samples in one generator pass (its refine_steps is 0)", name_);
    return sample_refined(this->model_, n, refinement_, steps);
  }
  int64_t generation_steps() const override { return refinement_.steps(); }
  bool field_follows_training() const override { return has_discriminator; }
  void save_field(const fs::path& path) override {
    if constexpr (has_discriminator) io::save(*this->model_.flow().net(), path);
  }
  void load_field(const fs::path& path) override {
    if constexpr (has_discriminator) io::load(*this->model_.flow().net(), path);
  }

 private:
  static constexpr bool has_discriminator = requires(Model& m) { m.flow().loss(); };
  const char* name_;
  Refinement refinement_;
};

/// A particle model (Discriminator Flow), sampled by its own stepper with optional early stop.
template <class Model>
class ParticleRun final : public ModelRun<Model> {
 public:
  using ModelRun<Model>::ModelRun;
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps) override { return this->model_.sample(n, steps); }
  int64_t generation_steps() const override { return this->model_.steps(); }
  std::optional<Trajectory> trajectory(int64_t n) override { return this->model_.trajectory(n); }
};

/// EDM, sampled with the configured stepper.
class EdmRun final : public ModelRun<Edm<>> {
 public:
  EdmRun(Edm<> model, EdmSampler sampler, int64_t dim, EdmOptions options)
      : ModelRun<Edm<>>(std::move(model)), sampler_(std::move(sampler)), dim_(dim), options_(std::move(options)) {}
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps) override {
    const auto& name = sampler_.sampler();
    if (name == "euler") {
      Euler euler;
      return model_.sample_with(euler, n, steps);
    }
    if (name == "sde") {
      EulerMaruyama<EdmDiffusion> sde(EdmDiffusion{}, EulerMaruyamaOptions().drift_scale(2.0));
      return model_.sample_with(sde, n, steps);
    }
    if (name == "churn") {
      EdmStochastic churn(EdmStochasticOptions().s_churn(sampler_.s_churn()).s_min(sampler_.s_min()).s_max(sampler_.s_max()).s_noise(sampler_.s_noise()));
      return model_.sample_with(churn, n, steps);
    }
    return model_.sample(n, steps);
  }
  int64_t generation_steps() const override { return model_.steps(); }
  std::optional<Trajectory> trajectory(int64_t n) override { return model_.trajectory(n); }
  /// A copy of the denoiser the EDM samples with, for a Score GAN.
  nn::EdmMlpDenoiser sampling_denoiser() { return copy_sampling_denoiser(model_, dim_, options_); }

 private:
  EdmSampler sampler_;
  int64_t dim_;
  EdmOptions options_;
};

/// The models the runner knows, by command-line name.
inline const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names{"gan", "edm", "discr-flow", "score-gan"};
  return names;
}

/// A stored run's config with the fields the runner gained since, where the run predates them, at
/// the value it was trained with rather than today's default: without input_features, EDM's
/// denoiser and the Discriminator Flow's discriminator saw raw coordinates only; without
/// standardize, any model trained on the data's own coordinates; without lr_decay, at a constant rate.
inline json with_predating_fields(const std::string& model, json stored) {
  if (!stored.is_object()) return stored;
  if ((model == "edm" || model == "discr-flow") && !stored.contains("input_features")) stored["input_features"] = 0;
  if (!stored.contains("standardize")) stored["standardize"] = "never";
  if (!stored.contains("lr_decay")) stored["lr_decay"] = 0.0;
  if ((model == "gan" || model == "score-gan") && !stored.contains("refine_steps")) stored["refine_steps"] = 0;
  return stored;
}

/// Resolves a model's config: defaults, then `overrides` (a JSON object of fields). Returns the
/// resolved config as JSON (every field), ready to be written to the run directory.
inline json resolve_config(const std::string& model, const json& overrides) {
  if (model == "gan") return gan_schema().write(gan_schema().read(overrides, default_gan()));
  if (model == "edm") return edm_schema().write(edm_schema().read(overrides, default_edm()));
  if (model == "discr-flow") return discr_flow_schema().write(discr_flow_schema().read(overrides, default_discr_flow()));
  if (model == "score-gan") return score_gan_schema().write(score_gan_schema().read(overrides, default_score_gan()));
  throw InvalidArgument(fmt::format("unknown model '{}'; choose one of gan, edm, discr-flow, score-gan", model));
}

/// Training settings of a resolved config.
inline TrainSettings train_settings(const json& resolved) {
  return TrainSettings()
      .steps(resolved.at("steps").get<int64_t>())
      .batch_size(resolved.at("batch_size").get<int64_t>())
      .seed(resolved.at("seed").get<uint64_t>())
      .log_every(resolved.at("log_every").get<int64_t>())
      .eval_every(resolved.at("eval_every").get<int64_t>())
      .checkpoint_every(resolved.at("checkpoint_every").get<int64_t>())
      .standardize(resolved.at("standardize").get<std::string>())
      .lr_decay(resolved.at("lr_decay").get<double>());
}

/// Builds a model from its resolved config. A Score GAN needs the data denoiser (of a trained EDM).
inline std::unique_ptr<Run> make_run(const std::string& model, int64_t dim, const json& resolved,
                                     std::optional<nn::EdmMlpDenoiser> data_denoiser = std::nullopt) {
  if (model == "gan") {
    const auto c = gan_schema().read(resolved, default_gan());
    return std::make_unique<GeneratorRun<Gan<>>>(make_gan(dim, GanOptions(c.model).seed(c.train.seed())), "GAN",
                                                 c.refinement);
  }
  if (model == "edm") {
    const auto c = edm_schema().read(resolved, default_edm());
    const auto options = EdmOptions(c.model).seed(c.train.seed());
    return std::make_unique<EdmRun>(make_edm(dim, options), c.sampler, dim, options);
  }
  if (model == "discr-flow") {
    const auto c = discr_flow_schema().read(resolved, default_discr_flow());
    return std::make_unique<ParticleRun<DiscriminatorFlowModel<>>>(
        make_discriminator_flow(dim, DiscriminatorFlowModelOptions(c.model).seed(c.train.seed())));
  }
  if (model == "score-gan") {
    GPM_CHECK(data_denoiser.has_value(), "a Score GAN needs a data denoiser: pass --data-denoiser RUN_DIR, the run "
              "directory of a trained EDM");
    const auto c = score_gan_schema().read(resolved, default_score_gan());
    return std::make_unique<GeneratorRun<ScoreGan<>, DenoisingRefinementOptions>>(
        make_score_gan(dim, *data_denoiser, ScoreGanOptions(c.model).seed(c.train.seed())), "Score GAN", c.refinement);
  }
  throw InvalidArgument(fmt::format("unknown model '{}'; choose one of gan, edm, discr-flow, score-gan", model));
}

/// The denoiser of the EDM run in `dir`, loaded with the weights the EDM samples with (its weight
/// average if it keeps one), for a Score GAN.
inline nn::EdmMlpDenoiser load_edm_denoiser(const fs::path& dir) {
  const json run = json::parse(io::read_file(dir / "run.json"));
  GPM_CHECK(run.at("model") == "edm", "'{}' is a {} run; --data-denoiser needs the run directory of an EDM", dir.string(),
            run.at("model").get<std::string>());
  const auto options = edm_schema().read(with_predating_fields("edm", run.at("config")), default_edm()).model;
  auto net = make_edm_mlp_denoiser(run.at("dim").get<int64_t>(), options);
  torch::serialize::InputArchive archive;
  const auto path = dir / "checkpoint.pt";
  io::load_archive(archive, path);
  try {
    torch::serialize::InputArchive model, flow;
    archive.read("model", model);
    model.read("flow", flow);
    io::read_module(flow, "net", net);
    if (options.weight_average() > 0) {
      WeightAverage average(*net, options.weight_average());
      io::read_nested(flow, "average", average);
      average.swap(*net);
    }
  } catch (const std::exception& e) {
    throw InvalidArgument(fmt::format("'{}' holds no EDM denoiser: {}", path.string(), e.what()));
  }
  return net;
}

}  // namespace gpm::runner
