// What the fuzz targets share: the input as text, and a broken property stopping the run, so that
// libFuzzer keeps the input as a finding (as it does for a crash, a sanitizer report or an
// exception other than the one a parser documents, which escapes the target).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace gpm::fuzz {

/// The input bytes as text. Example: `const auto text = fuzz::as_text(data, size);`
inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Aborts with the formatted message when `holds` is false.
/// Example: `fuzz::require(back == written, "'{}' reads back as '{}'", written, back);`
template <class... Args>
void require(bool holds, fmt::format_string<Args...> what, Args&&... args) {
  if (holds) return;
  fmt::print(stderr, "property broken: {}\n", fmt::format(what, std::forward<Args>(args)...));
  std::abort();
}

}  // namespace gpm::fuzz
