// Data-parallel training on c10d (gpm/distributed, gpm/core/data_parallel.hpp): ranks run as threads
// of this process over a c10d::HashStore and c10d's Gloo process group on loopback.
#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "gpm/distributed.hpp"
#include "gpm/gpm.hpp"
#include "gpm/models/discriminator_flow_model.hpp"
#include "gpm/models/edm.hpp"
#include "gpm/models/gan.hpp"
#include "gpm/models/score_gan.hpp"
#include "support/small_models.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace t = gpm::test;
namespace dist = gpm::distributed;

namespace {

// Runs body(rank) for ranks 0..world-1, each in its own thread; rethrows the first failure.
void run_ranks(int64_t world, const std::function<void(int64_t)>& body) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int64_t rank = 0; rank < world; ++rank)
    threads.emplace_back([&, rank] {
      try {
        body(rank);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors)
    if (error) std::rethrow_exception(error);
}

// Every floating-point tensor of a Checkpointable's state (weights, buffers, weight averages), by
// dotted name. Optimiser moments are left out: LibTorch names them by their parameter's address,
// which differs between models; the weights they moved are compared.
void collect_tensors(torch::serialize::InputArchive& archive, const std::string& prefix,
                     std::map<std::string, torch::Tensor>& out) {
  for (const auto& key : archive.keys()) {
    if (key.rfind("0x", 0) == 0) continue;
    torch::Tensor tensor;
    if (archive.try_read(key, tensor)) {
      if (tensor.is_floating_point()) out[prefix + key] = tensor.to(torch::kCPU, torch::kFloat64);
      continue;
    }
    torch::serialize::InputArchive nested;
    if (archive.try_read(key, nested)) collect_tensors(nested, prefix + key + ".", out);
  }
}
template <class T>
std::map<std::string, torch::Tensor> state_tensors(const T& object) {
  torch::serialize::OutputArchive out;
  object.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  std::istringstream read(bytes.str());
  in.load_from(read);
  std::map<std::string, torch::Tensor> tensors;
  collect_tensors(in, "", tensors);
  return tensors;
}
// The largest difference between two states over the tensors both hold; `same_structure`: both
// must hold the same tensors.
double max_difference(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b,
                      bool same_structure = true) {
  if (same_structure) REQUIRE(a.size() == b.size());
  double worst = 0;
  for (const auto& [name, tensor] : a) {
    if (same_structure) REQUIRE(b.count(name) == 1);
    if (b.count(name) == 1 && tensor.numel() > 0 && tensor.sizes() == b.at(name).sizes())
      worst = std::max(worst, (tensor - b.at(name)).abs().max().item<double>());
  }
  return worst;
}

gpm::data::GaussianRing ring() { return gpm::data::GaussianRing(); }

// `make(seed)` builds a model; W ranks of batch B each and one process of batch W·B train from the
// same state on the same data for `steps` steps. The ranks' models start from different seeds:
// broadcast_state makes them rank 0's. Returns {the largest difference between the one process's
// state and each rank's, the largest change of the state in training}.
template <class Make>
std::pair<double, double> ranks_against_one_process(Make make, int64_t world, int64_t batch, int64_t steps,
                                                    gpm::DataParallelOptions options = {}) {
  auto one = make(7);
  const auto start = state_tensors(one);
  {
    auto gen = gpm::make_generator(1);
    for (int64_t i = 0; i < steps; ++i) one.train_step(ring().sample(world * batch, gen));
  }
  std::vector<decltype(make(7))> ranks;
  for (int64_t rank = 0; rank < world; ++rank) ranks.push_back(make(rank == 0 ? 7 : 100 + static_cast<uint64_t>(rank)));
  auto store = c10::make_intrusive<c10d::HashStore>();
  run_ranks(world, [&](int64_t rank) {
    auto group = dist::ProcessGroup::over_store(store, rank, world, 30);
    auto& model = ranks[static_cast<size_t>(rank)];
    dist::broadcast_state(model, *group);
    const gpm::DataParallelScope scope(group, options);
    auto gen = gpm::make_generator(1);
    for (int64_t i = 0; i < steps; ++i)
      model.train_step(gpm::draw_rows(batch, [&](int64_t n) { return ring().sample(n, gen); }));
  });
  const auto expected = state_tensors(one);
  double mismatch = 0;
  for (const auto& model : ranks) mismatch = std::max(mismatch, max_difference(expected, state_tensors(model)));
  return {mismatch, max_difference(expected, start, false)};
}

}  // namespace

