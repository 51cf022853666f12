// Small versions of the paper models for fast tests: each keeps its model's defaults and only
// shrinks the networks (width, depth, embedding) and, where asked, sets every Adam's learning rate.
#pragma once

#include <cstdint>

#include "gpm/models/discriminator_flow_model.hpp"
#include "gpm/models/edm.hpp"
#include "gpm/models/gan.hpp"
#include "gpm/models/score_gan.hpp"

namespace gpm::test {

inline nn::MlpOptions resized(nn::MlpOptions o, int64_t width, int64_t depth) { return o.width(width).depth(depth); }

inline nn::TimeMlpOptions resized(nn::TimeMlpOptions o, int64_t width, int64_t depth, int64_t embedding_size) {
  o.mlp(resized(o.mlp(), width, depth));
  return o.embedding_size(embedding_size);
}

/// The network without random Fourier features of its input (the reference's raw coordinates).
inline nn::TimeMlpOptions raw_input(nn::TimeMlpOptions o) {
  o.mlp(nn::MlpOptions(o.mlp()).input_features(0));
  return o;
}

inline AdamOptions with_lr(AdamOptions o, double lr) { return o.lr(lr); }

/// The GAN with both networks width × depth.
inline GanOptions small_gan(int64_t latent_dim, int64_t width, int64_t depth) {
  GanOptions o;
  o.generator(resized(o.generator(), width, depth)).discriminator(resized(o.discriminator(), width, depth));
  return o.latent_dim(latent_dim);
}

/// Both of the GAN's Adams at `lr`.
inline GanOptions with_lr(GanOptions o, double lr) {
  o.generator_optimizer(with_lr(o.generator_optimizer(), lr));
  return o.discriminator_optimizer(with_lr(o.discriminator_optimizer(), lr));
}

inline EdmOptions small_edm(int64_t width, int64_t depth, int64_t embedding_size) {
  EdmOptions o;
  return o.network(resized(o.network(), width, depth, embedding_size));
}

inline EdmOptions with_lr(EdmOptions o, double lr) { return o.optimizer(with_lr(o.optimizer(), lr)); }

inline DiscriminatorFlowModelOptions small_discriminator_flow(int64_t width, int64_t depth, int64_t embedding_size) {
  DiscriminatorFlowModelOptions o;
  return o.discriminator(resized(o.discriminator(), width, depth, embedding_size));
}

/// The Score GAN with a width × depth generator and a D_φ of denoiser_width × denoiser_depth.
inline ScoreGanOptions small_score_gan(int64_t latent_dim, int64_t width, int64_t depth, int64_t denoiser_width,
                                       int64_t denoiser_depth, int64_t embedding_size) {
  ScoreGanOptions o;
  o.generator(resized(o.generator(), width, depth));
  return o.latent_dim(latent_dim).denoiser(resized(o.denoiser(), denoiser_width, denoiser_depth, embedding_size));
}

}  // namespace gpm::test
