// f-divergence gradient flows as GAN losses: a logistic discriminator estimates the log-ratio
// d = log(p_data/ρ), and particles descend the first variation f'(ρ/p_data) = f'(e^{−d}).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/losses/gan_losses.hpp"

namespace gpm {

/// The divergence D_f(ρ ‖ p_data) = ∫ p_data f(ρ/p_data) whose Wasserstein gradient flow particles follow.
enum class FDivergence {
  kl,              ///< KL(ρ ‖ p): f(u) = u log u, v = ∇d
  reverse_kl,      ///< KL(p ‖ ρ): f(u) = −log u, v = e^d ∇d
  jensen_shannon,  ///< JS(ρ, p) (times 2): f(u) = u log u − (1 + u) log((1 + u)/2), v = sigmoid(d) ∇d
  chi_squared      ///< Pearson χ²(ρ ‖ p): f(u) = (u − 1)², v = 2 e^{−d} ∇d
};

/// Every divergence with its config name (gpm::NamedEnum).
constexpr std::array<std::pair<FDivergence, std::string_view>, 4> option_names(FDivergence) {
  return {{{FDivergence::kl, "kl"},
           {FDivergence::reverse_kl, "reverse_kl"},
           {FDivergence::jensen_shannon, "jensen_shannon"},
           {FDivergence::chi_squared, "chi_squared"}}};
}

/// The GAN loss of the f-divergence flow (Franceschi et al. 2023, arXiv:2305.16150, Table 2; Gao et
/// al. 2019, DGflow): the discriminator is trained by logistic regression, data against particles
/// (a, b of NonSaturatingLoss), so that at its optimum d(x) = log(p_data(x)/ρ(x)); the particles'
/// cost is the first variation c(d) = f'(e^{−d}), so that −∇ₓ c = f''(e^{−d}) e^{−d} ∇d is the
/// gradient flow of D_f(ρ ‖ p_data). Jensen–Shannon gives SaturatingLoss's field. With
/// DiscriminatorFlow it is a particle model (`make_discriminator_flow(dim, o, FDivergenceLoss(...))`),
/// with a generator an f-GAN-like interacting particle model (`make_gan(dim, o, FDivergenceLoss(...))`).
/// Example: `FDivergenceLoss loss(FDivergence::reverse_kl);`
class FDivergenceLoss {
 public:
  static constexpr std::string_view name = "f_divergence";

  explicit FDivergenceLoss(FDivergence divergence = FDivergence::kl) : divergence_(divergence) {}

  torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) const {
    return NonSaturatingLoss{}.discriminator_loss(real_logits, fake_logits);
  }

  /// c(d) = f'(e^{−d}) per particle, up to an additive constant.
  torch::Tensor generator_loss(const torch::Tensor& fake_logits) const {
    const auto d = detail::logits_vector(fake_logits, "FDivergenceLoss::generator_loss", "fake_logits");
    switch (divergence_) {
      case FDivergence::kl: return -d;                          // log u + 1
      case FDivergence::reverse_kl: return -torch::exp(d);      // −1/u
      case FDivergence::jensen_shannon: return -torch::softplus(d);  // log(2u/(1 + u))
      case FDivergence::chi_squared: return 2.0 * torch::exp(-d);    // 2(u − 1)
    }
    throw InvalidArgument("FDivergenceLoss: unknown divergence");
  }

  FDivergence divergence() const { return divergence_; }

 private:
  FDivergence divergence_;
};

}  // namespace gpm
