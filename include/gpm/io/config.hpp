// JSON configuration of option structs: a schema names each field with its getter and setter, so
// configs round-trip, and an unknown field, a wrong type or a rejected value is a clear error.
#pragma once

#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gpm/core/errors.hpp"

namespace gpm::io {

namespace detail {
template <class T>
const char* json_type_name() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else return "a JSON value";
}

template <class T>
bool json_holds(const nlohmann::json& j) {
  if constexpr (std::is_same_v<T, bool>) return j.is_boolean();
  else if constexpr (std::is_unsigned_v<T>) return j.is_number_unsigned();
  else if constexpr (std::is_integral_v<T>) return j.is_number_integer();
  else if constexpr (std::is_floating_point_v<T>) return j.is_number();
  else if constexpr (std::is_same_v<T, std::string>) return j.is_string();
  else return true;
}
}  // namespace detail

/// The fields of an options struct O, each with a name, a getter and a setter.
/// Example:
///   ConfigSchema<GanOptions> schema("gan");
///   schema.field("width", [](const GanOptions& o) { return o.width(); }, [](GanOptions& o, int64_t v) { o.width(v); });
///   GanOptions o = schema.read(json);     // starts from the defaults of O
template <class O>
class ConfigSchema {
 public:
  explicit ConfigSchema(std::string name) : name_(std::move(name)) {}

  /// Adds a field whose type is the getter's return type. `check` may reject a value with a reason.
  template <class Get, class Set>
  ConfigSchema& field(std::string name, Get get, Set set, std::function<std::string(const O&)> check = {}) {
    using T = std::decay_t<std::invoke_result_t<Get, const O&>>;
    GPM_CHECK(find(name) == nullptr, "config '{}': field '{}' is declared twice", name_, name);
    fields_.push_back(Field{
        name,
        [get](const O& o) { return nlohmann::json(get(o)); },
        [this, name, set](O& o, const nlohmann::json& j) {
          GPM_CHECK(detail::json_holds<T>(j), "config '{}': field '{}' must be {}, got {}", name_, name,
                    detail::json_type_name<T>(), j.dump());
          set(o, j.template get<T>());
        },
        std::move(check)});
    return *this;
  }

  /// Options from `config`: defaults of O overridden by the config's fields. Throws gpm::InvalidArgument
  /// on an unknown field (listing the valid ones), a wrong type, or a value a check rejects.
  O read(const nlohmann::json& config, O options = O()) const {
    GPM_CHECK(config.is_object(), "config '{}': expected a JSON object, got {}", name_, config.dump());
    for (const auto& [key, value] : config.items()) {
      const Field* f = find(key);
      GPM_CHECK(f != nullptr, "config '{}': unknown field '{}'; valid fields: {}", name_, key, field_names());
      f->set(options, value);
    }
    for (const auto& f : fields_)
      if (f.check) {
        const std::string problem = f.check(options);
        GPM_CHECK(problem.empty(), "config '{}': field '{}' {}", name_, f.name, problem);
      }
    return options;
  }

  /// All fields of `options` as a JSON object (the resolved config).
  nlohmann::json write(const O& options) const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& f : fields_) j[f.name] = f.get(options);
    return j;
  }

  std::string field_names() const {
    std::string s;
    for (const auto& f : fields_) s += (s.empty() ? "" : ", ") + f.name;
    return s;
  }
  const std::string& name() const { return name_; }

 private:
  struct Field {
    std::string name;
    std::function<nlohmann::json(const O&)> get;
    std::function<void(O&, const nlohmann::json&)> set;
    std::function<std::string(const O&)> check;
  };
  const Field* find(const std::string& key) const {
    for (const auto& f : fields_)
      if (f.name == key) return &f;
    return nullptr;
  }
  std::string name_;
  std::vector<Field> fields_;
};

/// A check for ConfigSchema::field: the value must be > 0.
template <class Get>
auto positive(Get get) {
  return [get](const auto& o) { return get(o) > 0 ? std::string() : fmt::format("must be > 0, got {}", get(o)); };
}

/// A check for ConfigSchema::field: the value must be >= 0.
template <class Get>
auto non_negative(Get get) {
  return [get](const auto& o) { return get(o) >= 0 ? std::string() : fmt::format("must be >= 0, got {}", get(o)); };
}

/// A check for ConfigSchema::field: the value must be a decay in [0, 1) (0: off).
template <class Get>
auto decay(Get get) {
  return [get](const auto& o) {
    return get(o) >= 0 && get(o) < 1 ? std::string() : fmt::format("must be in [0, 1) (0: off), got {}", get(o));
  };
}

}  // namespace gpm::io
