// EDM's stochastic sampler step: "churn" noise raises σ, then a Heun step brings it down.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/integrators/heun.hpp"

namespace gpm {

struct EdmStochasticOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, s_churn, Range::at_least(0),
             "total churn S_churn; each step uses γ = min(S_churn / N, √2 − 1)") = 0.0;
  GPM_OPTION(double, s_min, Range::at_least(0), "churn only where S_min ≤ σ ≤ S_max") = 0.0;
  GPM_OPTION(double, s_max, Range::at_least(0), "churn only where S_min ≤ σ ≤ S_max") =
      std::numeric_limits<double>::infinity();
  /// Slightly above 1 compensates denoisers that remove too much.
  GPM_OPTION(double, s_noise, Range::at_least(0), "scale of the added noise") = 1.0;
  GPM_OPTIONS_END
};

/// Karras et al. 2022 (arXiv:2206.00364), Algorithm 2, in σ-time: σ̂ = (1 + γ) σ,
/// x̂ = x + √(σ̂² − σ²) S_noise ξ, then a Heun step from (x̂, σ̂) to the next level.
/// With S_churn = 0 it is Heun. Models gpm::Integrator.
/// Example: `EdmStochastic churn(EdmStochasticOptions().s_churn(40).s_min(0.05).s_max(50));`
class EdmStochastic {
 public:
  static constexpr int order = 2;

  explicit EdmStochastic(EdmStochasticOptions options = {}) : options_(options) {
    GPM_CHECK(options_.s_churn() >= 0, "EdmStochastic: s_churn must be >= 0, got {}", options_.s_churn());
    GPM_CHECK(options_.s_min() <= options_.s_max(), "EdmStochastic: need s_min <= s_max, got {} > {}",
              options_.s_min(), options_.s_max());
    GPM_CHECK(options_.s_noise() >= 0, "EdmStochastic: s_noise must be >= 0, got {}", options_.s_noise());
  }

  template <Flow F>
  torch::Tensor step(F& flow, const torch::Tensor& x, const Step& s, at::Generator& gen) const {
    const double sigma = s.t0;
    const bool churn = options_.s_churn() > 0 && options_.s_min() <= sigma && sigma <= options_.s_max();
    const double gamma = churn ? std::min(options_.s_churn() / static_cast<double>(s.count), std::sqrt(2.0) - 1.0) : 0.0;
    if (gamma == 0.0) return Heun{}.step(flow, x, s, gen);
    const double sigma_hat = (1.0 + gamma) * sigma;
    const torch::Tensor x_hat =
        x + (std::sqrt(sigma_hat * sigma_hat - sigma * sigma) * options_.s_noise()) *
                randn_rows(x.sizes(), gen, x.options());
    Step raised = s;
    raised.t0 = sigma_hat;
    return Heun{}.step(flow, x_hat, raised, gen);
  }

  const EdmStochasticOptions& options() const { return options_; }

 private:
  EdmStochasticOptions options_;
};

}  // namespace gpm
