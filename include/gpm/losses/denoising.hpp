// Denoising score-matching objectives for a denoiser D(x, σ): EDM's weighted loss and the
// unweighted loss with which Score GAN trains its generated-distribution denoiser.
#pragma once

#include <type_traits>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/concepts.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/losses/noise_levels.hpp"

namespace gpm {

namespace detail {
/// ‖D(y_b + σ_b ε_b, σ_b) − y_b‖² per sample, ε ~ N(0, I) from `gen`; shape [N].
template <class D>
torch::Tensor denoising_errors(D& denoiser, const torch::Tensor& y, const torch::Tensor& sigma, at::Generator& gen,
                               const char* where) {
  check_particles(y, where, "y");
  check_times(sigma, y, where);
  check_compatible(y, "y", sigma, "sigma", where);
  const auto noisy = y + per_particle(sigma, y) * randn_rows(y.sizes(), gen, y.options());
  const torch::Tensor denoised = denoiser(noisy, sigma);
  GPM_CHECK(denoised.sizes() == y.sizes(), "{}: the denoiser returned shape {} for y of shape {}; it must "
            "return a tensor shaped like its input", where, shape_string(denoised), shape_string(y));
  return batched_squared_norm(denoised - y);
}
}  // namespace detail

/// EDM's training loss: mean_b λ(σ_b) ‖D(y_b + σ_b ε_b, σ_b) − y_b‖², ε ~ N(0, I), with
/// λ = edm_loss_weight (Karras et al. 2022, arXiv:2206.00364, Eq. 8). The squared norm sums over
/// all non-batch dims. Draw σ [N] with LogNormalSigma. `denoiser` is any callable d(x, σ).
/// Example: `auto loss = edm_denoising_loss(denoiser, y, LogNormalSigma().sample(y.size(0), y.options(), gen), gen);`
template <class D>
  requires Denoiser<std::remove_reference_t<D>>
torch::Tensor edm_denoising_loss(D&& denoiser, const torch::Tensor& y, const torch::Tensor& sigma, at::Generator& gen,
                                 double sigma_data = 0.5) {
  const auto errors = detail::denoising_errors(denoiser, y, sigma, gen, "edm_denoising_loss");
  return (edm_loss_weight(sigma, sigma_data) * errors).mean();
}

/// Unweighted denoising score matching: mean_b ‖D(x_b + σ_b ε_b, σ_b) − x_b‖², ε ~ N(0, I)
/// (Vincent 2011; Franceschi et al. 2023, arXiv:2305.16150, Eq. 23, the Score GAN update of the
/// generated-distribution denoiser, with σ from ScheduleSigma). Pass x = g(z).detach() there.
/// Example: `auto loss = denoising_score_matching_loss(gen_denoiser, fake.detach(), law.sample(n, o, gen), gen);`
template <class D>
  requires Denoiser<std::remove_reference_t<D>>
torch::Tensor denoising_score_matching_loss(D&& denoiser, const torch::Tensor& x, const torch::Tensor& sigma,
                                            at::Generator& gen) {
  return detail::denoising_errors(denoiser, x, sigma, gen, "denoising_score_matching_loss").mean();
}

}  // namespace gpm