TEST_CASE("a batch shard keeps its rows of the whole batch's draw, and the stream moves as for the whole batch",
          "[distributed][numeric]") {
  auto whole_gen = gpm::make_generator(3), shard_gen = gpm::make_generator(3);
  const auto whole = torch::randn({12, 2}, whole_gen);
  torch::Tensor shard;
  {
    const gpm::ScopedBatchShard scope({1, 3});
    shard = gpm::randn_rows({4, 2}, shard_gen, torch::kFloat32);
    CHECK(gpm::current_batch_shard().index == 1);
  }
  CHECK(gpm::current_batch_shard().count == 1);  // restored
  CHECK(torch::equal(shard, whole.narrow(0, 4, 4)));
  CHECK(torch::equal(torch::rand({5}, whole_gen), torch::rand({5}, shard_gen)));
  // Alone, a draw is the plain draw.
  auto a = gpm::make_generator(4), b = gpm::make_generator(4);
  CHECK(torch::equal(gpm::randint_rows(7, 9, a, torch::kLong), torch::randint(7, {9}, b, torch::kLong)));
  CHECK_THROWS_WITH(gpm::ScopedBatchShard({2, 2}), Contains("shard index must be in [0, count)"));
}

TEST_CASE("data-parallel gradients are the whole batch's gradient, in several buckets, and a parameter no rank "
          "uses keeps no gradient", "[distributed][numeric]") {
  const int64_t world = 3, batch = 5;
  auto gen = gpm::make_generator(2);
  const auto x = torch::randn({world * batch, 4}, gen), y = torch::randn({world * batch, 1}, gen);
  const auto make_net = [] {
    const gpm::ScopedGlobalSeed seed(5);
    torch::nn::Sequential net(torch::nn::Linear(4, 8), torch::nn::Tanh(), torch::nn::Linear(8, 1));
    net->register_parameter("unused", torch::zeros({3}));
    return net;
  };
  const auto loss_of = [](torch::nn::Sequential& net, const torch::Tensor& in, const torch::Tensor& out) {
    return (net->forward(in) - out).pow(2).mean();
  };
  auto whole = make_net();
  loss_of(whole, x, y).backward();

  std::vector<torch::nn::Sequential> nets;
  for (int64_t r = 0; r < world; ++r) nets.push_back(make_net());
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<int64_t> buckets(world);
  run_ranks(world, [&](int64_t rank) {
    auto group = dist::ProcessGroup::over_store(store, rank, world, 30);
    // 64 bytes: the second layer's weight and bias in one bucket, the first layer's in one each, the
    // unused parameter in a fourth.
    gpm::GradientBuckets sync(nets[static_cast<size_t>(rank)]->parameters(), group, 64);
    buckets[static_cast<size_t>(rank)] = sync.buckets();
    for (int repeat = 0; repeat < 2; ++repeat) {  // the buckets serve step after step
      for (auto& p : nets[static_cast<size_t>(rank)]->parameters()) p.mutable_grad() = torch::Tensor();
      sync.arm();
      loss_of(nets[static_cast<size_t>(rank)], x.narrow(0, rank * batch, batch), y.narrow(0, rank * batch, batch)).backward();
      sync.finish();
    }
  });
  CHECK(buckets[0] == 4);
  for (const auto& net : nets) {
    const auto expected = whole->parameters(), got = net->parameters();
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("parameter " << i);
      REQUIRE(got[i].grad().defined() == expected[i].grad().defined());
      if (expected[i].grad().defined()) CHECK(torch::allclose(got[i].grad(), expected[i].grad(), 1e-5, 1e-7));
    }
  }
  CHECK(!nets[0]->named_parameters()["unused"].grad().defined());
}

