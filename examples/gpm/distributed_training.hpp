// `gpm train` as one rank of a data-parallel group: where the group meets (flags or the conventional
// environment variables), the common start every rank takes from rank 0, and the means of the
// ranks' losses for the log.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpm/core/concepts.hpp>
#include <gpm/distributed.hpp>
#include <torch/cuda.h>

#include "checkpoint_files.hpp"

namespace gpm::runner {

/// The rendezvous flags of `gpm train`; any left out come from WORLD_SIZE, RANK, MASTER_ADDR and
/// MASTER_PORT (as torchrun and `gpm launch` set them).
struct DistributedArgs {
  std::optional<int64_t> world_size, rank, master_port;
  std::optional<std::string> master_addr;
  double timeout_seconds = 300;
};

/// The group `a` and the environment describe; none for one process.
inline std::optional<distributed::RendezvousOptions> rendezvous_of(const DistributedArgs& a) {
  const auto environment = distributed::rendezvous_from_environment();
  if (!a.world_size && !environment) {
    GPM_CHECK(!a.rank && !a.master_addr && !a.master_port, "--rank, --master-addr and --master-port describe a group of "
              "processes: give its size with --world-size W (or the environment variable WORLD_SIZE)");
    return std::nullopt;
  }
  auto o = environment.value_or(distributed::RendezvousOptions());
  if (a.world_size) {
    o.world_size(*a.world_size);
    GPM_CHECK(a.rank || o.world_size() == 1 || (environment && std::getenv("RANK") != nullptr), "--world-size {} needs "
              "--rank R, this process's rank in [0, {}) (or the environment variable RANK)", o.world_size(), o.world_size());
  }
  if (a.rank) o.rank(*a.rank);
  if (a.master_addr) o.master_addr(*a.master_addr);
  if (a.master_port) o.master_port(*a.master_port);
  o.timeout_seconds(a.timeout_seconds);
  distributed::check_rendezvous(o);
  if (o.world_size() == 1) return std::nullopt;
  return o;
}

/// What makes runs the same run: every rank must train the same model on data of the same shape.
inline nlohmann::json run_identity(const nlohmann::json& info) {
  nlohmann::json identity = {{"model", info.at("model")}, {"config", info.at("config")}, {"dim", info.at("dim")}};
  if (info.contains("image_shape")) identity["image_shape"] = info.at("image_shape");
  return identity;
}

/// The GPU of a rank of `group` on its machine: the one of its local rank (LOCAL_RANK, as gpm launch
/// and torchrun set it; else its rank), modulo the machine's GPUs.
inline torch::Device rank_device(const distributed::ProcessGroup& group) {
  const char* local = std::getenv("LOCAL_RANK");
  int64_t rank = group.rank();
  if (local != nullptr && *local != '\0') rank = std::strtoll(local, nullptr, 10);
  const auto count = std::max<int64_t>(1, static_cast<int64_t>(torch::cuda::device_count()));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(rank % count));
}

/// Every rank checks that it builds rank 0's run (all stop, saying so, if one does not), then takes
/// rank 0's whole state: weights, optimisers, random streams, the data stream and the step, onto
/// `device`, this rank's.
inline void start_from_rank_zero(distributed::ProcessGroup& group, const nlohmann::json& info, Checkpoint state,
                                 torch::Device device) {
  const auto mine = run_identity(info);
  const auto rank_zero = nlohmann::json::parse(group.broadcast_bytes(mine.dump(), 0));
  const bool same = rank_zero == mine;
  const double agreeing = group.mean(torch::tensor({same ? 1.0 : 0.0}, torch::kFloat64)).item<double>();
  if (agreeing < 1.0) {
    const auto problem = same ? std::string("another rank builds a different run")
                              : fmt::format("this rank builds '{}' with config {}, rank 0 '{}' with config {}",
                                            mine.at("model").get<std::string>(), mine.at("config").dump(),
                                            rank_zero.at("model").get<std::string>(), rank_zero.at("config").dump());
    throw InvalidArgument(fmt::format("rank {} of {}: {}; start every rank with the same model, data, preset, config "
                                      "and seed", group.rank(), group.world_size(), problem));
  }
  distributed::broadcast_state(state, group, 0, device);
}

/// The mean over the ranks of each of a step's statistics (each rank's are of its shard).
inline Stats mean_over_ranks(const Stats& stats, distributed::ProcessGroup& group) {
  if (stats.empty()) return stats;
  std::vector<torch::Tensor> values;
  for (const auto& [name, value] : stats) values.push_back(value.detach().reshape({}).to(torch::kCPU, torch::kFloat64));
  const auto means = group.mean(torch::stack(values));
  Stats out;
  int64_t i = 0;
  for (const auto& [name, value] : stats) out[name] = means[i++];
  return out;
}

}  // namespace gpm::runner
