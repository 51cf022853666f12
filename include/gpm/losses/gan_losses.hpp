// GAN losses as policies: the discriminator objective (Eq. 15 of Franceschi et al. 2023) and the
// per-particle generator loss c(f) whose negative input gradient is the GAN flow v = −c'(f) ∇f.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <variant>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"

namespace gpm {

/// A GAN loss (a, b, c of Franceschi et al. 2023, arXiv:2305.16150, Eqs. 15–16) on discriminator
/// logits f:
/// - `discriminator_loss(real_logits, fake_logits)` = mean b(f(fake)) − mean a(f(real)), a scalar to
///   minimise (the gradient penalty is added by the caller);
/// - `generator_loss(fake_logits)` = c(f) per sample, shape [N], not reduced: −∇ₓ c(f(x)) is the
///   flow v(x) = −c'(f(x)) ∇f(x) that generated particles follow.
/// Logits have shape [N] or [N, 1].
template <class L>
concept GanLoss = requires(const L& loss, const torch::Tensor& real_logits, const torch::Tensor& fake_logits) {
  { loss.discriminator_loss(real_logits, fake_logits) } -> std::same_as<torch::Tensor>;
  { loss.generator_loss(fake_logits) } -> std::same_as<torch::Tensor>;
};

namespace detail {
/// Checks that `f` holds one logit per sample ([N] or [N, 1]) and returns it as [N].
inline torch::Tensor logits_vector(const torch::Tensor& f, const char* where, const char* name) {
  GPM_CHECK(f.defined(), "{}: {} is an undefined tensor", where, name);
  GPM_CHECK(f.dim() == 1 || (f.dim() == 2 && f.size(1) == 1), "{}: {} has shape {}, expected one logit per "
            "sample, shape [N] or [N, 1]", where, name, shape_string(f));
  GPM_CHECK(f.is_floating_point(), "{}: {} has dtype {}, expected a floating-point dtype", where, name,
            std::string(c10::toString(f.scalar_type())));
  return f.reshape({-1});
}
}  // namespace detail

/// The non-saturating ("vanilla") GAN (Goodfellow et al. 2014): binary cross-entropy with logits.
/// a(y) = −softplus(−y), b(y) = softplus(y), c(y) = softplus(−y), v = sigmoid(−f) ∇f.
/// Example: `NonSaturatingLoss loss;  auto d_loss = loss.discriminator_loss(disc(real), disc(fake));`
struct NonSaturatingLoss {
  static constexpr std::string_view name = "vanilla";
  torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) const {
    const auto real = detail::logits_vector(real_logits, "NonSaturatingLoss::discriminator_loss", "real_logits");
    const auto fake = detail::logits_vector(fake_logits, "NonSaturatingLoss::discriminator_loss", "fake_logits");
    return torch::softplus(fake).mean() + torch::softplus(-real).mean();
  }
  torch::Tensor generator_loss(const torch::Tensor& fake_logits) const {
    return torch::softplus(-detail::logits_vector(fake_logits, "NonSaturatingLoss::generator_loss", "fake_logits"));
  }
};

/// The saturating (minimax) GAN (Goodfellow et al. 2014): the discriminator loss of
/// NonSaturatingLoss, with c(y) = log(1 − sigmoid(y)) = −softplus(y), v = sigmoid(f) ∇f.
/// Example: `SaturatingLoss loss;  auto g_loss = loss.generator_loss(disc(g(z))).mean();`
struct SaturatingLoss {
  static constexpr std::string_view name = "saturating";
  torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) const {
    const auto real = detail::logits_vector(real_logits, "SaturatingLoss::discriminator_loss", "real_logits");
    const auto fake = detail::logits_vector(fake_logits, "SaturatingLoss::discriminator_loss", "fake_logits");
    return torch::softplus(fake).mean() + torch::softplus(-real).mean();
  }
  torch::Tensor generator_loss(const torch::Tensor& fake_logits) const {
    return -torch::softplus(detail::logits_vector(fake_logits, "SaturatingLoss::generator_loss", "fake_logits"));
  }
};

