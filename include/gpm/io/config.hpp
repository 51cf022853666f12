// JSON configs of options structs declared with GPM_OPTION (gpm/core/options.hpp): reading with
// unknown-field, wrong-type and out-of-range errors that name the field and the bad value,
// writing every field, and the field tables of `--help` and the docs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gpm/core/errors.hpp"
#include "gpm/core/options.hpp"

namespace gpm::io {

namespace detail {

template <class T>
std::string option_type_name() {
  if constexpr (is_option_list<T>) return fmt::format("list of {}s", option_type_name<typename T::value_type>());
  else if constexpr (std::is_same_v<T, bool>) return "boolean";
  else if constexpr (std::is_integral_v<T>) return "integer";
  else if constexpr (std::is_floating_point_v<T>) return "number";
  else if constexpr (NamedEnum<T>) return "name";
  else if constexpr (Options<T>) return "object";
  else return "string";
}

inline std::string with_article(const std::string& noun) {
  return (std::string_view("aeiou").find(noun.front()) != std::string_view::npos ? "an " : "a ") + noun;
}

inline std::string joined(std::string_view prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : fmt::format("{}.{}", prefix, name);
}

template <Options O>
std::vector<std::string> field_names() {
  std::vector<std::string> names;
  for_each_option<O>([&](const auto& field) { names.emplace_back(field.name); });
  return names;
}

template <Options O>
void read_into(O& options, const nlohmann::json& config, std::string_view where, std::string_view prefix);

/// The value of one field from JSON; `path` names it in errors.
template <class T>
T read_value(const nlohmann::json& j, const T& current, std::string_view where, const std::string& path) {
  const auto wrong_type = [&] {
    return InvalidArgument(fmt::format("config '{}': field '{}' must be {}, got {}", where, path,
                                       option_type_name<T>() == "name" ? "a name (a string)" : with_article(option_type_name<T>()),
                                       j.dump()));
  };
  if constexpr (is_option_list<T>) {
    if (!j.is_array()) throw wrong_type();
    T list;
    for (std::size_t i = 0; i < j.size(); ++i)
      list.push_back(read_value<typename T::value_type>(j[i], {}, where, fmt::format("{}[{}]", path, i)));
    return list;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) throw wrong_type();
    return j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    // Checked before conversion, in T: a value beyond T's range would wrap.
    using limits = std::numeric_limits<T>;
    const auto beyond = [&](const std::string& value, bool above) {
      return InvalidArgument(fmt::format("config '{}': field '{}' is {}, {} {}", where, path, value,
                                         above ? "beyond the largest value" : "below the smallest value",
                                         above ? fmt::format("{}", limits::max()) : fmt::format("{}", limits::min())));
    };
    if (j.is_number_unsigned()) {
      const auto v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(limits::max())) throw beyond(fmt::format("{}", v), true);
      return static_cast<T>(v);
    }
    if (j.is_number_integer()) {
      const auto v = j.get<int64_t>();
      if (std::is_unsigned_v<T> && v < 0)
        throw InvalidArgument(fmt::format("config '{}': field '{}' must be ≥ 0, got {}", where, path, v));
      if (std::is_signed_v<T> && v < static_cast<int64_t>(limits::min())) throw beyond(fmt::format("{}", v), false);
      if (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(limits::max())) throw beyond(fmt::format("{}", v), true);
      return static_cast<T>(v);
    }
    // A whole number beyond 64 bits reaches the parser as a double (18446744073709551616, -9223372036854775809).
    // (Compared one past either end, which rounds to the end itself for 64 bits: 2^63 is beyond int64_t.)
    if (j.is_number_float()) {
      const auto v = j.get<double>();
      if (std::floor(v) == v && v >= static_cast<double>(limits::max()) + 1.0) throw beyond(j.dump(), true);
      if (std::floor(v) == v && v <= static_cast<double>(limits::min()) - 1.0) throw beyond(j.dump(), false);
    }
    throw wrong_type();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) throw wrong_type();
    // Checked before conversion, in T: 1e39 is a double but no float.
    const auto v = j.get<double>();
    if (std::abs(v) > static_cast<double>(std::numeric_limits<T>::max()))
      throw InvalidArgument(fmt::format("config '{}': field '{}' is {}, beyond the largest magnitude {} of its type", where,
                                        path, j.dump(), std::numeric_limits<T>::max()));
    return static_cast<T>(v);
  } else if constexpr (NamedEnum<T>) {
    if (!j.is_string()) throw wrong_type();
    const auto value = option_value<T>(j.get<std::string>());
    if (!value)
      throw InvalidArgument(fmt::format("config '{}': field '{}' must be one of {}; got {}", where, path,
                                        fmt::join(option_names_of<T>(), ", "), j.dump()));
    return *value;
  } else if constexpr (Options<T>) {
    if (!j.is_object()) throw wrong_type();
    T nested = current;
    read_into(nested, j, where, path);
    return nested;
  } else {
    if (!j.is_string()) throw wrong_type();
    return j.get<std::string>();
  }
}

