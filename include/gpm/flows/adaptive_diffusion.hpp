// Flow combinator: Diffusion-GAN's adaptive forward diffusion (Wang et al. 2022, arXiv:2206.02262) —
// the discriminator sees data and particles after t steps of a forward diffusion, with t/t_max as its
// time input, and the longest diffusion T grows while the discriminator overfits the data.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/archive.hpp"
#include "gpm/core/batch_shard.hpp"
#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/forwards_capabilities.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/random.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// The law of the diffusion step t ∈ {1, …, T} of a diffused input.
enum class DiffusionStepLaw {
  uniform,  ///< P(t) = 1/T
  priority  ///< P(t) = 2t / (T(T + 1)): the noisier steps more often (the source's Eq. 11)
};

/// Every law with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<DiffusionStepLaw, std::string_view>, 2> option_names(DiffusionStepLaw) {
  return {{{DiffusionStepLaw::uniform, "uniform"}, {DiffusionStepLaw::priority, "priority"}}};
}

struct AdaptiveDiffusionOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, noise_std, Range::above(0), "σ: y = √ᾱ_t x + √(1 − ᾱ_t) σ ε") = 0.05;
  GPM_OPTION(double, beta_start, Range::above(0), "β_1 of the linear schedule spread over the T steps") = 1e-4;
  GPM_OPTION(double, beta_end, Range::from_below(0, 1), "β_T of the linear schedule") = 0.02;
  GPM_OPTION(int64_t, min_steps, Range::at_least(1), "t_min, the smallest T") = 10;
  GPM_OPTION(int64_t, max_steps, Range::at_least(1), "t_max, the largest T; the discriminator's time input is t/t_max") =
      1000;
  GPM_OPTION(DiffusionStepLaw, step_law, Range::any(), "uniform: P(t) = 1/T; priority: P(t) = 2t/(T(T + 1))") =
      DiffusionStepLaw::priority;
  GPM_OPTION(double, clean_fraction, Range::between(0, 1), "the fraction of inputs left undiffused (t = 0)") = 0.5;
  GPM_OPTION(double, target, Range::between(-1, 1),
             "d_target: T grows while r_d = E[sign d(y_real, t)] is above it, and falls while below") = 0.6;
  GPM_OPTION(int64_t, adapt_every, Range::at_least(1), "discriminator updates between two adaptations of T") = 4;
  GPM_OPTION(double, adapt_samples, Range::above(0),
             "data samples over which the level p (T = t_min + round(p (t_max − t_min))) can go from 0 to 1") = 1e5;
  GPM_OPTION(double, initial_level, Range::between(0, 1), "p at the start (0: T = t_min)") = 0.0;
  GPM_OPTIONS_END

  /// ᾱ_0 = 1, …, ᾱ_T = Π_{s ≤ T} (1 − β_s) for the linear schedule β_s = β_1 + (β_T − β_1)(s − 1)/(T − 1)
  /// spread over `steps` = T steps.
  std::vector<double> alpha_bars(int64_t steps) const {
    std::vector<double> bars(static_cast<size_t>(steps) + 1, 1.0);
    for (int64_t s = 1; s <= steps; ++s) {
      const double fraction = steps == 1 ? 0.0 : static_cast<double>(s - 1) / static_cast<double>(steps - 1);
      bars[static_cast<size_t>(s)] = bars[static_cast<size_t>(s - 1)] * (1 - (beta_start() + (beta_end() - beta_start()) * fraction));
    }
    return bars;
  }

  /// T for the level p.
  int64_t steps_at(double level) const {
    const auto span = static_cast<double>(max_steps() - min_steps());
    return std::clamp(min_steps() + static_cast<int64_t>(std::llround(level * span)), min_steps(), max_steps());
  }

  /// Placement, not part of a config.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
};

/// One draw of the forward diffusion for a batch: the diffused inputs y, the discriminator's time
/// input t/t_max, and √ᾱ_t, the derivative dy/dx, per input.
struct Diffused {
  torch::Tensor y;
  torch::Tensor time;
  torch::Tensor signal_scale;
};

