// Dataset spec parameters (gpm/data/spec_options.hpp), "name:key=value,...": any text is read into
// the named options or refused with gpm::InvalidArgument; options read are in their ranges, and the
// spec written from them (as resolve_dataset_spec writes run.json's) reads back to the same spec.
// The options mirror the built-in datasets' (toy2d.hpp, mnist.hpp, image_folder.hpp), whose headers
// need LibTorch, plus one field of every other type a spec option may have.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <gpm/data/spec_options.hpp>

#include "fuzz_support.hpp"

namespace gpm::fuzz {

struct RingLikeOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, modes, Range::at_least(1), "modes") = 5;
  GPM_OPTION(double, radius, Range::above(0), "radius") = 3.0;
  GPM_OPTION(double, std, Range::above(0), "standard deviation") = 0.5;
  GPM_OPTIONS_END
};

enum class Split { train, validation, test };
constexpr std::array<std::pair<Split, std::string_view>, 3> option_names(Split) {
  return {{{Split::train, "train"}, {Split::validation, "validation"}, {Split::test, "test"}}};
}

struct MnistLikeOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(Split, split, Range::any(), "split") = Split::train;
  GPM_OPTION(double, validation_fraction, Range::from_below(0, 1), "validation fraction") = 0.1;
  GPM_OPTION(int64_t, split_seed, Range::at_least(0), "split seed") = 0;
  GPM_OPTIONS_END
};

struct FolderLikeOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(std::string, dir, Range::any(), "folder") = "";
  GPM_OPTION(int64_t, size, Range::at_least(1), "side") = 32;
  GPM_OPTION(int64_t, channels, Range::one_of({"0", "1", "3"}), "channels") = 0;
  GPM_OPTIONS_END
};

struct EveryTypeOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(bool, flag, Range::any(), "a boolean") = false;
  GPM_OPTION(uint64_t, seed, Range::any(), "an unsigned integer") = 0;
  GPM_OPTION(int32_t, count, Range::between(-1000, 1000), "a narrow integer") = 0;
  GPM_OPTION(float, scale, Range::any(), "a float") = 1.0f;
  GPM_OPTION(std::string, mode, Range::one_of({"auto", "never"}), "a name") = "auto";
  GPM_OPTIONS_END
};

template <Options O>
void check(std::string_view parameters, std::string_view positional = {}) {
  O options;
  try {
    options = data::read_spec_options(parameters, O(), "fuzz spec", positional);
  } catch (const InvalidArgument&) {
    return;
  }
  for_each_option<O>([&](const auto& field) {
    require(field.range.problem(field.get(options)).empty(), "'{}' read out of range from '{}'", field.name, parameters);
  });
  const auto written = data::write_spec_options(options, positional);
  const auto again = data::write_spec_options(data::read_spec_options(written, O(), "written spec", positional), positional);
  require(again == written, "'{}' is written as '{}', which is written back as '{}'", parameters, written, again);
}

}  // namespace gpm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fuzz = gpm::fuzz;
  const auto text = fuzz::as_text(data, size);
  const auto colon = text.find(':');
  const auto name = gpm::data::detail::trim(text.substr(0, colon));
  const auto parameters = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (name == "ring") fuzz::check<fuzz::RingLikeOptions>(parameters);
  else if (name == "mnist") fuzz::check<fuzz::MnistLikeOptions>(parameters);
  else if (name == "images") fuzz::check<fuzz::FolderLikeOptions>(parameters, "dir");
  else if (name == "types") fuzz::check<fuzz::EveryTypeOptions>(parameters);
  return 0;
}
