// Error types and the GPM_CHECK macro used to validate input at every policy boundary.
// Messages name the argument, what was expected, what was given, and how to fix it.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace gpm {

/// Bad input from the caller: a shape, dtype, device, option or file that cannot be used.
struct InvalidArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// A failure while running: a non-finite loss, a diverging flow, an I/O error.
struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A group of processes training together failed: a rank stopped, or a peer did not answer in time.
struct CollectiveError : RuntimeError {
  using RuntimeError::RuntimeError;
};

}  // namespace gpm

/// Throws gpm::InvalidArgument with an fmt-formatted message when `cond` is false.
/// The message is only formatted on failure.
#define GPM_CHECK(cond, ...)                                          \
  do {                                                                \
    if (!(cond)) throw ::gpm::InvalidArgument(::fmt::format(__VA_ARGS__)); \
  } while (false)
