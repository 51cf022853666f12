// A data-parallel group of processes on PyTorch's own distributed engine, c10d: ranks meet through
// a c10d::TCPStore (or any c10d store) and sum tensors through c10d's Gloo process group, or NCCL's
// for CUDA tensors where LibTorch has it. It is the gpm::Collectives that a DataParallelScope trains
// over. Link gpm::distributed (CMake), which defines USE_C10D_GLOO and needs Gloo's headers.
#pragma once

#ifndef USE_C10D_GLOO
#error "gpm/distributed needs c10d's Gloo process group: link the CMake target gpm::distributed (it defines USE_C10D_GLOO; Debian: libgloo-dev)"
#endif

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <torch/cuda.h>
#endif
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "gpm/core/capabilities.hpp"
#include "gpm/core/data_parallel.hpp"
#include "gpm/core/errors.hpp"
#include "gpm/io/checkpoint.hpp"

namespace gpm::distributed {

/// Where and how the ranks of a group meet.
struct RendezvousOptions {
  /// W, the number of processes.
  TORCH_ARG(int64_t, world_size) = 1;
  /// This process's rank in [0, W); rank 0 serves the store and writes a run's files.
  TORCH_ARG(int64_t, rank) = 0;
  /// The address of rank 0's machine, which every rank reaches.
  TORCH_ARG(std::string, master_addr) = "127.0.0.1";
  /// The port of rank 0's store on it.
  TORCH_ARG(int64_t, master_port) = 29500;
  /// Seconds a rank waits for the others: at the start, and in every collective after.
  TORCH_ARG(double, timeout_seconds) = 60;
};

/// Refuses options no group can be formed with, naming the fix.
inline void check_rendezvous(const RendezvousOptions& o) {
  GPM_CHECK(o.world_size() >= 1, "the world size must be >= 1 (the number of processes), got {}", o.world_size());
  GPM_CHECK(o.rank() >= 0 && o.rank() < o.world_size(), "the rank must be in [0, {}) for a world size of {}, got {}; "
            "give each process its own rank", o.world_size(), o.world_size(), o.rank());
  GPM_CHECK(!o.master_addr().empty(), "the master address is empty; give rank 0's host name or IP address");
  GPM_CHECK(o.master_port() > 0 && o.master_port() < 65536, "the master port must be in [1, 65535], got {}",
            o.master_port());
  GPM_CHECK(o.timeout_seconds() > 0, "the timeout must be > 0 seconds, got {}", o.timeout_seconds());
}

namespace detail {
inline std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}
inline int64_t environment_integer(const char* name, const std::string& value) {
  size_t used = 0;
  int64_t parsed = 0;
  try {
    parsed = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  GPM_CHECK(used == value.size() && used > 0, "the environment variable {}='{}' is not an integer", name, value);
  return parsed;
}
}  // namespace detail

/// The group described by the conventional environment variables (those torchrun sets): WORLD_SIZE,
/// RANK, MASTER_ADDR (default 127.0.0.1), MASTER_PORT (default 29500); none when WORLD_SIZE is unset.
inline std::optional<RendezvousOptions> rendezvous_from_environment() {
  const auto world = detail::environment("WORLD_SIZE");
  if (!world) return std::nullopt;
  RendezvousOptions o;
  o.world_size(detail::environment_integer("WORLD_SIZE", *world));
  const auto rank = detail::environment("RANK");
  GPM_CHECK(rank || o.world_size() == 1, "WORLD_SIZE={} is set but RANK is not; set RANK to this process's rank in "
            "[0, {})", o.world_size(), o.world_size());
  if (rank) o.rank(detail::environment_integer("RANK", *rank));
  if (const auto addr = detail::environment("MASTER_ADDR")) o.master_addr(*addr);
  if (const auto port = detail::environment("MASTER_PORT")) o.master_port(detail::environment_integer("MASTER_PORT", *port));
  return o;
}

/// A group of W processes summing tensors over c10d. Every rank calls the same operations in the
/// same order. A rank that stops, or one that never arrives, makes the others' next operation throw
/// a gpm::CollectiveError within the timeout, naming what failed.
/// Example:
///   `auto group = gpm::distributed::ProcessGroup::connect(*gpm::distributed::rendezvous_from_environment());
///    gpm::distributed::broadcast_state(model, *group);
///    gpm::DataParallelScope scope(group);`
class ProcessGroup final : public Collectives {
 public:
  /// Joins the group: rank 0 serves a c10d::TCPStore at master_addr:master_port, the other ranks
  /// connect to it; all wait for each other up to the timeout.
  static std::shared_ptr<ProcessGroup> connect(const RendezvousOptions& options) {
    check_rendezvous(options);
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port());
    store_options.isServer = options.rank() == 0;
    store_options.numWorkers = static_cast<std::size_t>(options.world_size());
    store_options.waitWorkers = true;
    store_options.timeout = milliseconds(options.timeout_seconds());
    c10::intrusive_ptr<c10d::Store> store;
    try {
      store = c10::make_intrusive<c10d::TCPStore>(options.master_addr(), store_options);
    } catch (const std::exception& e) {
      throw CollectiveError(fmt::format(
          "rank {} of {}: the rendezvous at {}:{} did not complete within {} s ({}); start every rank with the same "
          "world size, master address and port, and check that rank 0 runs and that the port is free and reachable",
          options.rank(), options.world_size(), options.master_addr(), options.master_port(), options.timeout_seconds(),
          io::first_line(e.what())));
    }
    return over_store(std::move(store), options.rank(), options.world_size(), options.timeout_seconds(),
                      is_loopback(options.master_addr()));
  }

