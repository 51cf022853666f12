// Test runner: flushes denormal floats (a tenfold slowdown on CPU otherwise) before any test.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <ATen/Context.h>

int main(int argc, char* argv[]) {
  at::globalContext().setFlushDenormal(true);
  return Catch::Session().run(argc, argv);
}
