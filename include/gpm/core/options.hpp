// Options declared once. Each field of an options struct is declared where its default is, with
// its valid range and one doc line; JSON configs, validation, `--help` and the docs' field tables
// are all derived from that one declaration (gpm/io/config.hpp), so none of them can drift.
//
//   struct GanOptions {
//     GPM_OPTIONS_BEGIN
//     GPM_OPTION(int64_t, latent_dim, Range::at_least(1), "Dimension of the generator's latent.") = 128;
//     GPM_OPTION(GradientPenaltyOptions, penalty, Range::any(), "The discriminator's penalty.") = {};
//     GPM_OPTIONS_END
//   };
//
// A field is a TORCH_ARG (the builder accessors `o.latent_dim(64)` and `o.latent_dim()`), so code
// that builds options is unchanged. Fields that place a model rather than define it (seed, device)
// stay plain TORCH_ARGs: they are not part of a config.
#pragma once

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/arg.h>

namespace gpm {

/// The valid values of an option: an interval of numbers (either end open, closed or absent), or
/// a list of names. Numbers must also be finite.
class Range {
 public:
  /// Any value (numbers: any finite one).
  static Range any() { return Range(); }
  /// [low, ∞).
  static Range at_least(double low) { return Range(low, false, std::nullopt, false); }
  /// (low, ∞).
  static Range above(double low) { return Range(low, true, std::nullopt, false); }
  /// [low, high].
  static Range between(double low, double high) { return Range(low, false, high, false); }
  /// [low, high): e.g. a decay in [0, 1).
  static Range from_below(double low, double high) { return Range(low, false, high, true); }
  /// One of `names`: string and enum options, and integer options that take a few values only
  /// (compared by their decimal text: `Range::one_of({"1", "3"})`).
  static Range one_of(std::vector<std::string> names) {
    Range r;
    r.names_ = std::move(names);
    return r;
  }

  /// The range as the help and doc tables print it: "≥ 1", "> 0", "[0, 1)", "heun | euler", "any".
  std::string describe() const {
    if (!names_.empty()) return fmt::format("{}", fmt::join(names_, " | "));
    if (low_ && high_) return fmt::format("[{}, {}{}", number(*low_), number(*high_), high_open_ ? ")" : "]");
    if (low_) return fmt::format("{} {}", low_open_ ? ">" : "≥", number(*low_));
    if (high_) return fmt::format("{} {}", high_open_ ? "<" : "≤", number(*high_));
    return "any";
  }

  /// Why `value` is outside the range ("must be > 0, got -1"), or an empty string.
  template <class T>
  std::string problem(const T& value) const {
    if constexpr (std::is_same_v<T, bool>) {
      return {};
    } else if constexpr (std::is_arithmetic_v<T>) {
      const auto v = static_cast<double>(value);
      if (!std::isfinite(v)) return fmt::format("must be a finite number, got {}", value);
      if (!names_.empty()) {
        for (const auto& name : names_)
          if (name == fmt::format("{}", value)) return {};
        return fmt::format("must be one of {}, got {}", fmt::join(names_, ", "), value);
      }
      const bool below = low_ && (low_open_ ? v <= *low_ : v < *low_);
      const bool beyond = high_ && (high_open_ ? v >= *high_ : v > *high_);
      if (below || beyond) return fmt::format("must be {}, got {}", in_words(), value);
      return {};
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      if (names_.empty()) return {};
      for (const auto& name : names_)
        if (name == std::string_view(value)) return {};
      return fmt::format("must be one of {}; got \"{}\"", fmt::join(names_, ", "), std::string_view(value));
    } else {
      return {};
    }
  }

 private:
  Range() = default;
  Range(std::optional<double> low, bool low_open, std::optional<double> high, bool high_open)
      : low_(low), high_(high), low_open_(low_open), high_open_(high_open) {}
  static std::string number(double v) { return fmt::format("{}", v); }
  std::string in_words() const {
    if (low_ && high_) return fmt::format("in {}", describe());
    return describe();
  }