TEST_CASE("2 ranks with batch B train each paper model as one process with batch 2B", "[distributed][numeric]") {
  // Agreement to float rounding, amplified by Adam's first steps: the mismatch is under 1 % of how
  // far training moved the state, where ranks that draw the same noise, or that do not average
  // their gradients, miss by about as much as training moved it (docs/distributed.md).
  const auto check = [](const std::pair<double, double>& result) {
    const auto [mismatch, moved] = result;
    INFO("largest mismatch " << mismatch << ", largest change in training " << moved);
    CHECK(moved > 1e-4);
    CHECK(mismatch < 1e-2 * moved);
  };
  SECTION("GAN") {
    check(ranks_against_one_process([](uint64_t seed) { return gpm::make_gan(2, t::small_gan(4, 16, 2).seed(seed)); }, 2,
                                    16, 4));
  }
  SECTION("EDM") {
    check(ranks_against_one_process([](uint64_t seed) { return gpm::make_edm(2, t::small_edm(16, 1, 8).seed(seed)); }, 2,
                                    16, 4));
  }
  SECTION("Discriminator Flow") {
    check(ranks_against_one_process(
        [](uint64_t seed) {
          return gpm::make_discriminator_flow(2, t::small_discriminator_flow(16, 1, 8).generation_steps(4).seed(seed));
        },
        2, 16, 3));
  }
  SECTION("Score GAN") {
    const gpm::GaussianMixtureDenoiser data(ring().centers(), ring().std());
    check(ranks_against_one_process(
        [&](uint64_t seed) { return gpm::make_score_gan(2, data, t::small_score_gan(4, 16, 2, 16, 1, 8).seed(seed)); }, 2, 16,
        4));
  }
}

TEST_CASE("synchronised batch norm over 2 ranks is batch norm over the whole batch: outputs, gradients of first and "
          "second order, running statistics; per-rank statistics are not", "[distributed][numeric]") {
  const int64_t world = 2, batch = 6;
  auto gen = gpm::make_generator(5);
  auto x = torch::randn({world * batch, 3, 2, 2}, gen, torch::kFloat64);
  x.narrow(0, batch, batch).mul_(3).add_(2);  // the halves differ, so per-rank statistics differ from the whole's
  const auto w = torch::randn(x.sizes(), gen, torch::kFloat64);
  struct Result {
    torch::Tensor y, dx, dweight, dbias, running_mean, running_var;
  };
  // loss = Σ y·w + ‖∂(Σ y·w)/∂x‖²: the second term differentiates a gradient, as a gradient penalty does.
  const auto run = [](gpm::nn::BatchNorm& bn, const torch::Tensor& xs, const torch::Tensor& ws) {
    const auto xi = xs.clone().requires_grad_(true);
    const auto y = bn(xi);
    const auto first = (y * ws).sum();
    const auto g = torch::autograd::grad({first}, {xi}, {}, true, true)[0];
    const auto grads = torch::autograd::grad({first + (g * g).sum()}, {xi, bn->weight, bn->bias});
    return Result{y.detach(), grads[0], grads[1], grads[2], bn->running_mean.clone(), bn->running_var.clone()};
  };
  const auto make_norm = [] {
    gpm::nn::BatchNorm bn(3);
    bn->to(torch::kFloat64);
    return bn;
  };
  auto whole = make_norm();
  const auto expected = run(whole, x, w);
  for (const bool sync : {true, false}) {
    std::vector<Result> got(static_cast<size_t>(world));
    auto store = c10::make_intrusive<c10d::HashStore>();
    run_ranks(world, [&](int64_t rank) {
      auto group = dist::ProcessGroup::over_store(store, rank, world, 30);
      auto bn = make_norm();
      const gpm::DataParallelScope scope(group, gpm::DataParallelOptions().sync_batch_norm(sync));
      got[static_cast<size_t>(rank)] = run(bn, x.narrow(0, rank * batch, batch), w.narrow(0, rank * batch, batch));
    });
    const auto difference = [](const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); };
    double worst = std::max({difference(torch::cat({got[0].y, got[1].y}), expected.y),
                             difference(torch::cat({got[0].dx, got[1].dx}), expected.dx),
                             difference(got[0].dweight + got[1].dweight, expected.dweight),
                             difference(got[0].dbias + got[1].dbias, expected.dbias)});
    for (const auto& rank : got)
      worst = std::max({worst, difference(rank.running_mean, expected.running_mean),
                        difference(rank.running_var, expected.running_var)});
    INFO((sync ? "synchronised" : "per rank") << ": largest difference from the whole batch " << worst);
    if (sync)
      CHECK(worst < 1e-9);
    else
      CHECK(worst > 0.1);
  }
}

