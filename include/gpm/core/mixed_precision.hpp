// Mixed precision for the scope of an object: LibTorch's autocast, which runs convolutions and
// matrix products in bfloat16 while parameters, optimiser states and particles stay float32. On a
// CPU with AMX or AVX-512 BF16, and on GPUs, those operations run several times faster.
#pragma once

#include <string>
#include <string_view>

#include <ATen/autocast_mode.h>
#include <torch/types.h>

#include "gpm/core/errors.hpp"

namespace gpm {

/// The arithmetic of a network's convolutions and matrix products.
enum class Precision {
  float32,   ///< everything in float32
  bfloat16,  ///< convolutions and products in bfloat16 under autocast, the rest as LibTorch's autocast says
};

inline std::string_view precision_name(Precision p) { return p == Precision::bfloat16 ? "bfloat16" : "float32"; }

/// The Precision named `name` ("float32" or "bfloat16").
inline Precision parse_precision(std::string_view name) {
  if (name == "float32") return Precision::float32;
  if (name == "bfloat16") return Precision::bfloat16;
  throw InvalidArgument(fmt::format("unknown precision '{}'; choose float32 or bfloat16", name));
}

/// While alive, operations on `device`'s kind run at `precision`: with Precision::bfloat16, LibTorch's
/// autocast for that device with bfloat16; with float32, autocast off (so that a float32 scope inside
/// a bfloat16 one is float32). The previous state comes back at the end of the scope.
///
/// Autocast's cache of cast weights stays off: a training step updates its weights in place and then
/// runs the networks again (a GAN's generator step after its discriminator's), which must see the
/// new weights, not a bfloat16 copy of the old ones.
///
/// Example: `{ MixedPrecision bf16(Precision::bfloat16, torch::kCPU); model.train_step(batch); }`
class [[nodiscard]] MixedPrecision {
 public:
  MixedPrecision(Precision precision, torch::Device device)
      : cuda_(device.is_cuda()),
        was_enabled_(cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled()),
        was_dtype_(cuda_ ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype()),
        was_caching_(at::autocast::is_autocast_cache_enabled()) {
    GPM_CHECK(device.is_cpu() || device.is_cuda(), "MixedPrecision: autocast is available on the CPU and CUDA, not on {}",
              device.str());
    const bool enable = precision == Precision::bfloat16;
    set(enable, enable ? at::kBFloat16 : was_dtype_);
    at::autocast::set_autocast_cache_enabled(false);
  }
  MixedPrecision(const MixedPrecision&) = delete;
  MixedPrecision& operator=(const MixedPrecision&) = delete;
  ~MixedPrecision() {
    set(was_enabled_, was_dtype_);
    at::autocast::set_autocast_cache_enabled(was_caching_);
  }

 private:
  void set(bool enabled, at::ScalarType dtype) const {
    if (cuda_) {
      at::autocast::set_enabled(enabled);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(enabled);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
  }

  bool cuda_;
  bool was_enabled_;
  at::ScalarType was_dtype_;
  bool was_caching_;
};

/// Whether operations on the CPU run under bfloat16 autocast now (gpm's own CPU kernels for float32
/// products then leave them to LibTorch, whose autocast casts them).
inline bool cpu_autocast_enabled() { return at::autocast::is_cpu_enabled(); }

}  // namespace gpm