/// The discriminator flow f of a GAN, Diffusion-GAN style. Each input x of the discriminator — data
/// and particles, in its updates and where the particles' field is evaluated — is replaced by
/// y = √ᾱ_t x + √(1 − ᾱ_t) σ ε with its own step t (0 with probability clean_fraction, else drawn from
/// step_law over 1..T), and f receives t/t_max as its time. The field is the chain rule through the
/// diffusion: v(x) = √ᾱ_t f.velocity(y, t/t_max). Every adapt_every updates, r_d = E[sign d(y_real)]
/// over the data those updates saw moves the level p by ±(samples seen)/adapt_samples (up when r_d >
/// target: the discriminator overfits), and T = t_min + round(p (t_max − t_min)). A data sample and
/// the particle of the same index share t (the discriminator's loss is a sum of one expectation per
/// side, so the pairing changes no expectation). `logits(x, t)` is the discriminator on clean inputs.
/// It has every optional capability of f and checkpoints its stream, level and statistics.
/// Example: `AdaptiveDiffusion flow(DiscriminatorFlow(nn::TimeMlp(...), NonSaturatingLoss{}, adam), AdaptiveDiffusionOptions());`
template <TrainableFlow F>
  requires ExposesDiscriminator<F>
class AdaptiveDiffusion : public ForwardsCapabilities<F> {
 public:
  explicit AdaptiveDiffusion(F flow, AdaptiveDiffusionOptions options = {})
      : ForwardsCapabilities<F>(std::move(flow)),
        options_(std::move(options)),
        gen_(make_generator(options_.seed(), options_.device())),
        level_(options_.initial_level()) {
    const auto& o = options_;
    GPM_CHECK(std::isfinite(o.noise_std()) && o.noise_std() > 0, "AdaptiveDiffusion: noise_std must be > 0, got {}",
              o.noise_std());
    GPM_CHECK(o.beta_start() > 0 && o.beta_start() <= o.beta_end() && o.beta_end() < 1,
              "AdaptiveDiffusion: the schedule needs 0 < beta_start <= beta_end < 1, got beta_start {} and beta_end {}",
              o.beta_start(), o.beta_end());
    GPM_CHECK(o.min_steps() >= 1 && o.min_steps() <= o.max_steps(),
              "AdaptiveDiffusion: needs 1 <= min_steps <= max_steps, got min_steps {} and max_steps {}", o.min_steps(),
              o.max_steps());
    GPM_CHECK(o.clean_fraction() >= 0 && o.clean_fraction() <= 1, "AdaptiveDiffusion: clean_fraction must be in "
              "[0, 1], got {}", o.clean_fraction());
    GPM_CHECK(o.target() >= -1 && o.target() <= 1, "AdaptiveDiffusion: target must be in [-1, 1] (a mean of signs), "
              "got {}", o.target());
    GPM_CHECK(o.adapt_every() >= 1 && o.adapt_samples() > 0, "AdaptiveDiffusion: adapt_every must be >= 1 and "
              "adapt_samples > 0, got {} and {}", o.adapt_every(), o.adapt_samples());
    GPM_CHECK(o.initial_level() >= 0 && o.initial_level() <= 1, "AdaptiveDiffusion: initial_level must be in [0, 1], "
              "got {}", o.initial_level());
    set_schedule();
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "AdaptiveDiffusion::velocity");
    check_times(t, x, "AdaptiveDiffusion::velocity");
    const Diffused d = diffuse(x, draw_steps(x.size(0), x));
    return per_particle(d.signal_scale, x) * this->wrapped().velocity(d.y, d.time);
  }

  /// One update of f's estimator on diffused data and particles; the statistics gain
  /// `diffusion_steps` (T) and `real_sign_mean` (this batch's share of r_d).
  Stats update(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t) {
    check_particles(real, "AdaptiveDiffusion::update", "real");
    check_particles(fake, "AdaptiveDiffusion::update", "fake");
    GPM_CHECK(real.size(0) == fake.size(0), "AdaptiveDiffusion::update: a data sample and the particle of the same "
              "index share their diffusion step, so both batches need the same size; got {} real and {} fake (set the "
              "model's generator_batch_size to 0 or to the data batch size)", real.size(0), fake.size(0));
    check_times(t, fake, "AdaptiveDiffusion::update");
    const torch::Tensor steps = draw_steps(real.size(0), real);
    const Diffused r = diffuse(real, steps);
    const Diffused f = diffuse(fake.detach(), steps);
    torch::Tensor signs;
    {
      torch::NoGradGuard no_grad;
      signs = this->wrapped().logits(r.y, r.time).sign().sum();
    }
    const auto diffusion_steps = steps_;
    Stats stats = this->wrapped().update(r.y, f.y, r.time);
    stats["diffusion_steps"] = torch::tensor(static_cast<double>(diffusion_steps), real.options());
    stats["real_sign_mean"] = signs / static_cast<double>(real.size(0));
    sign_sum_ = sign_sum_.defined() ? sign_sum_ + signs : signs;
    seen_ += real.size(0);
    if (++updates_ % options_.adapt_every() == 0) adapt();
    return stats;
  }

  /// The discriminator on clean inputs (time 0), whatever `t`.
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& t) {
    return this->wrapped().logits(x, torch::zeros_like(t));
  }

  /// n diffusion steps: 0 with probability clean_fraction, else drawn from step_law over 1..T;
  /// a [n] integer tensor on the device of `like`.
  torch::Tensor draw_steps(int64_t n, const torch::Tensor& like) {
    return draw_rows(n, [&](int64_t rows) { return torch::multinomial(step_weights_, rows, /*replacement=*/true, gen_); })
        .to(like.device());
  }

  /// y = √ᾱ_t x + √(1 − ᾱ_t) σ ε for the per-input steps `steps`, ε from this wrapper's stream.
  Diffused diffuse(const torch::Tensor& x, const torch::Tensor& steps) {
    const torch::Tensor bars = alpha_bars_.to(x.device()).index_select(0, steps).to(x.scalar_type());
    const torch::Tensor scale = bars.sqrt();
    const torch::Tensor noise_scale = (1 - bars).sqrt() * options_.noise_std();
    const torch::Tensor y = per_particle(scale, x) * x + per_particle(noise_scale, x) * randn_rows(x.sizes(), gen_, x.options());
    return {y, steps.to(x.scalar_type()) / static_cast<double>(options_.max_steps()), scale};
  }

  /// T, the longest diffusion now; p, its level in [0, 1].
  int64_t diffusion_steps() const { return steps_; }
  double level() const { return level_; }
  int64_t updates() const { return updates_; }

  /// The stream, the update count, the level and the statistics since the last adaptation, and the
  /// wrapped flow's state if it has one (Checkpointable).
  void save(torch::serialize::OutputArchive& archive) const {
    write_generator(archive, "generator", gen_);
    write_counter(archive, "updates", updates_);
    write_counter(archive, "seen", seen_);
    archive.write("level", torch::tensor(level_, torch::kDouble));
    archive.write("sign_sum", sign_sum_.defined() ? sign_sum_.to(torch::kCPU, torch::kDouble) : torch::zeros({}, torch::kDouble));
    if constexpr (Checkpointable<F>) write_nested(archive, "flow", this->wrapped());
  }
  void load(torch::serialize::InputArchive& archive) {
    read_generator(archive, "generator", gen_);
    updates_ = read_counter(archive, "updates");
    seen_ = read_counter(archive, "seen");
    torch::Tensor level, sign_sum;
    archive.read("level", level);
    archive.read("sign_sum", sign_sum);
    level_ = level.item<double>();
    sign_sum_ = seen_ > 0 ? sign_sum.to(options_.device()) : torch::Tensor();
    set_schedule();
    if constexpr (Checkpointable<F>) read_nested(archive, "flow", this->wrapped());
  }

  F& flow() { return this->wrapped(); }
  const AdaptiveDiffusionOptions& options() const { return options_; }
  at::Generator& generator() { return gen_; }

 private:
  /// p ← clip(p + sign(r_d − target) · seen/adapt_samples, 0, 1), then T and its schedule.
  void adapt() {
    const double overfitting = sign_sum_.item<double>() / static_cast<double>(seen_);
    const double direction = (overfitting > options_.target()) - (overfitting < options_.target());
    level_ = std::clamp(level_ + direction * static_cast<double>(seen_) / options_.adapt_samples(), 0.0, 1.0);
    sign_sum_ = torch::Tensor();
    seen_ = 0;
    set_schedule();
  }

  void set_schedule() {
    steps_ = options_.steps_at(level_);
    const auto bars = options_.alpha_bars(steps_);
    alpha_bars_ = torch::tensor(bars, torch::kDouble).to(options_.device());
    std::vector<double> weights(bars.size(), 0.0);
    weights[0] = options_.clean_fraction();
    const auto T = static_cast<double>(steps_);
    for (int64_t s = 1; s <= steps_; ++s)
      weights[static_cast<size_t>(s)] = (1 - options_.clean_fraction()) *
          (options_.step_law() == DiffusionStepLaw::uniform ? 1 / T : 2 * static_cast<double>(s) / (T * (T + 1)));
    step_weights_ = torch::tensor(weights, torch::kDouble).to(options_.device());
  }

  AdaptiveDiffusionOptions options_;
  at::Generator gen_;
  double level_;
  int64_t steps_ = 0;
  torch::Tensor alpha_bars_;
  torch::Tensor step_weights_;
  torch::Tensor sign_sum_;
  int64_t seen_ = 0;
  int64_t updates_ = 0;
};

}  // namespace gpm
