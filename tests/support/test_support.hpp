// Test helpers: the device under test (GPM_TEST_DEVICE, default cpu), tensor options per dtype,
// tolerances that scale with the dtype's precision, a checkpoint round trip in memory, and a scope's thread count.
#pragma once

#include <cstdlib>
#include <sstream>
#include <string>

#include <torch/torch.h>
#include <catch2/catch.hpp>  // after LibTorch: both define CHECK

#include "gpm/core/random.hpp"

namespace gpm::test {

inline torch::Device device() {
  const char* name = std::getenv("GPM_TEST_DEVICE");
  return torch::Device(name && *name ? std::string(name) : std::string("cpu"));
}

template <class T>
torch::Dtype dtype() {
  return std::is_same_v<T, double> ? torch::kFloat64 : torch::kFloat32;
}

template <class T>
torch::TensorOptions options() {
  return torch::TensorOptions().dtype(dtype<T>()).device(device());
}

/// Relative precision for exact identities evaluated in dtype T.
template <class T>
double eps() {
  return std::is_same_v<T, double> ? 1e-10 : 1e-4;
}

/// Moves a module to the device under test, in dtype T.
template <class T>
void to_test_dtype(torch::nn::Module& module) {
  module.to(device(), dtype<T>());
}

inline at::Generator generator(uint64_t seed) { return make_generator(seed, device()); }

inline double max_abs(const torch::Tensor& a) { return a.abs().max().item<double>(); }

/// LibTorch's intra-op thread count for one scope (the test runner keeps one thread).
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int threads) { at::set_num_threads(threads); }
  ~IntraOpThreads() { at::set_num_threads(previous_); }
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;

 private:
  int previous_ = at::get_num_threads();
};

/// Writes `from`'s state to an archive in memory and loads it into `into` (a checkpoint round trip).
template <class T>
void round_trip(const T& from, T& into) {
  torch::serialize::OutputArchive out;
  from.save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  into.load(in);
}

}  // namespace gpm::test
