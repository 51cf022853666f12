// Explicit, seedable random-number streams. Every random draw in gpm goes through an
// at::Generator passed as an argument, so that a seed fixes a whole run on any device.
#pragma once

#include <cstdint>
#include <mutex>

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace gpm {

/// A fresh generator for `device` (CPU, CUDA, ...) seeded with `seed`, independent of the
/// global one. Device-generic: it clones the device's default generator type.
inline at::Generator make_generator(uint64_t seed, c10::Device device = c10::kCPU) {
  at::Generator global = at::globalContext().defaultGenerator(device);  // a handle to the shared state
  at::Generator gen;
  {
    std::lock_guard<std::mutex> lock(global.mutex());
    gen = global.clone();
  }
  gen.set_current_seed(seed);
  return gen;
}

/// Seeds LibTorch's global CPU generator for the lifetime of the guard and restores its previous
/// state afterwards. LibTorch's modules draw their initial weights from that generator; this makes a
/// factory's network initialisation reproducible without disturbing the caller's random stream.
class ScopedGlobalSeed {
 public:
  explicit ScopedGlobalSeed(uint64_t seed) : global_(at::globalContext().defaultGenerator(c10::kCPU)) {
    std::lock_guard<std::mutex> lock(global_.mutex());
    saved_ = global_.get_state();
    global_.set_current_seed(seed);
  }
  ~ScopedGlobalSeed() {
    std::lock_guard<std::mutex> lock(global_.mutex());
    global_.set_state(saved_);
  }
  ScopedGlobalSeed(const ScopedGlobalSeed&) = delete;
  ScopedGlobalSeed& operator=(const ScopedGlobalSeed&) = delete;

 private:
  at::Generator global_;
  at::Tensor saved_;
};

}  // namespace gpm
