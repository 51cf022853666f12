// Standardized coordinates in the runner: which data a model trains on standardized, and a Run
// that feeds its model standardized batches and hands back samples and fields in data coordinates.
#pragma once

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gpm/data.hpp>

#include "registry.hpp"
#include "run.hpp"

namespace gpm::runner {

/// The scale of the data the defaults were measured on. Every built-in dataset's spread (the root
/// mean square of its per-coordinate standard deviations) lies in [0.5, 4] (two moons 0.71,
/// checkerboard 1.15, swiss roll 1.36, ring 2.18, grid 2.82) and its mean within 0.6 of the origin.
/// "auto" standardizes data whose spread is outside [0.5, 4] or whose mean is farther than 4 from
/// the origin, and leaves other data as it is.
struct DefaultScale {
  static constexpr double kMinSpread = 0.5;
  static constexpr double kMaxSpread = 4.0;
  static constexpr double kMaxOffset = 4.0;
};

/// Points drawn to estimate a dataset's standardization (and the seed that draws them).
inline constexpr int64_t kStandardizationPoints = 10000;
inline constexpr uint64_t kStandardizationSeed = 4242;

inline json to_json(const data::Standardization& z) {
  const auto shift = z.shift().to(torch::kFloat64).contiguous();
  return {{"shift", std::vector<double>(shift.data_ptr<double>(), shift.data_ptr<double>() + shift.numel())},
          {"scale", z.scale()}};
}

/// Reads {"shift": [..], "scale": s} as written by to_json; `where` names the file for errors.
inline data::Standardization standardization_from_json(const json& j, const std::string& where) {
  try {
    const auto shift = j.at("shift").get<std::vector<double>>();
    return data::Standardization(torch::tensor(shift, torch::kFloat32), j.at("scale").get<double>());
  } catch (const json::exception&) {
    throw InvalidArgument(fmt::format("{}: the field 'standardization' must be {{\"shift\": [numbers], \"scale\": number}}, "
                                      "got {}", where, j.dump()));
  } catch (const InvalidArgument& e) {  // a scale ≤ 0, or a shift that is not finite in float32
    throw InvalidArgument(fmt::format("{}: the field 'standardization' is invalid: {}", where, e.what()));
  }
}

/// The standardization a new run trains with under `mode` ("auto", "always" or "never"), fitted on
/// points drawn from `data`; none when the model trains on the data's own coordinates.
inline std::optional<data::Standardization> choose_standardization(const std::string& mode, const data::AnyDataset& data) {
  if (mode == "never") return std::nullopt;
  auto gen = make_generator(kStandardizationSeed);
  auto z = data::Standardization::fit(data.sample(kStandardizationPoints, gen));
  if (mode == "always") return z;
  const double offset = z.shift().to(torch::kFloat64).norm().item<double>();
  if (z.scale() >= DefaultScale::kMinSpread && z.scale() <= DefaultScale::kMaxSpread && offset <= DefaultScale::kMaxOffset)
    return std::nullopt;
  return z;
}

/// The coordinates a new run trains in. A model driven by a data denoiser (a Score GAN) must produce
/// points in the coordinates that denoiser was trained in (`denoiser_coordinates`, of the EDM run
/// `denoiser_run`); any other model follows its config's "standardize".
inline std::optional<data::Standardization> training_coordinates(const ModelEntry& model, const json& config,
                                                                 const data::AnyDataset& data,
                                                                 const std::optional<data::Standardization>& denoiser_coordinates,
                                                                 const std::string& denoiser_run) {
  const auto mode = config.at("standardize").get<std::string>();
  if (!model.needs_data_denoiser) return choose_standardization(mode, data);
  GPM_CHECK(mode == "auto" || (mode == "always") == denoiser_coordinates.has_value(), "\"standardize\": \"{}\" conflicts "
            "with the data denoiser: the EDM in '{}' trained {}; a {} trains in its EDM's coordinates, so leave "
            "\"standardize\" at \"auto\"", mode, denoiser_run,
            denoiser_coordinates ? "on standardized data" : "on the data's own coordinates", model.name);
  return denoiser_coordinates;
}

/// One line for the terminal saying which coordinates a run trains in.
inline std::string describe(const data::Standardization& z) {
  const auto shift = to_json(z).at("shift").get<std::vector<double>>();
  return fmt::format("the model trains on standardized data (x - ({:.4g})) / {:.4g}; samples come back in data coordinates",
                     fmt::join(shift, ", "), z.scale());
}

/// A run whose model works in standardized coordinates z = (x − shift) / scale: training batches go
/// in standardized, and samples, trajectories, velocities and discriminator shading come out in
/// the data's coordinates. The checkpoint is the inner model's; the standardization lives in run.json.
class StandardizedRun final : public Run {
 public:
  StandardizedRun(std::unique_ptr<Run> inner, data::Standardization z) : inner_(std::move(inner)), z_(std::move(z)) {}

