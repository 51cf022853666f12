// Paths between latent codes, to decode and look at: linear, spherical, Cauchy-linear and spherical
// Cauchy-linear (Leśniak et al., ICLR 2019), as the GPM reference's evaluation draws them, with the
// χ² distribution functions that the radial version needs.
#pragma once

#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <string_view>
#include <utility>

#include <ATen/Dispatch.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// A path between two latent codes (see interpolate_latents).
enum class Interpolation { linear, spherical, cauchy_linear, spherical_cauchy_linear };

/// Every interpolation with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<Interpolation, std::string_view>, 4> option_names(Interpolation) {
  return {{{Interpolation::linear, "linear"},
           {Interpolation::spherical, "spherical"},
           {Interpolation::cauchy_linear, "cauchy_linear"},
           {Interpolation::spherical_cauchy_linear, "spherical_cauchy_linear"}}};
}

/// Every interpolation, in declaration order: `for (auto kind : all_interpolations) ...`.
inline constexpr std::array<Interpolation, 4> all_interpolations{
    Interpolation::linear, Interpolation::spherical, Interpolation::cauchy_linear,
    Interpolation::spherical_cauchy_linear};

namespace detail {

// Tail probabilities are clamped to at least this before a quantile is taken, so that no quantile
// is infinite; a latent coordinate would have to be beyond about 37 standard deviations to reach it.
inline constexpr double kTinyProbability = 1e-300;
// √2: the scale between the standard normal distribution and erf.
inline constexpr double kSqrt2 = std::numbers::sqrt2;
// The χ² quantile is searched for in log x ∈ [−708, 708]: the range of positive float64 numbers.
inline constexpr double kLogQuantileMin = -708.0;
inline constexpr double kLogQuantileMax = 708.0;

inline void check_floating(const torch::Tensor& x, const char* where, const char* name) {
  GPM_CHECK(x.defined(), "{}: {} is an undefined tensor", where, name);
  GPM_CHECK(x.is_floating_point(), "{}: {} has dtype {}, expected a floating-point dtype (float or double)",
            where, name, std::string(c10::toString(x.scalar_type())));
}

inline void check_dimension(double dof, const char* where) {
  GPM_CHECK(std::isfinite(dof) && dof > 0, "{}: the number of degrees of freedom must be > 0, got {}", where, dof);
}

// A float64 result back in `dtype`, with values beyond that dtype's range clamped to its largest
// finite ones rather than becoming infinite.
inline torch::Tensor to_finite(const torch::Tensor& x64, torch::ScalarType dtype) {
  double largest = std::numeric_limits<double>::max();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "to_finite", [&] {
    largest = static_cast<double>(std::numeric_limits<scalar_t>::max());
  });
  return x64.clamp(-largest, largest).to(dtype);
}

// F_Cauchy⁻¹ from both tail probabilities P = F(x) and Q = 1 − F(x): −cot(πP) in the lower tail,
// cot(πQ) in the upper one, so that neither tail loses digits to 1 − P.
inline torch::Tensor cauchy_quantile_from_tails(const torch::Tensor& lower, const torch::Tensor& upper) {
  const auto pi = std::numbers::pi;
  return torch::where(lower < upper, -1.0 / torch::tan(pi * lower.clamp_min(kTinyProbability)),
                      1.0 / torch::tan(pi * upper.clamp_min(kTinyProbability)));
}

// x·pdf(x) of χ²_d, in logs: a·log(x/2) − x/2 − log Γ(a), a = d/2.
inline torch::Tensor log_chi_squared_density_times_x(const torch::Tensor& x, double dof) {
  const double a = dof / 2;
  const auto half_x = 0.5 * x;
  return a * half_x.log() - half_x - std::lgamma(a);
}