  /// Joins the group through an existing store: a c10d::HashStore shared by ranks that are threads
  /// of one process (tests), a c10d::FileStore on a shared file system. `loopback`: the ranks are on
  /// this machine (Gloo then talks over 127.0.0.1).
  static std::shared_ptr<ProcessGroup> over_store(c10::intrusive_ptr<c10d::Store> store, int64_t rank, int64_t world_size,
                                                  double timeout_seconds, bool loopback = true) {
    check_rendezvous(RendezvousOptions().world_size(world_size).rank(rank).timeout_seconds(timeout_seconds));
    ignore_broken_pipes();
    return std::shared_ptr<ProcessGroup>(new ProcessGroup(std::move(store), rank, world_size, timeout_seconds, loopback));
  }

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_; }

  std::function<void()> start_sum(torch::Tensor tensor) override {
    std::vector<torch::Tensor> tensors{std::move(tensor)};
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = on_backend(tensors.front(), [&](auto& backend) { return backend.allreduce(tensors); });
    } catch (const std::exception& e) {
      failed("summing a tensor over the group", e);
    }
    return [this, work, tensors] {
      try {
        work->wait();
      } catch (const std::exception& e) {
        failed("summing a tensor over the group", e);
      }
    };
  }

  void broadcast(torch::Tensor tensor, int64_t root) override {
    GPM_CHECK(root >= 0 && root < world_, "ProcessGroup::broadcast: the root must be a rank in [0, {}), got {}", world_,
              root);
    std::vector<torch::Tensor> tensors{std::move(tensor)};
    try {
      c10d::BroadcastOptions options;
      options.rootRank = root;
      on_backend(tensors.front(), [&](auto& backend) { return backend.broadcast(tensors, options); })->wait();
    } catch (const std::exception& e) {
      failed(fmt::format("receiving rank {}'s tensor", root), e);
    }
  }

  /// Rank `root`'s `bytes` on every rank (the others' are ignored).
  std::string broadcast_bytes(const std::string& bytes, int64_t root = 0) {
    auto size = torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kLong);
    broadcast(size, root);
    auto buffer = torch::empty({size.item<int64_t>()}, torch::kUInt8);
    if (rank_ == root) std::memcpy(buffer.data_ptr(), bytes.data(), bytes.size());
    broadcast(buffer, root);
    return {static_cast<const char*>(buffer.data_ptr()), static_cast<size_t>(buffer.numel())};
  }

  /// The mean of `tensor` over the ranks (a step's losses for a log, say); `tensor` is left as it is.
  torch::Tensor mean(const torch::Tensor& tensor) {
    auto sum = tensor.detach().clone();
    start_sum(sum)();
    return sum / static_cast<double>(world_);
  }

  /// Returns when every rank has called it.
  void barrier() { mean(torch::zeros({1})); }

 private:
  ProcessGroup(c10::intrusive_ptr<c10d::Store> store, int64_t rank, int64_t world_size, double timeout_seconds, bool loopback)
      : store_(std::move(store)), rank_(rank), world_(world_size), timeout_seconds_(timeout_seconds) {
    try {
      auto options = c10d::ProcessGroupGloo::Options::create(milliseconds(timeout_seconds));
      options->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                          : c10d::ProcessGroupGloo::createDefaultDevice());
      gloo_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", store_),
                                                          static_cast<int>(rank), static_cast<int>(world_size), options);