  torch::Device device() override { return inner_->device(); }
  void set_precision(Precision precision) override { inner_->set_precision(precision); }
  Stats train_step(const torch::Tensor& batch) override { return inner_->train_step(z_.to_standard(batch)); }
  torch::Tensor sample(int64_t n, std::optional<int64_t> steps) override { return z_.from_standard(inner_->sample(n, steps)); }
  std::vector<std::string> refinements() const override { return inner_->refinements(); }
  std::vector<std::string> guided_samplers() const override { return inner_->guided_samplers(); }
  torch::Tensor guided_sample(int64_t n, const RefinementRequest& request) override {
    return z_.from_standard(inner_->guided_sample(n, request));
  }
  torch::Tensor refine(const torch::Tensor& x, const RefinementRequest& request, std::optional<int64_t> steps) override {
    return z_.from_standard(inner_->refine(z_.to_standard(x), request, steps));
  }
  void seed(uint64_t seed) override { inner_->seed(seed); }
  at::Generator& generator() override { return inner_->generator(); }
  void save(torch::serialize::OutputArchive& archive) const override { inner_->save(archive); }
  void load(torch::serialize::InputArchive& archive) override { inner_->load(archive); }
  int64_t generation_steps() const override { return inner_->generation_steps(); }
  double last_step_time() const override { return inner_->last_step_time(); }
  void scale_learning_rate(double factor) override { inner_->scale_learning_rate(factor); }
  torch::Tensor velocity(const torch::Tensor& x, double t) override {
    return z_.velocity_from_standard(inner_->velocity(z_.to_standard(x), t));
  }
  std::optional<Trajectory> trajectory(int64_t n) override {
    auto tr = inner_->trajectory(n);
    if (tr) {
      for (auto& state : tr->states) state = z_.from_standard(state);
      for (auto& v : tr->velocities) v = z_.velocity_from_standard(v);
    }
    return tr;
  }
  torch::Tensor generator_loss(const torch::Tensor& x, double t) override {
    return inner_->generator_loss(z_.to_standard(x), t);
  }
  std::string time_name() const override { return inner_->time_name(); }
  std::optional<DataDenoiserNetwork> sampling_denoiser() override { return inner_->sampling_denoiser(); }
  int64_t latent_dim() override { return inner_->latent_dim(); }
  torch::Tensor generate(const torch::Tensor& z) override { return z_.from_standard(inner_->generate(z)); }
  torch::Tensor latents(int64_t n, uint64_t seed) override { return inner_->latents(n, seed); }
  bool field_follows_training() const override { return inner_->field_follows_training(); }
  void save_field(const fs::path& path) override { inner_->save_field(path); }
  void load_field(const fs::path& path) override { inner_->load_field(path); }

  Run& inner() { return *inner_; }

 private:
  std::unique_ptr<Run> inner_;
  data::Standardization z_;
};

/// The model behind `run`, whether or not it trains in standardized coordinates.
inline Run& model_run(Run& run) {
  auto* standardized = dynamic_cast<StandardizedRun*>(&run);
  return standardized ? standardized->inner() : run;
}

/// `run`, wrapped in its standardization when it has one.
inline std::unique_ptr<Run> in_coordinates(std::unique_ptr<Run> run, const std::optional<data::Standardization>& z) {
  if (!z) return run;
  return std::make_unique<StandardizedRun>(std::move(run), *z);
}

}  // namespace gpm::runner