// The χ²_d quantile from both tail probabilities (float64): the x with P(X ≤ x) = lower and
// P(X > x) = upper. It solves log P(e^u) = log lower (lower tail) or log Q(e^u) = log upper (upper
// tail) for u = log x: bisection over the whole float64 range brackets the root whatever the
// inputs, then Newton steps, kept inside the bracket, polish it to full precision.
inline torch::Tensor chi_squared_quantile_from_tails(const torch::Tensor& lower, const torch::Tensor& upper,
                                                     double dof) {
  const auto shape = torch::full_like(lower, dof / 2);
  const auto use_lower = lower <= upper;
  const auto log_target = torch::where(use_lower, lower, upper).clamp_min(kTinyProbability).log();
  // log of the tail in use at x = e^u, and the residual, increasing in u in both tails.
  const auto log_tail = [&](const torch::Tensor& u) {
    const auto half_x = 0.5 * u.exp();
    return torch::where(use_lower, torch::igamma(shape, half_x), torch::igammac(shape, half_x)).log();
  };
  const auto residual = [&](const torch::Tensor& tail) {
    return torch::where(use_lower, tail - log_target, log_target - tail);
  };
  auto lo = torch::full_like(lower, kLogQuantileMin);
  auto hi = torch::full_like(lower, kLogQuantileMax);
  for (int i = 0; i < 50; ++i) {  // the bracket shrinks from 1416 to about 1e-12 in log x
    const auto mid = 0.5 * (lo + hi);
    const auto below = residual(log_tail(mid)) < 0;
    lo = torch::where(below, mid, lo);
    hi = torch::where(below, hi, mid);
  }
  auto u = 0.5 * (lo + hi);
  for (int i = 0; i < 3; ++i) {
    // d/du log P = x·pdf(x)/P and d/du (−log Q) = x·pdf(x)/Q: the same slope form in both tails.
    const auto tail = log_tail(u);
    const auto slope = (log_chi_squared_density_times_x(u.exp(), dof) - tail).exp();
    const auto next = u - residual(tail) / slope;
    u = torch::where(torch::isfinite(next) & (next >= lo) & (next <= hi), next, u);
  }
  return u.exp();
}

// Each row of x [B, d] divided by its norm (rows of zeros stay zero).
inline torch::Tensor unit_rows(const torch::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-12); }

// Spherical interpolation in the dtype of its inputs (`start`, `end` [B, d] → [B, steps, d]),
// written with sinc so that it tends to the linear one as the angle goes to 0.
inline torch::Tensor slerp(const torch::Tensor& start, const torch::Tensor& end, const torch::Tensor& t) {
  const auto cosine = (unit_rows(start) * unit_rows(end)).sum(-1).clamp(-1, 1);
  const auto half_turns = (torch::acos(cosine) / std::numbers::pi).view({-1, 1, 1});  // Ω/π
  const auto sinc_total = torch::sinc(half_turns);
  const auto start_weight = (1 - t) * torch::sinc((1 - t) * half_turns) / sinc_total;
  const auto end_weight = t * torch::sinc(t * half_turns) / sinc_total;
  return start_weight * start.unsqueeze(1) + end_weight * end.unsqueeze(1);
}

}  // namespace detail

/// P(X ≤ x) for X ~ χ²_dof (the regularized lower incomplete gamma γ(dof/2, x/2)), elementwise,
/// computed in float64 and returned in x's dtype; negative x give 0.
/// Example: `chi_squared_cdf(torch::tensor({2 * std::log(2.0)}, torch::kFloat64), 2)` is 0.5.
inline torch::Tensor chi_squared_cdf(const torch::Tensor& x, double dof) {
  detail::check_floating(x, "chi_squared_cdf", "x");
  detail::check_dimension(dof, "chi_squared_cdf");
  const auto half_x = 0.5 * x.to(torch::kFloat64).clamp_min(0);
  return torch::igamma(torch::full_like(half_x, dof / 2), half_x).to(x.scalar_type());
}

/// The χ²_dof quantile: the x with chi_squared_cdf(x, dof) = p, elementwise for p in [0, 1], in
/// p's dtype. Probabilities within 1e-300 of 0 or 1 are clamped, so the result is always finite.
/// Example: `chi_squared_quantile(torch::tensor({0.95}, torch::kFloat64), 1)` is 3.841459.
inline torch::Tensor chi_squared_quantile(const torch::Tensor& p, double dof) {
  detail::check_floating(p, "chi_squared_quantile", "p");
  detail::check_dimension(dof, "chi_squared_quantile");
  GPM_CHECK(((p >= 0) & (p <= 1)).all().item<bool>(), "chi_squared_quantile: probabilities must lie in [0, 1] (no NaN)");
  const auto p64 = p.to(torch::kFloat64);
  return detail::to_finite(detail::chi_squared_quantile_from_tails(p64, 1 - p64, dof), p.scalar_type());
}