  std::optional<double> low_, high_;
  bool low_open_ = false, high_open_ = false;
  std::vector<std::string> names_;
};

/// One declared field of an options struct: its name, range and doc line, and how to read and
/// write it on an instance (`get(o)`, `set(o, value)`).
template <class T, class Get, class Set>
struct OptionField {
  using value_type = T;
  std::string_view name;
  Range range;
  std::string_view doc;
  Get get;
  Set set;
};

template <class T, class Get, class Set>
OptionField<T, Get, Set> option_field(std::string_view name, Range range, std::string_view doc, Get get, Set set) {
  return {name, std::move(range), doc, std::move(get), std::move(set)};
}

/// An enum option is configured by name: its header declares, next to the enum,
/// `constexpr std::array<std::pair<E, std::string_view>, N> option_names(E)` (found by lookup in
/// E's namespace), which lists every value with its name.
template <class E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) {
  { option_names(e).size() } -> std::convertible_to<std::size_t>;
};

/// The name of an enum value (see NamedEnum).
template <NamedEnum E>
std::string_view option_name(E value) {
  for (const auto& [e, name] : option_names(value))
    if (e == value) return name;
  return "unknown";
}

/// The value of an enum named `name`, or nothing.
template <NamedEnum E>
std::optional<E> option_value(std::string_view name) {
  for (const auto& [e, n] : option_names(E{}))
    if (n == name) return e;
  return std::nullopt;
}

/// Every name of an enum, in declaration order.
template <NamedEnum E>
std::vector<std::string> option_names_of() {
  std::vector<std::string> names;
  for (const auto& [e, name] : option_names(E{})) names.emplace_back(name);
  return names;
}

namespace detail {
template <int N>
struct OptionLine {};

template <class O, int N>
concept HasOptionAt = requires { O::gpm_option(OptionLine<N>{}); };

template <class O, class F, int... I>
void visit_option_lines(F& f, std::integer_sequence<int, I...>) {
  constexpr int first = O::gpm_options_first_line;
  (
      [&] {
        if constexpr (HasOptionAt<O, first + I>) f(O::gpm_option(OptionLine<first + I>{}));
      }(),
      ...);
}
}  // namespace detail

/// An options struct whose fields are declared with GPM_OPTION.
template <class O>
concept Options = requires {
  { O::gpm_options_first_line } -> std::convertible_to<int>;
  { O::gpm_options_last_line } -> std::convertible_to<int>;
};

/// Calls f(field) for every declared field of O, in declaration order (see OptionField).
template <Options O, class F>
void for_each_option(F&& f) {
  detail::visit_option_lines<O>(f, std::make_integer_sequence<int, O::gpm_options_last_line - O::gpm_options_first_line>{});
}

}  // namespace gpm

/// Opens the field declarations of an options struct (see gpm/core/options.hpp).
#define GPM_OPTIONS_BEGIN \
 public:                  \
  static constexpr int gpm_options_first_line = __LINE__;

/// Declares the option `name` of type T with its valid range (a gpm::Range) and a one-line doc;
/// the default follows: `GPM_OPTION(double, lr, Range::above(0), "Learning rate.") = 2e-4;`.
/// Builder accessors as TORCH_ARG's: `o.name(value)` sets and returns *this, `o.name()` reads.
#define GPM_OPTION(T, name, range, doc)                                                      \
 public:                                                                                     \
  static auto gpm_option(::gpm::detail::OptionLine<__LINE__>) {                              \
    using ::gpm::Range;                                                                      \
    return ::gpm::option_field<T>(                                                           \
        #name, range, doc, [](const auto& o) -> const T& { return o.name(); },               \
        [](auto& o, T value) { o.name(std::move(value)); });                                 \
  }                                                                                          \
  TORCH_ARG(T, name)

/// Closes the field declarations opened by GPM_OPTIONS_BEGIN.
#define GPM_OPTIONS_END \
 public:                \
  static constexpr int gpm_options_last_line = __LINE__;
