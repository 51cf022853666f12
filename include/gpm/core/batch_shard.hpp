// The share of a batch this thread computes in data-parallel training, and the draws that respect
// it. Every rank of a data-parallel group holds the same random streams and draws the whole batch's
// random numbers (noise, latents, noise levels, times), keeping its own rows: a run on W ranks with
// batch B per rank draws exactly what one process with batch W·B draws, so its results do not
// depend on how many ranks share the work. Outside a shard (one process) the draws are plain ones.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"

namespace gpm {

/// Rows [index·n, (index + 1)·n) of every batch of `count`·n rows: rank `index` of `count`.
struct BatchShard {
  int64_t index = 0;
  int64_t count = 1;
};

namespace detail {
inline BatchShard& thread_batch_shard() {
  thread_local BatchShard shard;
  return shard;
}
}  // namespace detail

/// This thread's shard ({0, 1} outside data-parallel training).
inline BatchShard current_batch_shard() { return detail::thread_batch_shard(); }

/// Sets this thread's shard for the scope of the object, restoring the previous one after.
/// Example: `{ gpm::ScopedBatchShard shard({rank, world}); model.train_step(batch); }`
class ScopedBatchShard {
 public:
  explicit ScopedBatchShard(BatchShard shard) : saved_(detail::thread_batch_shard()) {
    GPM_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "ScopedBatchShard: the shard index "
              "must be in [0, count) and count >= 1, got index {} of {}", shard.index, shard.count);
    detail::thread_batch_shard() = shard;
  }
  ~ScopedBatchShard() { detail::thread_batch_shard() = saved_; }
  ScopedBatchShard(const ScopedBatchShard&) = delete;
  ScopedBatchShard& operator=(const ScopedBatchShard&) = delete;

 private:
  BatchShard saved_;
};

/// n rows of a per-row draw: `draw(rows)` returns `rows` rows [rows, ...]; in a shard of `count`,
/// it is called with count·n rows and this shard's n are kept (the same stream state after it on
/// every rank). What every per-particle random draw of a training step goes through.
/// Example: `auto z = gpm::draw_rows(n, [&](int64_t rows) { return torch::randn({rows, 8}, gen); });`
template <class Draw>
torch::Tensor draw_rows(int64_t n, Draw&& draw) {
  const auto shard = current_batch_shard();
  if (shard.count == 1) return std::forward<Draw>(draw)(n);
  const torch::Tensor all = std::forward<Draw>(draw)(n * shard.count);
  GPM_CHECK(all.dim() >= 1 && all.size(0) == n * shard.count, "draw_rows: the draw returned {} rows, asked for {}",
            all.dim() >= 1 ? all.size(0) : 0, n * shard.count);
  return all.narrow(0, shard.index * n, n);
}

/// N(0, 1) of shape `sizes`, one row per particle (draw_rows).
inline torch::Tensor randn_rows(at::IntArrayRef sizes, at::Generator& gen, const torch::TensorOptions& options) {
  return draw_rows(sizes.at(0), [&](int64_t rows) {
    std::vector<int64_t> all(sizes.begin(), sizes.end());
    all[0] = rows;
    return torch::randn(all, gen, options);
  });
}

/// U[0, 1) of shape `sizes`, one row per particle (draw_rows).
inline torch::Tensor rand_rows(at::IntArrayRef sizes, at::Generator& gen, const torch::TensorOptions& options) {
  return draw_rows(sizes.at(0), [&](int64_t rows) {
    std::vector<int64_t> all(sizes.begin(), sizes.end());
    all[0] = rows;
    return torch::rand(all, gen, options);
  });
}

/// n integers uniform in [0, high), one per particle (draw_rows).
inline torch::Tensor randint_rows(int64_t high, int64_t n, at::Generator& gen, const torch::TensorOptions& options) {
  return draw_rows(n, [&](int64_t rows) { return torch::randint(high, {rows}, gen, options); });
}

}  // namespace gpm
