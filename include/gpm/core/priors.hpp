// Distributions of initial particles and latent codes. Each models gpm::Prior.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"

namespace gpm {

struct GaussianPriorOptions {
  /// Shape of one particle (without the batch dimension), e.g. {2} or {1, 28, 28}.
  explicit GaussianPriorOptions(std::vector<int64_t> shape) : shape_(std::move(shape)) {}
  TORCH_ARG(std::vector<int64_t>, shape);
  TORCH_ARG(double, mean) = 0.0;
  TORCH_ARG(double, std) = 1.0;
};

/// Isotropic Gaussian N(mean, std² I). Example: `GaussianPrior prior(GaussianPriorOptions({2}).std(40));`
class GaussianPrior {
 public:
  explicit GaussianPrior(GaussianPriorOptions options) : options_(std::move(options)) {
    GPM_CHECK(!options_.shape().empty(), "GaussianPrior: the particle shape is empty; give at least one "
              "dimension, e.g. {{2}}");
    for (auto d : options_.shape())
      GPM_CHECK(d > 0, "GaussianPrior: every dimension of the particle shape must be > 0, got {}", d);
    GPM_CHECK(options_.std() > 0, "GaussianPrior: std must be > 0, got {}", options_.std());
  }
  torch::Tensor sample(int64_t n, const torch::TensorOptions& options, at::Generator& gen) const {
    GPM_CHECK(n > 0, "GaussianPrior::sample: n must be > 0, got {}", n);
    std::vector<int64_t> sizes{n};
    sizes.insert(sizes.end(), options_.shape().begin(), options_.shape().end());
    return torch::randn(sizes, gen, options) * options_.std() + options_.mean();
  }
  const GaussianPriorOptions& options() const { return options_; }

 private:
  GaussianPriorOptions options_;
};

}  // namespace gpm