TEST_CASE("with synchronised batch norm, 2 ranks with batch B train a GAN with batch norm as one process with batch 2B",
          "[distributed][numeric]") {
  // Batch norm in both networks: the discriminator's is differentiated twice (its R1 penalty). With
  // 4 rows per rank, per-rank statistics part the states by 1.1 % of how far training moved them,
  // synchronised ones by 0.15 % (float rounding, amplified by Adam's first steps): thresholds 0.6 %
  // and 0.3 %. This guards the forward statistics; the summed gradients of the backward pass, whose
  // absence stays within 0.3 % here, are held to the whole batch's by the test above.
  const auto make = [](uint64_t seed) {
    auto o = t::small_gan(4, 16, 2).seed(seed);
    o.generator(gpm::nn::MlpOptions(o.generator()).batch_norm(true));
    o.discriminator(gpm::nn::MlpOptions(o.discriminator()).batch_norm(true));
    return gpm::make_gan(2, o);
  };
  const auto sync = gpm::DataParallelOptions().sync_batch_norm(true);
  const auto [mismatch, moved] = ranks_against_one_process(make, 2, 4, 4, sync);
  INFO("synchronised: largest mismatch " << mismatch << ", largest change in training " << moved);
  CHECK(moved > 1e-4);
  CHECK(mismatch < 3e-3 * moved);
  const auto [per_rank_mismatch, per_rank_moved] = ranks_against_one_process(make, 2, 4, 4);
  INFO("per rank: largest mismatch " << per_rank_mismatch << ", largest change in training " << per_rank_moved);
  CHECK(per_rank_mismatch > 6e-3 * per_rank_moved);
}

TEST_CASE("a rank that never arrives ends the others' wait within the timeout, naming the problem", "[distributed]") {
  auto store = c10::make_intrusive<c10d::HashStore>();
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(dist::ProcessGroup::over_store(store, 0, 2, 1.0),
                    Contains("rank 0 of 2: connecting to the other 1 rank failed") && Contains("at most 1 s"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  CHECK_THROWS_AS(dist::ProcessGroup::over_store(c10::make_intrusive<c10d::HashStore>(), 0, 2, 0.2), gpm::CollectiveError);
}

TEST_CASE("rendezvous options are checked and read from the conventional environment variables", "[distributed]") {
  CHECK_THROWS_WITH(dist::check_rendezvous(dist::RendezvousOptions().world_size(2).rank(2)),
                    Contains("the rank must be in [0, 2)"));
  CHECK_THROWS_WITH(dist::check_rendezvous(dist::RendezvousOptions().master_port(70000)),
                    Contains("the master port must be in [1, 65535]"));
  ::unsetenv("WORLD_SIZE");
  CHECK(!dist::rendezvous_from_environment());
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("MASTER_ADDR", "10.0.0.2", 1);
  ::setenv("MASTER_PORT", "29511", 1);
  const auto o = dist::rendezvous_from_environment();
  REQUIRE(o);
  CHECK((o->world_size() == 4 && o->rank() == 3 && o->master_addr() == "10.0.0.2" && o->master_port() == 29511));
  ::setenv("RANK", "three", 1);
  CHECK_THROWS_WITH(dist::rendezvous_from_environment(), Contains("RANK='three' is not an integer"));
  for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(name);
}
