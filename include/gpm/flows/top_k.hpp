// Flow combinator: top-k generator steps (Sinha et al. 2020, "Top-k training of GANs",
// arXiv:2002.06224) — only the particles the discriminator finds most realistic move, the others'
// field being the one that points away from the data manifold.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <torch/types.h>

#include "gpm/core/capabilities.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/flows/combinators.hpp"

namespace gpm {

struct TopKOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, decay, Range::between(0, 1), "γ: the kept fraction is max(γᵉ, ν) after e epochs") = 0.99;
  GPM_OPTION(double, min_fraction, Range::between(0, 1), "ν, the smallest kept fraction") = 0.5;
  GPM_OPTION(int64_t, epoch_evaluations, Range::at_least(1),
             "evaluations of the field (generator steps) per epoch e of the schedule") = 100;
  GPM_OPTIONS_END

  /// The kept fraction after `evaluations` evaluations: max(γ^⌊evaluations/epoch⌋, ν).
  double fraction_after(int64_t evaluations) const {
    const auto epochs = static_cast<double>(evaluations / epoch_evaluations());
    return std::max(std::pow(decay(), epochs), min_fraction());
  }
};

/// The discriminator flow f with top-k steps: of a batch of B particles, the k = max(round(γᵉ B),
/// round(ν B)) with the largest logits keep f's field times B/k, the others get 0, so that a
/// generator following it descends the mean cost of its k most realistic samples
/// ((1/k) Σ_{top k} c(f(x_i))); e counts epochs of `epoch_evaluations` evaluations. The
/// discriminator's updates see every sample, as in the source. It has every optional capability of f
/// and checkpoints its evaluation count (gpm::CountsEvaluations).
/// Example: `TopK flow(DiscriminatorFlow(net, NonSaturatingLoss{}, adam), TopKOptions().min_fraction(0.5));`
template <Flow F>
  requires ExposesDiscriminator<F>
class TopK : public CountsEvaluations<F> {
 public:
  explicit TopK(F flow, TopKOptions options = {}) : CountsEvaluations<F>(std::move(flow)), options_(options) {
    GPM_CHECK(options_.decay() > 0 && options_.decay() <= 1, "TopK: decay must be in (0, 1], got {}", options_.decay());
    GPM_CHECK(options_.min_fraction() > 0 && options_.min_fraction() <= 1, "TopK: min_fraction must be in (0, 1], got {}",
              options_.min_fraction());
    GPM_CHECK(options_.epoch_evaluations() >= 1, "TopK: epoch_evaluations must be >= 1, got {}",
              options_.epoch_evaluations());
  }

  torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t) {
    check_particles(x, "TopK::velocity");
    const int64_t n = x.size(0);
    const int64_t k = kept(n);
    this->count_evaluation();
    torch::Tensor v = this->wrapped().velocity(x, t);
    if (k == n) return v;
    torch::Tensor logits;
    {
      torch::NoGradGuard no_grad;
      logits = this->wrapped().logits(x, t).reshape({n});
    }
    const auto top = std::get<1>(logits.topk(k));
    auto scale = torch::zeros({n}, v.options());
    scale.index_fill_(0, top, static_cast<double>(n) / static_cast<double>(k));
    return v * per_particle(scale, v);
  }

  /// k for a batch of n at the next evaluation.
  int64_t kept(int64_t n) const {
    const double fraction = options_.fraction_after(this->evaluations());
    const auto rounded = [n](double f) { return static_cast<int64_t>(std::llround(f * static_cast<double>(n))); };
    return std::clamp(std::max(rounded(fraction), rounded(options_.min_fraction())), int64_t{1}, n);
  }
  const TopKOptions& options() const { return options_; }

 private:
  TopKOptions options_;
};

}  // namespace gpm