#ifdef USE_C10D_NCCL
      if (torch::cuda::is_available())
        nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", store_),
                                                            static_cast<int>(rank), static_cast<int>(world_size),
                                                            c10d::ProcessGroupNCCL::Options::create());
#endif
    } catch (const std::exception& e) {
      failed(fmt::format("connecting to the other {} rank{}", world_size - 1, world_size == 2 ? "" : "s"), e);
    }
  }

  // A write to a peer that has stopped must fail as an error the caller reports, not end this
  // process by SIGPIPE: SIGPIPE is ignored unless the program handles it itself (Python too ignores it).
  static void ignore_broken_pipes() {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  }

  static std::chrono::milliseconds milliseconds(double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
  }
  static bool is_loopback(const std::string& address) {
    return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
  }

  // Runs `op` on the process group for `t`'s device: NCCL's for CUDA tensors where LibTorch has
  // it, Gloo's otherwise (Gloo also takes CUDA tensors, through host memory).
  template <class Op>
  c10::intrusive_ptr<c10d::Work> on_backend([[maybe_unused]] const torch::Tensor& t, Op&& op) const {
#ifdef USE_C10D_NCCL
    if (t.is_cuda() && nccl_) return op(*nccl_);
#endif
    return op(*gloo_);
  }

  [[noreturn]] void failed(const std::string& what, const std::exception& e) const {
    throw CollectiveError(fmt::format("rank {} of {}: {} failed ({}); another rank has probably stopped or cannot be reached: "
                                   "see its output (ranks wait for each other at most {} s)",
                                   rank_, world_, what, io::first_line(e.what()), timeout_seconds_));
  }

  c10::intrusive_ptr<c10d::Store> store_;
  int64_t rank_;
  int64_t world_;
  double timeout_seconds_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo_;
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#endif
};

/// Makes `object` (a model, any Checkpointable: weights, optimiser state, random streams, counters)
/// on every rank a copy of rank `root`'s: the common start of data-parallel training. `device` is
/// where `object` lives on this rank, when ranks' devices differ (one GPU per rank): rank root's
/// tensors are read onto it.
/// Example: `gpm::distributed::broadcast_state(gan, *group);`
template <Checkpointable T>
void broadcast_state(T& object, ProcessGroup& group, int64_t root = 0, std::optional<torch::Device> device = std::nullopt) {
  std::string bytes;
  if (group.rank() == root) {
    torch::serialize::OutputArchive archive;
    object.save(archive);
    std::ostringstream out;
    archive.save_to(out);
    bytes = out.str();
  }
  bytes = group.broadcast_bytes(bytes, root);
  if (group.rank() == root) return;
  torch::serialize::InputArchive archive;
  std::istringstream in(bytes);
  if (device) archive.load_from(in, *device);
  else archive.load_from(in);
  object.load(archive);
}

}  // namespace gpm::distributed
