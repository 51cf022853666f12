// Gradient penalties on a critic (WGAN-GP, R1-like, the Discriminator Flow's centre-0 penalty)
// and the piecewise-constant per-time penalty weights of Discriminator Flows.
#pragma once

#include <array>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// Where the critic's input gradient is penalised.
enum class PenaltyPoint {
  interpolation,  ///< x̂ = α x_real + (1 − α) x_fake, α ~ U[0, 1] per sample (WGAN-GP)
  real,           ///< x̂ = x_real (R1-like with center 0)
  fake            ///< x̂ = x_fake
};

/// Every penalty point with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<PenaltyPoint, std::string_view>, 3> option_names(PenaltyPoint) {
  return {{{PenaltyPoint::interpolation, "interpolation"}, {PenaltyPoint::real, "real"}, {PenaltyPoint::fake, "fake"}}};
}

/// The config name of a penalty point: "interpolation", "real" or "fake".
inline std::string to_string(PenaltyPoint point) { return std::string(option_name(point)); }

/// Reads a penalty point from its config name ("interpolation", "real", "fake"); throws
/// gpm::InvalidArgument listing the valid names otherwise.
/// Example: `GradientPenaltyOptions().point(parse_penalty_point("real"))`
inline PenaltyPoint parse_penalty_point(std::string_view name) {
  if (const auto point = option_value<PenaltyPoint>(name)) return *point;
  throw InvalidArgument(fmt::format("gpm::parse_penalty_point: unknown penalty point \"{}\"; valid names are "
                                    "interpolation, real, fake", name));
}

struct GradientPenaltyOptions {
  GPM_OPTIONS_BEGIN
  /// gradient_penalty() itself returns the unweighted per-sample penalty; the caller weighs it.
  GPM_OPTION(double, weight, Range::at_least(0), "λ, the penalty's weight in the loss (0: off; WGAN-GP uses 10)") = 0.0;
  GPM_OPTION(double, center, Range::at_least(0), "the target gradient norm (1: WGAN-GP; 0: R1-like)") = 1.0;
  GPM_OPTION(double, norm, Range::at_least(1), "p of the per-sample p-norm of the flattened gradient") = 2.0;
  GPM_OPTION(PenaltyPoint, point, Range::any(),
             "where the gradient is taken: real, fake, or interpolation (x̂ = α x_real + (1 − α) x_fake)") =
      PenaltyPoint::interpolation;
  GPM_OPTIONS_END

  /// R1 (Mescheder et al. 2018): weight · E‖∇ₓ f(x_real)‖², the penalty of gpm's GAN and
  /// Discriminator Flow defaults. Example: `GanOptions().penalty(GradientPenaltyOptions::r1(1.0))`
  static GradientPenaltyOptions r1(double weight) {
    return GradientPenaltyOptions().weight(weight).center(0.0).point(PenaltyPoint::real);
  }
};

/// GP_b from critic values f [N] or [N, 1] already computed at points x [N, ...] that require grad:
/// the penalty without a second forward pass, for a caller that evaluated the critic at x anyway
/// (an R1 penalty on the real batch of the discriminator loss). gradient_penalty, below, uses it.
inline torch::Tensor gradient_penalty_at(const torch::Tensor& f, const torch::Tensor& x, const GradientPenaltyOptions& options) {
  const char* where = "gradient_penalty";
  GPM_CHECK(options.norm() >= 1, "{}: the norm p must be >= 1 (or infinity), got {}", where, options.norm());
  GPM_CHECK(std::isfinite(options.center()), "{}: center must be finite, got {}", where, options.center());
  GPM_CHECK(x.requires_grad(), "{}: the points must require grad, so that the critic's input gradient exists", where);
  GPM_CHECK(f.numel() == x.size(0), "{}: the critic returned shape {} for {} samples; it must return one "
            "value per sample, [N] or [N, 1]", where, shape_string(f), x.size(0));
  const auto g = input_gradient(f, x, /*create_graph=*/true).flatten(1);
  if (options.center() == 0.0 && options.norm() == 2.0) return g.square().sum(1);
  return (torch::linalg_vector_norm(g, options.norm(), at::IntArrayRef{1}) - options.center()).square();
}