template <class T>
nlohmann::json write_value(const T& value);

/// The dotted path of a field that `config` gives twice, through a dotted key and a nested object
/// ({"a.b": 1, "a": {"b": 2}}) or through two dotted keys; empty if none. Read as given, such a
/// field would silently keep whichever value is read last.
inline std::string field_given_twice(const nlohmann::json& config) {
  std::set<std::string> given;
  // Walked without recursion: a config nests as deep as its text does.
  std::vector<std::pair<const nlohmann::json*, std::string>> pending{{&config, ""}};
  while (!pending.empty()) {
    const auto [object, path] = pending.back();
    pending.pop_back();
    for (const auto& item : object->items()) {
      auto name = joined(path, item.key());
      if (item.value().is_object()) pending.emplace_back(&item.value(), std::move(name));
      else if (!given.insert(name).second) return name;
    }
  }
  return {};
}

template <Options O>
void read_into(O& options, const nlohmann::json& config, std::string_view where, std::string_view prefix) {
  GPM_CHECK(config.is_object(), "config '{}': {} must be a JSON object, got {}", where,
            prefix.empty() ? std::string("the config") : fmt::format("field '{}'", prefix), config.dump());
  for (const auto& item : config.items()) {
    // Named, not bound: the lambda below captures them, which clang before 16 refuses for bindings.
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    // A dotted key reaches into nested options: {"network.mlp.width": 64}.
    const auto dot = key.find('.');
    const std::string name = key.substr(0, dot);
    bool known = false;
    for_each_option<O>([&](const auto& field) {
      using T = typename std::decay_t<decltype(field)>::value_type;
      if (field.name != name) return;
      known = true;
      if (dot == std::string::npos) {
        field.set(options, read_value<T>(value, field.get(options), where, joined(prefix, key)));
      } else if constexpr (Options<T>) {
        field.set(options, read_value<T>(nlohmann::json{{key.substr(dot + 1), value}}, field.get(options), where,
                                         joined(prefix, name)));
      } else {
        throw InvalidArgument(fmt::format("config '{}': field '{}' is {}, not an object with fields; write "
                                          "\"{}\" alone", where, joined(prefix, name), with_article(option_type_name<T>()),
                                          name));
      }
    });
    GPM_CHECK(known, "config '{}': unknown field '{}'; valid fields{}: {}", where, joined(prefix, name),
              prefix.empty() ? std::string() : fmt::format(" of '{}'", prefix), fmt::join(field_names<O>(), ", "));
  }
}

template <class T>
nlohmann::json write_value(const T& value) {
  if constexpr (is_option_list<T>) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& element : value) j.push_back(write_value(element));
    return j;
  } else if constexpr (NamedEnum<T>) {
    return std::string(option_name(value));
  } else if constexpr (Options<T>) {
    nlohmann::json j = nlohmann::json::object();
    for_each_option<T>([&](const auto& field) { j[std::string(field.name)] = write_value(field.get(value)); });
    return j;
  } else {
    return nlohmann::json(value);
  }
}

template <class T>
std::string default_text(const T& value) {
  if constexpr (std::is_same_v<T, std::string>) return fmt::format("\"{}\"", value);
  else if constexpr (NamedEnum<T>) return std::string(option_name(value));
  else return write_value(value).dump();
}

}  // namespace detail

