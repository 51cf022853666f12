// Process-wide CPU settings for training: two defaults of the C runtime each cost a large share of a
// training step on small networks.
#pragma once

#include <ATen/Context.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gpm {

/// Largest buffer glibc serves from its heap once configure_cpu_runtime has run (its own maximum).
inline constexpr int kHeapAllocationLimit = 32 << 20;

/// Sets the process up for CPU training; call it once at the start of a program (the gpm runner,
/// the benchmarks and the test runner do). It
/// - flushes denormal floats to zero: small initialisations produce them, and they slow CPU
///   arithmetic about tenfold;
/// - with glibc, serves buffers up to 32 MiB from the heap and keeps freed heap memory: by default
///   glibc hands large freed blocks back to the kernel, which then zeroes fresh pages at every
///   training step (about 15 % of a GAN step at the reference sizes).
/// Returns whether every setting took effect. Tensors on other devices are unaffected.
inline bool configure_cpu_runtime() {
  bool applied = at::globalContext().setFlushDenormal(true);
#if defined(__GLIBC__)
  applied = mallopt(M_MMAP_THRESHOLD, kHeapAllocationLimit) == 1 && applied;
  applied = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && applied;
#endif
  return applied;
}

}  // namespace gpm
