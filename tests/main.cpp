// Test runner: sets the CPU up for training (gpm::configure_cpu_runtime) and runs LibTorch on one
// thread, so that seeded training runs give the same numbers on any machine (CTest runs the
// test cases in parallel processes instead).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <ATen/Parallel.h>

#include "gpm/core/cpu_runtime.hpp"

int main(int argc, char* argv[]) {
  gpm::configure_cpu_runtime();
  at::set_num_threads(1);
  return Catch::Session().run(argc, argv);
}