/// Every field of `options` in its valid range, nested options too; throws gpm::InvalidArgument naming
/// the first field that is not (`where` names the config in the message).
template <Options O>
void check_options(const O& options, std::string_view where, std::string_view prefix = {}) {
  for_each_option<O>([&](const auto& field) {
    using T = typename std::decay_t<decltype(field)>::value_type;
    const auto& value = field.get(options);
    if constexpr (Options<T>) {
      check_options(value, where, detail::joined(prefix, field.name));
    } else {
      const std::string problem = field.range.problem(value);
      GPM_CHECK(problem.empty(), "config '{}': field '{}' {}", where, detail::joined(prefix, field.name), problem);
    }
  });
}

/// `options` with the fields of the JSON object `config` overridden, then checked. Throws
/// gpm::InvalidArgument on an unknown field (listing the valid ones), a wrong type, a value out of
/// its range, or a field given twice. Nested options are nested objects, {"penalty": {"weight": 1}},
/// or dotted keys, {"penalty.weight": 1}; a list is an array, {"channel_mult": [1, 2, 2]}, replaced whole.
/// Example: `auto o = io::read_options(json::parse(R"({"generator.width": 64})"), GanOptions(), "gan");`
template <Options O>
O read_options(const nlohmann::json& config, O options, std::string_view where) {
  if (config.is_object()) {
    const auto twice = detail::field_given_twice(config);
    GPM_CHECK(twice.empty(), "config '{}': the field '{}' is given twice, by a dotted key and a nested object or by two "
              "dotted keys; keep one", where, twice);
  }
  detail::read_into(options, config, where, {});
  check_options(options, where);
  return options;
}

/// Every field of `options` as a JSON object (nested options as nested objects).
template <Options O>
nlohmann::json write_options(const O& options) {
  return detail::write_value(options);
}

/// One row of a field table: the dotted name of a field, its JSON type, default, range and doc.
struct OptionRow {
  std::string name, type, default_value, range, doc;
};

/// The field table of O with the defaults of `defaults`, nested options flattened to dotted names.
template <Options O>
std::vector<OptionRow> option_rows(const O& defaults, std::string_view prefix = {}) {
  std::vector<OptionRow> rows;
  for_each_option<O>([&](const auto& field) {
    using T = typename std::decay_t<decltype(field)>::value_type;
    const auto name = detail::joined(prefix, field.name);
    if constexpr (Options<T>) {
      for (auto& row : option_rows(field.get(defaults), name)) rows.push_back(std::move(row));
    } else {
      std::string range = field.range.describe();
      if constexpr (NamedEnum<T>) range = fmt::format("{}", fmt::join(option_names_of<T>(), " | "));
      if constexpr (is_option_list<T>) range = "each " + range;
      rows.push_back({name, detail::option_type_name<T>(), detail::default_text(field.get(defaults)), range,
                      std::string(field.doc)});
    }
  });
  return rows;
}

/// A field table as aligned plain text, for `--help`.
inline std::string option_table_text(const std::vector<OptionRow>& rows) {
  size_t name = 5, value = 7, range = 5;
  for (const auto& r : rows) {
    name = std::max(name, r.name.size());
    value = std::max(value, r.default_value.size());
    range = std::max(range, r.range.size());
  }
  std::string text = fmt::format("  {:<{}}  {:<{}}  {:<{}}  {}\n", "field", name, "default", value, "range", range, "meaning");
  for (const auto& r : rows)
    text += fmt::format("  {:<{}}  {:<{}}  {:<{}}  {}\n", r.name, name, r.default_value, value, r.range, range, r.doc);
  return text;
}

/// A field table in Markdown, for the docs.
inline std::string option_table_markdown(const std::vector<OptionRow>& rows) {
  std::string text = "| field | type | default | range | meaning |\n| --- | --- | --- | --- | --- |\n";
  const auto cell = [](const std::string& text) {
    std::string escaped;
    for (const char c : text) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
    return escaped;
  };
  for (const auto& r : rows)
    text += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", r.name, r.type, r.default_value, cell(r.range), cell(r.doc));
  return text;
}

}  // namespace gpm::io
