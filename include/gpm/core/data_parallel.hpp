// Data-parallel training, as the library's networks see it: a group of ranks that sums tensors
// (gpm::Collectives; gpm::distributed::ProcessGroup implements it on PyTorch's c10d), and the scope
// in which a thread trains as one rank of it. Inside a DataParallelScope every optimiser step of an
// OptimisedNetwork averages its gradients over the group (gpm/core/gradient_buckets.hpp) and every
// per-particle draw keeps this rank's rows (gpm/core/batch_shard.hpp); nothing else changes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include <torch/arg.h>
#include <torch/types.h>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/errors.hpp"

namespace gpm {

/// The collective operations data-parallel training needs. Every rank calls them in the same order.
class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  /// Starts summing `tensor` over the ranks, in place; calling the returned function waits until
  /// it is done (and throws gpm::CollectiveError if the group failed: a rank stopped, a peer timed out).
  virtual std::function<void()> start_sum(torch::Tensor tensor) = 0;
  /// Makes `tensor` on every rank a copy of rank `root`'s.
  virtual void broadcast(torch::Tensor tensor, int64_t root) = 0;
};

/// The gradients' buckets: the most bytes one summation carries. Fewer, larger collectives cost
/// less latency; smaller ones start sooner during the backward pass.
inline constexpr int64_t default_bucket_bytes = int64_t{25} << 20;

/// How a DataParallelScope trains.
struct DataParallelOptions {
  /// The most bytes one summation of gradients carries.
  TORCH_ARG(int64_t, bucket_bytes) = default_bucket_bytes;
  /// Batch norm (gpm::nn::BatchNorm) normalises by the statistics of the whole batch over every
  /// rank, as one process would; off, each rank by its own batch's (as DDP without SyncBatchNorm).
  TORCH_ARG(bool, sync_batch_norm) = false;
};

struct DataParallelContext {
  std::shared_ptr<Collectives> group;
  int64_t bucket_bytes = default_bucket_bytes;
  bool sync_batch_norm = false;
};

namespace detail {
inline DataParallelContext& thread_data_parallel() {
  thread_local DataParallelContext context;
  return context;
}
}  // namespace detail

/// The group this thread trains in (none outside a DataParallelScope).
inline const DataParallelContext& current_data_parallel() { return detail::thread_data_parallel(); }

/// This thread trains as rank `group->rank()` of `group` for the scope of the object: optimiser
/// steps average gradients over the group in buckets of at most `options.bucket_bytes()`, and
/// per-particle draws keep this rank's rows of the whole batch. Start every rank from the same state
/// (gpm::distributed::broadcast_state) and give each its shard of the data (gpm::draw_rows).
/// Example:
///   `gpm::DataParallelScope scope(group);
///    for (...) model.train_step(gpm::draw_rows(batch, [&](int64_t n) { return data.sample(n, gen); }));`
class DataParallelScope {
 public:
  explicit DataParallelScope(std::shared_ptr<Collectives> group, DataParallelOptions options = {})
      : saved_(detail::thread_data_parallel()),
        shard_({group ? group->rank() : 0, group ? group->world_size() : 1}) {
    GPM_CHECK(group != nullptr, "DataParallelScope: the group is null; connect one first (gpm::distributed::ProcessGroup)");
    GPM_CHECK(options.bucket_bytes() > 0, "DataParallelScope: bucket_bytes must be > 0, got {}", options.bucket_bytes());
    detail::thread_data_parallel() = {std::move(group), options.bucket_bytes(), options.sync_batch_norm()};
  }
  ~DataParallelScope() { detail::thread_data_parallel() = std::move(saved_); }
  DataParallelScope(const DataParallelScope&) = delete;
  DataParallelScope& operator=(const DataParallelScope&) = delete;

 private:
  DataParallelContext saved_;
  ScopedBatchShard shard_;
};

}  // namespace gpm
