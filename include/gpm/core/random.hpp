// Explicit, seedable random-number streams. Every random draw in gpm goes through an
// at::Generator passed as an argument, so that a seed fixes a whole run on any device.
#pragma once

#include <cstdint>
#include <mutex>

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
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

}  // namespace gpm
