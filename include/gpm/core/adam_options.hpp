// The configurable part of an Adam optimiser, declared as options so that a model nests one per
// network (GanOptions::generator_optimizer, ...) and a config sets it as one object.
#pragma once

#include <torch/optim/adam.h>

#include "gpm/core/options.hpp"

namespace gpm {

/// Adam's settings as a model's options hold them; `to_torch()` is LibTorch's torch::optim::AdamOptions.
/// Example: `GanOptions().generator_optimizer(AdamOptions().lr(1e-4).beta1(0.0))`.
struct AdamOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, lr, Range::above(0), "learning rate") = 2e-4;
  GPM_OPTION(double, beta1, Range::from_below(0, 1), "decay of the gradient's running mean") = 0.9;
  GPM_OPTION(double, beta2, Range::from_below(0, 1), "decay of the squared gradient's running mean") = 0.999;
  GPM_OPTION(double, weight_decay, Range::at_least(0), "L2 penalty added to the gradient (Adam's, not AdamW's)") = 0.0;
  GPM_OPTIONS_END

  torch::optim::AdamOptions to_torch() const {
    return torch::optim::AdamOptions(lr()).betas({beta1(), beta2()}).weight_decay(weight_decay());
  }
};

}  // namespace gpm
