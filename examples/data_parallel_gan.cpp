// A GAN trained data-parallel on c10d. Started as W processes (WORLD_SIZE, RANK, MASTER_ADDR and
// MASTER_PORT set, as torchrun sets them), each is one rank; started alone, it trains two ranks as
// threads of this process. Each rank trains on its shard of every batch of 2 × 64 points, and rank 0
// checks that the result is the one-process training with the whole batch, up to float rounding
// (exit code 1 if not).
#include <gpm/data.hpp>
#include <gpm/distributed.hpp>
#include <gpm/gpm.hpp>
#include <gpm/models/gan.hpp>

#include <thread>

#include <fmt/format.h>

namespace {

constexpr int64_t batch = 64;  // per rank
constexpr int64_t steps = 40;

// [data-parallel]
// One rank: start from rank 0's state, train on this rank's shard of each batch.
template <class Model>
void train_rank(Model& gan, const std::shared_ptr<gpm::distributed::ProcessGroup>& group) {
  gpm::distributed::broadcast_state(gan, *group);
  const gpm::DataParallelScope scope(group);  // gradients averaged over the group, draws sharded
  const gpm::data::GaussianRing ring;
  auto data_gen = gpm::make_generator(7);
  for (int64_t step = 0; step < steps; ++step)
    gan.train_step(gpm::draw_rows(batch, [&](int64_t n) { return ring.sample(n, data_gen); }));
}
// [/data-parallel]

// Rank 0's check: the same training in one process, with the whole batch, gives the same samples
// up to float rounding. Its yardstick: the one-process training on the same batches with their
// rows reversed, which differs only in the order of the sums.
template <class Model>
int check_against_one_process(Model& gan, Model& alone, Model& reversed, int64_t world) {
  const gpm::data::GaussianRing ring;
  auto data_gen = gpm::make_generator(7);
  for (int64_t step = 0; step < steps; ++step) {
    const auto batch_of_all = ring.sample(world * batch, data_gen);
    alone.train_step(batch_of_all);
    reversed.train_step(batch_of_all.flip(0).contiguous());
  }
  const auto samples = [](Model& model) {
    model.seed(5);
    return model.sample(1000);
  };
  const auto reference = samples(alone);
  const torch::Tensor gap = (samples(gan) - reference).abs().max(), rounding = (samples(reversed) - reference).abs().max();
  const double difference = gap.item<double>(), yardstick = rounding.item<double>();
  fmt::print("{} ranks × batch {} against one process × batch {}: samples differ by at most {:.2e} (the same "
             "training with each batch's rows reversed: {:.2e})\n", world, batch, world * batch, difference, yardstick);
  return difference <= 2 * yardstick + 1e-5 ? 0 : 1;
}

auto make_model(uint64_t seed) { return gpm::make_gan(2, gpm::GanOptions().seed(seed)); }

}  // namespace

int main() {
  gpm::configure_cpu_runtime();
  namespace dist = gpm::distributed;
  if (const auto rendezvous = dist::rendezvous_from_environment()) {
    const auto group = dist::ProcessGroup::connect(*rendezvous);
    auto gan = make_model(1 + static_cast<uint64_t>(group->rank()));  // different on each rank until the broadcast
    auto alone = make_model(1), reversed = make_model(1);  // rank 0's model: a factory's initialisation is seeded
    train_rank(gan, group);
    return group->rank() == 0 ? check_against_one_process(gan, alone, reversed, group->world_size()) : 0;
  }
  // Alone: two ranks as threads, meeting in an in-memory store. Models are built before the threads
  // start (a model's factory seeds LibTorch's global generator for the time it builds).
  auto rank0 = make_model(1), rank1 = make_model(2), alone = make_model(1), reversed = make_model(1);
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::thread other([&] { train_rank(rank1, dist::ProcessGroup::over_store(store, 1, 2, 60)); });
  train_rank(rank0, dist::ProcessGroup::over_store(store, 0, 2, 60));
  other.join();
  return check_against_one_process(rank0, alone, reversed, 2);
}
