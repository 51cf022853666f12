// EDM's preconditioning: wraps a raw network F(x, c_noise) into a denoiser D(x, σ) whose input
// and output stay at unit scale for every noise level (Karras et al. 2022, Section 5).
#pragma once

#include <cmath>
#include <concepts>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/nn/time_mlp.hpp"

namespace gpm::nn {

/// A network conditioned on one scalar per particle, held by a LibTorch module holder:
/// `net->forward(x, s)` with x [N, ...] and s [N] returns a tensor with x's number of elements.
/// TimeMlp (with out = in) models it.
template <class N>
concept ConditionedNetwork = requires(N& net, const torch::Tensor& x, const torch::Tensor& s) {
  { net->forward(x, s) } -> std::same_as<torch::Tensor>;
  { net.ptr() };
};

/// EDM's preconditioning coefficients at noise levels σ [N] (each of shape [N]).
struct EdmCoefficients {
  torch::Tensor c_skip, c_out, c_in, c_noise;
};

/// c_skip = σd²/(σ² + σd²), c_out = σ σd/√(σ² + σd²), c_in = 1/√(σ² + σd²), c_noise = ln(σ)/4
/// (Karras et al. 2022, arXiv:2206.00364, Table 1). Example: `auto c = edm_coefficients(sigma, 0.5);`
inline EdmCoefficients edm_coefficients(const torch::Tensor& sigma, double sigma_data) {
  const double sd2 = sigma_data * sigma_data;
  const auto total = sigma.square() + sd2;
  const auto rsqrt = total.rsqrt();
  return {sd2 / total, sigma * sigma_data * rsqrt, rsqrt, sigma.log() / 4.0};
}

struct EdmPreconditioningOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, sigma_data, Range::above(0), "σ_data, the data's std (0.5 for data scaled to [−1, 1])") = 0.5;
  /// Samplers clamp their schedule to this range.
  GPM_OPTION(double, sigma_min, Range::above(0), "the smallest noise level the denoiser is trained for") = 0.002;
  GPM_OPTION(double, sigma_max, Range::above(0), "the largest noise level the denoiser is trained for") = 80.0;
  GPM_OPTIONS_END
};

/// D(x, σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x, c_noise(σ)) with the coefficients of
/// edm_coefficients, σ [N] broadcast per particle (Karras et al. 2022, arXiv:2206.00364, Eq. 7).
/// F's output is reshaped to x's shape. σ must be > 0 (c_noise = ln σ / 4); it is not checked, to
/// avoid a host synchronisation. The holder EdmPreconditioned<Net> models gpm::Denoiser.
/// Example: `EdmPreconditioned<TimeMlp> d(TimeMlp(TimeMlpOptions(2, 2)), EdmPreconditioningOptions().sigma_max(40));`
template <ConditionedNetwork Net>
class EdmPreconditionedImpl : public torch::nn::Module {
 public:
  explicit EdmPreconditionedImpl(Net network, EdmPreconditioningOptions options = {})
      : net(std::move(network)), options_(options) {
    GPM_CHECK(!net.is_empty(), "EdmPreconditioned: the network is empty (a nullptr module holder)");
    GPM_CHECK(options_.sigma_data() > 0 && std::isfinite(options_.sigma_data()), "EdmPreconditioned: sigma_data "
              "must be finite and > 0, got {}", options_.sigma_data());
    GPM_CHECK(options_.sigma_min() > 0 && options_.sigma_min() < options_.sigma_max(), "EdmPreconditioned: need "
              "0 < sigma_min < sigma_max, got sigma_min = {}, sigma_max = {}", options_.sigma_min(),
              options_.sigma_max());
    register_module("net", net);
  }

  /// x [N, ...], σ [N] -> D(x, σ), shaped like x.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& sigma) {
    check_particles(x, "EdmPreconditioned::forward");
    check_times(sigma, x, "EdmPreconditioned::forward (sigma)");
    check_compatible(x, "x", sigma, "sigma", "EdmPreconditioned::forward");
    const auto c = edm_coefficients(sigma, options_.sigma_data());
    const auto f = net->forward(per_particle(c.c_in, x) * x, c.c_noise);
    GPM_CHECK(f.numel() == x.numel(), "EdmPreconditioned::forward: the network returned shape {} for x of "
              "shape {}; it must return one value per input element (e.g. TimeMlp with out = in)",
              shape_string(f), shape_string(x));
    return per_particle(c.c_skip, x) * x + per_particle(c.c_out, x) * f.reshape(x.sizes());
  }

  double sigma_data() const { return options_.sigma_data(); }
  double sigma_min() const { return options_.sigma_min(); }
  double sigma_max() const { return options_.sigma_max(); }
  const EdmPreconditioningOptions& options() const { return options_; }

  /// The raw network F.
  Net net;

 private:
  EdmPreconditioningOptions options_;
};

/// The module holder of EdmPreconditionedImpl<Net> (what TORCH_MODULE would declare for a template).
/// Example: `EdmPreconditioned denoiser(TimeMlp(TimeMlpOptions(2, 2)));  auto y = denoiser(x, sigma);`
template <ConditionedNetwork Net>
class EdmPreconditioned : public torch::nn::ModuleHolder<EdmPreconditionedImpl<Net>> {
 public:
  using torch::nn::ModuleHolder<EdmPreconditionedImpl<Net>>::ModuleHolder;
};

template <ConditionedNetwork Net>
EdmPreconditioned(Net) -> EdmPreconditioned<Net>;
template <ConditionedNetwork Net>
EdmPreconditioned(Net, EdmPreconditioningOptions) -> EdmPreconditioned<Net>;

/// An EDM denoiser on an MLP: the 2-D denoiser of the GPM reference (Fourier embedding 128).
using EdmMlpDenoiser = EdmPreconditioned<TimeMlp>;

/// Builds EdmPreconditioned<Net> around `network`.
/// Example: `auto denoiser = make_edm_denoiser(TimeMlp(TimeMlpOptions(2, 2)), EdmPreconditioningOptions().sigma_max(40));`
template <ConditionedNetwork Net>
EdmPreconditioned<Net> make_edm_denoiser(Net network, EdmPreconditioningOptions options = {}) {
  return EdmPreconditioned<Net>(std::move(network), options);
}

}  // namespace gpm::nn