/// g = F_Cauchy⁻¹ ∘ Φ, elementwise: the standard Cauchy value at the quantile where the standard
/// normal has x. Computed in float64 from the tail nearer to x, returned in x's dtype (finite).
/// Example: `gaussian_to_cauchy(torch::zeros({3}))` is zero; it maps 1 to tan(π(Φ(1) − ½)) ≈ 1.8373.
inline torch::Tensor gaussian_to_cauchy(const torch::Tensor& x) {
  detail::check_floating(x, "gaussian_to_cauchy", "x");
  const auto scaled = x.to(torch::kFloat64) / detail::kSqrt2;
  return detail::to_finite(detail::cauchy_quantile_from_tails(0.5 * torch::erfc(-scaled), 0.5 * torch::erfc(scaled)),
                           x.scalar_type());
}

/// g⁻¹ = Φ⁻¹ ∘ F_Cauchy, elementwise: the inverse of gaussian_to_cauchy, computed in float64 and
/// returned in x's dtype. Near 0 it is √2·erfinv(2·atan(x)/π); for |x| > 1 it is ±√(χ²_1 quantile)
/// at the two-sided Cauchy tail 2·atan(1/|x|)/π (Z² ~ χ²_1), which keeps its digits far out.
/// Example: `cauchy_to_gaussian(gaussian_to_cauchy(z))` is z.
inline torch::Tensor cauchy_to_gaussian(const torch::Tensor& x) {
  detail::check_floating(x, "cauchy_to_gaussian", "x");
  const auto x64 = x.to(torch::kFloat64);
  const auto near = detail::kSqrt2 * torch::erfinv((2 / std::numbers::pi) * torch::atan(x64));
  const auto two_sided_tail = (2 / std::numbers::pi) * torch::atan2(torch::ones_like(x64), x64.abs());
  const auto far = torch::sign(x64) * detail::chi_squared_quantile_from_tails(1 - two_sided_tail, two_sided_tail, 1).sqrt();
  return torch::where(x64.abs() <= 1, near, far).to(x.scalar_type());
}

/// The radial map of spherical Cauchy-linear interpolation in dimension `dim`: a radius s of the
/// χ_dim distribution (the norm of a standard normal vector) to the Cauchy value at the same
/// quantile, F_Cauchy⁻¹(F_χ²_dim(s²)), elementwise, in s's dtype (finite).
/// Example: `chi_radius_to_cauchy(cauchy_to_chi_radius(r, 64), 64)` is r for r ≥ 0.
inline torch::Tensor chi_radius_to_cauchy(const torch::Tensor& s, int64_t dim) {
  detail::check_floating(s, "chi_radius_to_cauchy", "s");
  GPM_CHECK(dim > 0, "chi_radius_to_cauchy: the dimension must be > 0, got {}", dim);
  const auto half_square = 0.5 * s.to(torch::kFloat64).square();
  const auto shape = torch::full_like(half_square, static_cast<double>(dim) / 2);
  return detail::to_finite(
      detail::cauchy_quantile_from_tails(torch::igamma(shape, half_square), torch::igammac(shape, half_square)),
      s.scalar_type());
}

/// The inverse radial map: √(F_χ²_dim⁻¹(F_Cauchy(r))), elementwise, in r's dtype. r ≥ 0 lands at or
/// above the median of χ_dim.
/// Example: `cauchy_to_chi_radius(torch::zeros({1}), 2)` is √(2 ln 2), the median of χ_2.
inline torch::Tensor cauchy_to_chi_radius(const torch::Tensor& r, int64_t dim) {
  detail::check_floating(r, "cauchy_to_chi_radius", "r");
  GPM_CHECK(dim > 0, "cauchy_to_chi_radius: the dimension must be > 0, got {}", dim);
  const auto r64 = r.to(torch::kFloat64);
  // F_Cauchy(r) = atan2(1, −r)/π and 1 − F_Cauchy(r) = atan2(1, r)/π, each exact in its own tail.
  const auto one = torch::ones_like(r64);
  const auto lower = torch::atan2(one, -r64) / std::numbers::pi;
  const auto upper = torch::atan2(one, r64) / std::numbers::pi;
  return detail::to_finite(detail::chi_squared_quantile_from_tails(lower, upper, static_cast<double>(dim)).sqrt(),
                           r.scalar_type());
}

