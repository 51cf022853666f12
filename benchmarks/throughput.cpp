// Throughput of the hot paths: one training step of each paper model at the reference sizes, and
// sampling. Run: build-bench/benchmarks/gpm_benchmarks --benchmark_format=json [--threads=N]
// benchmarks/python/throughput.py times the same steps written in plain PyTorch.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gpm/gpm.hpp>

namespace {

torch::Tensor ring_batch(at::Generator& gen, int64_t n = 128) {
  static const gpm::data::GaussianRing ring;
  return ring.sample(n, gen);
}

template <class Model>
void train_steps(benchmark::State& state, Model model) {
  auto gen = gpm::make_generator(1);
  for (auto _ : state) benchmark::DoNotOptimize(model.train_step(ring_batch(gen)));
  state.SetItemsProcessed(state.iterations());
}

void BM_GanTrainStep(benchmark::State& state) { train_steps(state, gpm::make_gan(2)); }
void BM_EdmTrainStep(benchmark::State& state) { train_steps(state, gpm::make_edm(2)); }
void BM_DiscriminatorFlowTrainStep(benchmark::State& state) { train_steps(state, gpm::make_discriminator_flow(2)); }
void BM_ScoreGanTrainStep(benchmark::State& state) {
  const gpm::data::GaussianRing ring;
  train_steps(state, gpm::make_score_gan(2, gpm::GaussianMixtureDenoiser(ring.centers(), ring.std())));
}

void BM_EdmSample2000(benchmark::State& state) {
  auto edm = gpm::make_edm(2);
  for (auto _ : state) benchmark::DoNotOptimize(edm.sample(2000));
}

}  // namespace

BENCHMARK(BM_GanTrainStep)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EdmTrainStep)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DiscriminatorFlowTrainStep)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ScoreGanTrainStep)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EdmSample2000)->Unit(benchmark::kMillisecond);

// --threads=N sets LibTorch's intra-op threads (default: all cores, as the gpm runner). OpenMP's own
// default can be a single thread, which would halve the figures on two cores.
int main(int argc, char** argv) {
  gpm::configure_cpu_runtime();
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.starts_with("--threads=")) threads = std::stoi(std::string(arg.substr(10)));
    else args.push_back(argv[i]);
  }
  at::set_num_threads(threads);
  argc = static_cast<int>(args.size());
  argv = args.data();
  benchmark::AddCustomContext("threads", std::to_string(threads));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