/// Per-sample gradient penalty GP_b = (‖∇ₓ f(x̂_b, t_b)‖_p − center)², shape [N], with x̂ chosen by
/// options.point() (Gulrajani et al. 2017, arXiv:1704.00028; Franceschi et al. 2023, reference
/// `grad_penalty`). The gradient is taken with create_graph = true, so GP is differentiable with
/// respect to the critic's parameters. With center 0 and p = 2 it is Σ g² computed directly
/// (no square root, whose derivative is undefined at 0). `critic(x, t)` returns one value per
/// sample ([N] or [N, 1]); `t` is passed through unchanged (it may be undefined for an
/// unconditioned critic wrapped in a lambda). α is drawn from `gen`. The caller applies the weight:
/// `loss += options.weight() * gp.mean()` (or penalty_weights(list, t) * gp).
/// Example: `auto gp = gradient_penalty(disc, real, fake.detach(), t, GradientPenaltyOptions().weight(10), gen);`
template <class C>
  requires Potential<std::remove_reference_t<C>>
torch::Tensor gradient_penalty(C&& critic, const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& t,
                               const GradientPenaltyOptions& options, at::Generator& gen) {
  const char* where = "gradient_penalty";
  torch::Tensor point;
  switch (options.point()) {
    case PenaltyPoint::interpolation: {
      check_particles(real, where, "real");
      check_particles(fake, where, "fake");
      check_compatible(real, "real", fake, "fake", where);
      GPM_CHECK(real.sizes() == fake.sizes(), "{}: interpolation needs real and fake of the same shape, got {} "
                "and {}", where, shape_string(real), shape_string(fake));
      const auto alpha = per_particle(rand_rows({real.size(0)}, gen, real.options()), real);
      point = alpha * real.detach() + (1.0 - alpha) * fake.detach();
      break;
    }
    case PenaltyPoint::real:
      check_particles(real, where, "real");
      point = real.detach();
      break;
    case PenaltyPoint::fake:
      check_particles(fake, where, "fake");
      point = fake.detach();
      break;
  }
  if (t.defined()) check_times(t, point, where);
  torch::AutoGradMode enable_grad(true);
  const auto x = point.requires_grad_(true);
  return gradient_penalty_at(critic(x, t), x, options);
}

/// Piecewise-constant penalty weights over time: for t in [0, 1) the weight is
/// weights[floor(L t)] with L = weights.size() (Discriminator Flow, reference `grad_penalty` list);
/// one weight applies to all times. Times outside [0, 1) use the first or last weight, and
/// L t is rounded up by 1e-5 first, so that grid times t = k/N land in their exact bin despite
/// floating-point rounding. Returns [N] in t's dtype and device.
/// Example: `auto lambda = penalty_weights({0.1, 0.05, 0.0}, t);  loss += (lambda * gp).mean();`
inline torch::Tensor penalty_weights(const std::vector<double>& weights, const torch::Tensor& t) {
  GPM_CHECK(!weights.empty(), "penalty_weights: the weight list is empty; give at least one weight");
  GPM_CHECK(t.defined() && t.dim() == 1, "penalty_weights: t must have shape [N] (one time per sample), got {}",
            t.defined() ? shape_string(t) : std::string("an undefined tensor"));
  GPM_CHECK(t.is_floating_point(), "penalty_weights: t has dtype {}, expected a floating-point dtype",
            std::string(c10::toString(t.scalar_type())));
  const auto count = static_cast<int64_t>(weights.size());
  if (count == 1) return torch::full({t.size(0)}, weights.front(), t.options());
  const auto table = torch::tensor(weights, t.options());
  const auto bins = (t.detach().to(torch::kFloat64) * static_cast<double>(count) + 1e-5)
                        .floor()
                        .clamp(0, static_cast<double>(count - 1))
                        .to(torch::kLong);
  return table.index_select(0, bins);
}

}  // namespace gpm
