// What differs between the LibTorch versions gpm builds with (Debian's 1.13 and the 2.x of the
// `torch` Python package), in one place: code elsewhere calls these and never tests a version.
#pragma once

#include <utility>
#include <variant>

namespace gpm::compat {

/// The alternative `T` of a variant in LibTorch's options (a convolution's padding, say): a
/// c10::variant up to LibTorch 2.0, a std::variant since. Argument-dependent lookup finds c10's
/// `get` for the one and std's for the other.
template <class T, class Variant>
decltype(auto) get(Variant&& v) {
  using std::get;
  return get<T>(std::forward<Variant>(v));
}

/// Whether the variant `v` of LibTorch's options holds a `T` (see get).
template <class T, class Variant>
bool holds_alternative(const Variant& v) {
  using std::holds_alternative;
  return holds_alternative<T>(v);
}

}  // namespace gpm::compat