/// `steps` points from `start` to `end` (both [B, d]), as [B, steps, d]: entry [:, 0] is start and
/// [:, steps − 1] is end (up to rounding), at t = k/(steps − 1). With a = start, b = end:
///  - linear: (1 − t) a + t b;
///  - spherical: sin((1 − t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, Ω the angle between a and b (the
///    linear path when Ω = 0; undefined, NaN, for opposite directions, Ω = π);
///  - cauchy_linear: g((1 − t) g⁻¹(a) + t g⁻¹(b)) coordinatewise, g = F_Cauchy⁻¹ ∘ Φ
///    (gaussian_to_cauchy), g⁻¹ = Φ⁻¹ ∘ F_Cauchy (cauchy_to_gaussian);
///  - spherical_cauchy_linear: the spherical path of a/‖a‖ and b/‖b‖, scaled by the radius
///    h((1 − t) h⁻¹(‖a‖) + t h⁻¹(‖b‖)), h = F_Cauchy⁻¹ ∘ F_χ²_d ∘ square (chi_radius_to_cauchy),
///    h⁻¹ = √ ∘ F_χ²_d⁻¹ ∘ F_Cauchy (cauchy_to_chi_radius).
/// Linear and spherical paths are computed in the inputs' dtype, the Cauchy transforms in float64.
/// Example: `auto path = interpolate_latents(z0, z1, 8, Interpolation::spherical);  // [B, 8, d]`
inline torch::Tensor interpolate_latents(const torch::Tensor& start, const torch::Tensor& end, int64_t steps,
                                         Interpolation kind) {
  constexpr const char* where = "interpolate_latents";
  detail::check_floating(start, where, "start");
  detail::check_floating(end, where, "end");
  GPM_CHECK(start.dim() == 2 && start.size(0) > 0 && start.size(1) > 0, "{}: start has shape {}, expected latents "
            "[B, d] with B, d > 0 (flatten larger latents with .flatten(1))", where, shape_string(start));
  GPM_CHECK(end.sizes() == start.sizes(), "{}: end has shape {} but start has shape {}; both ends of the paths "
            "must have the same shape [B, d]", where, shape_string(end), shape_string(start));
  check_compatible(start, "start", end, "end", where);
  GPM_CHECK(steps >= 2, "{}: steps must be >= 2 (the two ends at least), got {}", where, steps);

  const auto dtype = start.scalar_type();
  const auto t_in = [&](torch::ScalarType type) {
    return torch::linspace(0, 1, steps, start.options().dtype(type)).view({1, steps, 1});
  };
  switch (kind) {
    case Interpolation::linear: return torch::lerp(start.unsqueeze(1), end.unsqueeze(1), t_in(dtype));
    case Interpolation::spherical: return detail::slerp(start, end, t_in(dtype));
    case Interpolation::cauchy_linear: {
      // The transforms run in float64 (they do not depend on the dtype of their input).
      const auto a = cauchy_to_gaussian(start.to(torch::kFloat64)).unsqueeze(1);
      const auto b = cauchy_to_gaussian(end.to(torch::kFloat64)).unsqueeze(1);
      return detail::to_finite(gaussian_to_cauchy(torch::lerp(a, b, t_in(torch::kFloat64))), dtype);
    }
    case Interpolation::spherical_cauchy_linear: break;
  }
  const int64_t dim = start.size(1);
  const auto radius = [&](const torch::Tensor& x) {
    return cauchy_to_chi_radius(x.to(torch::kFloat64).norm(2, -1, true), dim).unsqueeze(1);  // [B, 1, 1]
  };
  const auto radii = chi_radius_to_cauchy(torch::lerp(radius(start), radius(end), t_in(torch::kFloat64)), dim);
  return detail::slerp(detail::unit_rows(start), detail::unit_rows(end), t_in(dtype)) * radii.to(dtype);
}

}  // namespace gpm
