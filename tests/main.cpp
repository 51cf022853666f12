// Test runner: flushes denormal floats (a tenfold slowdown on CPU otherwise) and runs LibTorch on
// one thread, so that seeded training runs give the same numbers on any machine (CTest runs the
// test cases in parallel processes instead).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <ATen/Context.h>
#include <ATen/Parallel.h>

int main(int argc, char* argv[]) {
  at::globalContext().setFlushDenormal(true);
  at::set_num_threads(1);
  return Catch::Session().run(argc, argv);
}
