// JSON as the runner reads its configs and run descriptions: a key given twice in one object, or a
// number beyond a double, is an error naming the field, where the parser would keep the last key
// silently or name no field. Free of LibTorch: it reads text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gpm/core/errors.hpp>

namespace gpm::runner {

/// How deep a file's objects and arrays may nest. gpm's own files nest a few levels; a deeper file
/// would exhaust the stack of the recursive code that copies, compares and prints JSON values.
inline constexpr size_t kMaxJsonDepth = 100;

/// The JSON value in `text`, the contents of the file `source` (which errors name). Throws
/// gpm::InvalidArgument when the text is not JSON, when an object gives one key twice, when a
/// number is beyond a double (1e400), naming the field by its dotted path ("generator.width",
/// "channel_mult[2]"), or when objects and arrays nest deeper than kMaxJsonDepth.
/// Example: `auto config = parse_strict_json(R"({"steps": 10})", "config.json");`
inline nlohmann::json parse_strict_json(std::string_view text, std::string_view source) {
  using json = nlohmann::json;
  // Where the parser is: one level per object or array being parsed, with the key being read (an
  // object's) or the elements begun so far (an array's), and an object's keys seen.
  struct Level {
    bool array = false;
    std::string key;
    int64_t elements = 0;
    std::set<std::string> keys;
  };
  std::vector<Level> levels;
  std::string duplicate;
  const auto begin_element = [&] {
    if (!levels.empty() && levels.back().array) ++levels.back().elements;
  };
  const json::parser_callback_t track = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        GPM_CHECK(levels.size() < kMaxJsonDepth, "'{}' nests objects and arrays more than {} levels deep; gpm's "
                  "files nest a few levels", source, kMaxJsonDepth);
        begin_element();
        levels.push_back({event == json::parse_event_t::array_start, {}, 0, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: levels.pop_back(); break;
      case json::parse_event_t::key:
        levels.back().key = parsed.get<std::string>();
        if (!levels.back().keys.insert(levels.back().key).second && duplicate.empty()) duplicate = levels.back().key;
        break;
      case json::parse_event_t::value: begin_element(); break;
    }
    return true;
  };
  // The field being read: "generator.width", "channel_mult[2]".
  const auto field = [&] {
    std::string name;
    for (const auto& level : levels)
      name += level.array ? fmt::format("[{}]", level.elements - 1) : (name.empty() ? "" : ".") + level.key;
    return name;
  };
  try {
    json parsed = json::parse(text, track);
    GPM_CHECK(duplicate.empty(), "'{}' gives the field '{}' twice; keep one", source, duplicate);
    return parsed;
  } catch (const json::out_of_range& e) {  // a number beyond a double; the element being read is the next one
    if (!levels.empty() && levels.back().array) ++levels.back().elements;
    const std::string what = e.what(), quote = "parsing '";
    const auto at = what.find(quote);
    const auto number = at == std::string::npos ? std::string("a number") : what.substr(at + quote.size(), what.size() - at - quote.size() - 1);
    throw InvalidArgument(fmt::format("'{}': the field '{}' is {}, beyond the largest number ({}); give a number of "
                                      "magnitude below that", source, field(), number, std::numeric_limits<double>::max()));
  } catch (const json::exception& e) {  // malformed
    throw InvalidArgument(fmt::format("'{}' is not valid JSON: {}", source, e.what()));
  }
}

}  // namespace gpm::runner
