// The "key=value,key=value" part of a dataset spec, read into and written from an options struct
// declared with GPM_OPTION (gpm/core/options.hpp): each value is typed by its option's declaration
// and checked against its range, so a spec accepts exactly what the declaration says.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"
#include "gpm/data/csv.hpp"

namespace gpm::data {

namespace detail {

/// The value of the option `key` from its spec text, typed by the option's declaration; `where`
/// names the spec in errors.
template <class T>
T read_spec_value(std::string_view text, std::string_view key, std::string_view where) {
  static_assert(!Options<T>, "a spec's options are flat key=value pairs: nested options cannot be given");
  const auto wrong_type = [&](std::string_view type) {
    return InvalidArgument(fmt::format("{}: the parameter '{}' must be {}, got '{}'", where, key, type, text));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (text != "true" && text != "false") throw wrong_type("true or false");
    return text == "true";
  } else if constexpr (std::is_integral_v<T>) {
    // Read as a number, so that "5", "+5", "5.0" and "1e3" all name whole numbers.
    constexpr double exact_limit = 9007199254740992.0;  // 2^53: beyond it doubles skip integers
    double number = 0;
    if (!parse_number(text, number) || std::floor(number) != number) throw wrong_type("an integer");
    if (std::abs(number) > exact_limit) throw wrong_type("an integer of magnitude at most 2^53");
    if (std::is_unsigned_v<T> && number < 0) throw wrong_type("an integer ≥ 0");
    // Checked in T, the type it is stored in: a narrower integer would wrap.
    if (number < static_cast<double>(std::numeric_limits<T>::min()) || number > static_cast<double>(std::numeric_limits<T>::max()))
      throw wrong_type(fmt::format("an integer from {} to {}", std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
    return static_cast<T>(number);
  } else if constexpr (std::is_floating_point_v<T>) {
    double number = 0;
    if (!parse_number(text, number)) throw wrong_type("a number");
    // Checked in T, the type it is stored in: 1e39 is a finite double but an infinite float.
    if (std::isfinite(number) && std::abs(number) > static_cast<double>(std::numeric_limits<T>::max()))
      throw wrong_type(fmt::format("a number of magnitude at most {}", std::numeric_limits<T>::max()));
    return static_cast<T>(number);  // a non-finite number is refused by the range check
  } else if constexpr (NamedEnum<T>) {
    const auto value = option_value<T>(text);
    if (!value) throw wrong_type(fmt::format("one of {}", fmt::join(option_names_of<T>(), ", ")));
    return *value;
  } else {
    return T(text);
  }
}

/// A value as a spec writes it; doubles in their shortest form that reads back to the same value.
template <class T>
std::string spec_value_text(const T& value) {
  if constexpr (NamedEnum<T>) return std::string(option_name(value));
  else return fmt::format("{}", value);
}

}  // namespace detail

/// The names of O's options, in declaration order: "modes, radius, std".
/// Example: `data::spec_option_names<GaussianRingOptions>()`
template <Options O>
std::string spec_option_names() {
  std::vector<std::string_view> names;
  for_each_option<O>([&](const auto& field) { names.push_back(field.name); });
  return fmt::format("{}", fmt::join(names, ", "));
}

/// `options` with the values of `text` ("key=value,key=value"; spaces around either side ignored;
/// empty: no change) overridden. With a `positional` option, the first item may be its value alone
/// ("faces/,size=64" for "dir=faces/,size=64"); such a value cannot contain ',' or '='. Throws
/// gpm::InvalidArgument, with `where` first in the message, on an item that is not key=value, a key
/// given twice, an unknown key (listing the valid ones), a value not of the option's type, or a
/// value outside the option's range (naming the range).
/// Example: `auto o = data::read_spec_options("modes=8,std=0.1", GaussianRingOptions(), "ring");`
template <Options O>
O read_spec_options(std::string_view text, O options, std::string_view where, std::string_view positional = {}) {
  if (detail::trim(text).empty()) return options;
  std::set<std::string_view> given;
  bool first = true;
  for (const auto item : detail::split_cells(text)) {
    const auto equals = item.find('=');
    std::string_view key, value;
    if (first && !positional.empty() && equals == std::string_view::npos) {
      key = positional;
      value = item;
    } else {
      GPM_CHECK(equals != std::string_view::npos, "{}: '{}' is not of the form name=value; valid names: {}{}",
                where, item, spec_option_names<O>(),
                positional.empty() ? ""
                                   : fmt::format(" (the {} comes first, and cannot contain ',' or '=')", positional));
      key = detail::trim(item.substr(0, equals));
      value = detail::trim(item.substr(equals + 1));
      // A path with '=' in it would read as an unknown key: say what is wrong instead.
      GPM_CHECK(!first || positional.empty() || key.find('/') == std::string_view::npos,
                "{}: the {} '{}' contains '=', which a {} given first without '{}=' cannot hold; write {}={}", where,
                positional, item, positional, positional, positional, item);
    }
    first = false;
    GPM_CHECK(given.insert(key).second, "{}: the parameter '{}' is given twice", where, key);
    bool known = false;
    for_each_option<O>([&](const auto& field) {
      using T = typename std::decay_t<decltype(field)>::value_type;
      if (field.name != key) return;
      known = true;
      const T typed = detail::read_spec_value<T>(value, key, where);
      const std::string problem = field.range.problem(typed);
      GPM_CHECK(problem.empty(), "{}: the parameter '{}' {}", where, key, problem);
      field.set(options, typed);
    });
    GPM_CHECK(known, "{}: unknown parameter '{}'; valid parameters: {}", where, key, spec_option_names<O>());
  }
  return options;
}

/// Every option of `options` as a spec writes it, "modes=5,radius=3,std=0.5", which
/// read_spec_options reads back to the same values. A `positional` option comes first as its value
/// alone ("faces/,size=64,channels=3"), or as name=value when the value holds '=', which a value
/// alone cannot ("dir=runs/lr=0.1,size=64,channels=3"); when that value is empty,
/// `empty_positional` stands for it (nothing when that is empty too).
/// Example: `data::write_spec_options(GaussianRingOptions().modes(8))`
template <Options O>
std::string write_spec_options(const O& options, std::string_view positional = {},
                               std::string_view empty_positional = {}) {
  std::vector<std::string> items;
  for_each_option<O>([&](const auto& field) {
    const auto value = detail::spec_value_text(field.get(options));
    if (field.name != positional) items.push_back(fmt::format("{}={}", field.name, value));
    else if (!value.empty())
      items.insert(items.begin(), value.find('=') == std::string::npos ? value : fmt::format("{}={}", field.name, value));
    else if (!empty_positional.empty()) items.insert(items.begin(), std::string(empty_positional));
  });
  return fmt::format("{}", fmt::join(items, ","));
}

}  // namespace gpm::data
