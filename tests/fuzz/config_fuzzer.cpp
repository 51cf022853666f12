// The runner's config files (examples/gpm): text read as strict JSON (strict_json.hpp: a key given
// twice, a number beyond a double) and then as a run's config (run_config.hpp, io/config.hpp:
// nested objects and dotted keys, types, ranges). Any text is a config or a gpm::InvalidArgument;
// in a config read, every field given has the value it was given, and the config written reads
// back to itself. The training settings are the runner's own; the model's and the sampler's
// options mirror the shapes of the models' (nested options three levels down, a list, names), whose
// headers need LibTorch.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "gpm/run_config.hpp"
#include "gpm/strict_json.hpp"

namespace gpm::fuzz {

using nlohmann::json;

enum class Activation { relu, leaky_relu, silu };
constexpr std::array<std::pair<Activation, std::string_view>, 3> option_names(Activation) {
  return {{{Activation::relu, "relu"}, {Activation::leaky_relu, "leaky_relu"}, {Activation::silu, "silu"}}};
}

struct LayerOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, width, Range::at_least(1), "units per layer") = 64;
  GPM_OPTION(int64_t, depth, Range::at_least(0), "hidden layers") = 2;
  GPM_OPTION(Activation, activation, Range::any(), "nonlinearity") = Activation::leaky_relu;
  GPM_OPTION(bool, batch_norm, Range::any(), "batch norm") = false;
  GPM_OPTIONS_END
};

struct NetworkOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(LayerOptions, mlp, Range::any(), "the layers") = {};
  GPM_OPTION(int64_t, embedding_size, Range::at_least(1), "embedding") = 32;
  GPM_OPTION(std::vector<int64_t>, channel_mult, Range::at_least(1), "channels per level") = std::vector<int64_t>{1, 2};
  GPM_OPTIONS_END
};

struct OptimizerOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(double, lr, Range::above(0), "learning rate") = 2e-4;
  GPM_OPTION(double, beta1, Range::from_below(0, 1), "decay") = 0.9;
  GPM_OPTIONS_END
};

struct ModelOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, latent_dim, Range::at_least(1), "latent size") = 16;
  GPM_OPTION(NetworkOptions, network, Range::any(), "the network") = {};
  GPM_OPTION(OptimizerOptions, optimizer, Range::any(), "the optimiser") = {};
  GPM_OPTION(std::string, loss, Range::one_of({"bce", "hinge"}), "loss") = "bce";
  GPM_OPTIONS_END
};

struct SamplerOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int64_t, sampling_steps, Range::at_least(1), "steps") = 28;
  GPM_OPTION(double, churn, Range::at_least(0), "churn") = 0.0;
  GPM_OPTIONS_END
};

using Config = runner::RunConfig<ModelOptions, SamplerOptions>;

/// Every value `config` gives, with its path ("network.mlp.width" for nested objects and dotted
/// keys alike); arrays and scalars are values.
void given_values(const json& config, const std::vector<std::string>& prefix,
                  std::vector<std::pair<std::vector<std::string>, json>>& values) {
  if (!config.is_object()) {
    values.emplace_back(prefix, config);
    return;
  }
  for (const auto& item : config.items()) {
    auto path = prefix;
    for (size_t start = 0;;) {
      const auto dot = item.key().find('.', start);
      path.push_back(item.key().substr(start, dot == std::string::npos ? dot : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    given_values(item.value(), path, values);
  }
}

/// The value at `path` in a written config, or null.
json value_at(const json& written, const std::vector<std::string>& path) {
  const json* at = &written;
  for (const auto& name : path) {
    if (!at->is_object() || !at->contains(name)) return nullptr;
    at = &at->at(name);
  }
  return *at;
}

}  // namespace gpm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fuzz = gpm::fuzz;
  using fuzz::json;
  json overrides, written;
  try {
    overrides = gpm::runner::parse_strict_json(fuzz::as_text(data, size), "fuzz.json");
    written = gpm::runner::write_config(gpm::runner::read_config(overrides, fuzz::Config(), "fuzz"));
  } catch (const gpm::InvalidArgument&) {
    return 0;
  }
  std::vector<std::pair<std::vector<std::string>, json>> given;
  fuzz::given_values(overrides, {}, given);
  for (const auto& [path, value] : given) {
    const auto stored = fuzz::value_at(written, path);
    fuzz::require(stored == value, "the field '{}' is given {} but reads as {}", fmt::join(path, "."), value.dump(),
                  stored.dump());
  }
  const auto again = gpm::runner::write_config(gpm::runner::read_config(written, fuzz::Config(), "written"));
  fuzz::require(again == written, "the config written, {}, reads back as {}", written.dump(), again.dump());
  return 0;
}