/// The integral-probability-metric (Wasserstein) loss (Arjovsky et al. 2017), standard sign
/// convention: the critic is high on data. a(y) = b(y) = y, c(y) = −y, so the discriminator
/// minimises mean f(fake) − mean f(real) and particles follow v = +∇f. (The GPM reference uses the
/// opposite sign, critic high on fakes; it is the same model with f replaced by −f.) Pair it with a
/// gradient penalty or another Lipschitz constraint.
/// Example: `IpmLoss loss;  auto d_loss = loss.discriminator_loss(critic(real), critic(fake));`
struct IpmLoss {
  static constexpr std::string_view name = "ipm";
  torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) const {
    const auto real = detail::logits_vector(real_logits, "IpmLoss::discriminator_loss", "real_logits");
    const auto fake = detail::logits_vector(fake_logits, "IpmLoss::discriminator_loss", "fake_logits");
    return fake.mean() - real.mean();
  }
  torch::Tensor generator_loss(const torch::Tensor& fake_logits) const {
    return -detail::logits_vector(fake_logits, "IpmLoss::generator_loss", "fake_logits");
  }
};

/// The hinge loss (Lim & Ye 2017; Miyato et al. 2018): a(y) = −relu(1 − y), b(y) = relu(1 + y),
/// c(y) = −y, v = ∇f.
/// Example: `HingeLoss loss;  auto d_loss = loss.discriminator_loss(disc(real), disc(fake));`
struct HingeLoss {
  static constexpr std::string_view name = "hinge";
  torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) const {
    const auto real = detail::logits_vector(real_logits, "HingeLoss::discriminator_loss", "real_logits");
    const auto fake = detail::logits_vector(fake_logits, "HingeLoss::discriminator_loss", "fake_logits");
    return torch::relu(1.0 + fake).mean() + torch::relu(1.0 - real).mean();
  }
  torch::Tensor generator_loss(const torch::Tensor& fake_logits) const {
    return -detail::logits_vector(fake_logits, "HingeLoss::generator_loss", "fake_logits");
  }
};

/// The least-squares GAN with labels −1 (fake) and 1 (real) (Mao et al. 2017):
/// a(y) = −(y − 1)², b(y) = (y + 1)², c(y) = (y − 1)², v = −2 (f − 1) ∇f.
/// Example: `LeastSquaresLoss loss;  auto d_loss = loss.discriminator_loss(disc(real), disc(fake));`
struct LeastSquaresLoss {
  static constexpr std::string_view name = "least_squares";
  torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) const {
    const auto real = detail::logits_vector(real_logits, "LeastSquaresLoss::discriminator_loss", "real_logits");
    const auto fake = detail::logits_vector(fake_logits, "LeastSquaresLoss::discriminator_loss", "fake_logits");
    return (fake + 1.0).square().mean() + (real - 1.0).square().mean();
  }
  torch::Tensor generator_loss(const torch::Tensor& fake_logits) const {
    return (detail::logits_vector(fake_logits, "LeastSquaresLoss::generator_loss", "fake_logits") - 1.0).square();
  }
};

/// Any of the shipped GAN losses, chosen at run time (for configs); use with std::visit.
using AnyGanLoss = std::variant<NonSaturatingLoss, SaturatingLoss, IpmLoss, HingeLoss, LeastSquaresLoss>;

/// Reads a GAN loss from its config name: "vanilla" (or "non_saturating"), "saturating", "ipm"
/// (or "wgan"), "hinge", "least_squares"; throws gpm::InvalidArgument listing them otherwise.
/// Example: `std::visit([&](const auto& loss) { train(loss); }, parse_gan_loss("hinge"));`
inline AnyGanLoss parse_gan_loss(std::string_view name) {
  if (name == NonSaturatingLoss::name || name == "non_saturating") return NonSaturatingLoss{};
  if (name == SaturatingLoss::name) return SaturatingLoss{};
  if (name == IpmLoss::name || name == "wgan") return IpmLoss{};
  if (name == HingeLoss::name) return HingeLoss{};
  if (name == LeastSquaresLoss::name) return LeastSquaresLoss{};
  throw InvalidArgument(fmt::format("gpm::parse_gan_loss: unknown GAN loss \"{}\"; valid names are vanilla "
                                    "(non_saturating), saturating, ipm (wgan), hinge, least_squares", name));
}

}  // namespace gpm
