// Options declared once: JSON reading and writing, nested options as objects or dotted keys, and
// the field tables, on the paper models' options.
#include <catch2/catch.hpp>

#include "gpm/gpm.hpp"
#include "gpm/io/config.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using nlohmann::json;

TEST_CASE("nested options read from nested objects and from dotted keys alike", "[options]") {
  const auto nested = gpm::io::read_options(
      json::parse(R"({"generator": {"width": 64, "batch_norm": true}, "discriminator_optimizer": {"lr": 1e-4}})"),
      gpm::GanOptions(), "gan");
  const auto dotted = gpm::io::read_options(
      json::parse(R"({"generator.width": 64, "generator.batch_norm": true, "discriminator_optimizer.lr": 1e-4})"),
      gpm::GanOptions(), "gan");
  CHECK(gpm::io::write_options(nested) == gpm::io::write_options(dotted));
  CHECK(nested.generator().width() == 64);
  CHECK(nested.generator().batch_norm());
  CHECK(nested.discriminator_optimizer().lr() == 1e-4);
  // Only the fields given change: the rest keep the defaults, nested ones included.
  CHECK(nested.generator().depth() == gpm::GanOptions().generator().depth());
  CHECK(nested.discriminator_optimizer().beta1() == 0.5);
  CHECK(nested.generator_optimizer().lr() == gpm::GanOptions().generator_optimizer().lr());
  // Three levels down.
  const auto edm = gpm::io::read_options(json::parse(R"({"network.mlp.width": 32, "network": {"embedding_size": 16}})"),
                                         gpm::EdmOptions(), "edm");
  CHECK(edm.network().mlp().width() == 32);
  CHECK(edm.network().embedding_size() == 16);
  CHECK(edm.network().mlp().input_features() == gpm::EdmOptions().network().mlp().input_features());
}

TEST_CASE("every model's options survive a write and read unchanged", "[options]") {
  const auto round_trip = [](const auto& options) {
    using O = std::decay_t<decltype(options)>;
    const auto written = gpm::io::write_options(options);
    CHECK(gpm::io::write_options(gpm::io::read_options(written, O(), "model")) == written);
  };
  round_trip(gpm::GanOptions::reference());
  round_trip(gpm::EdmOptions::reference());
  round_trip(gpm::DiscriminatorFlowModelOptions::reference());
  round_trip(gpm::ScoreGanOptions::reference());
  // The reference presets differ from the defaults where the docs say they do.
  CHECK(gpm::EdmOptions::reference().network().mlp().input_features() == 0);
  CHECK(gpm::EdmOptions::reference().network().fourier_scale() == 16.0);
  CHECK(gpm::EdmOptions::reference().optimizer().lr() == 2e-4);
  CHECK(gpm::DiscriminatorFlowModelOptions::reference().discriminator().mlp().input_features() == 0);
  CHECK(gpm::ScoreGanOptions::reference().denoiser_optimizer().lr() == 2e-4);
}

TEST_CASE("bad nested fields name their dotted path", "[options][errors]") {
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"generator": {"width": 0}})"), gpm::GanOptions(), "gan"),
                      Contains("field 'generator.width' must be ≥ 1, got 0"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"generator.wdth": 3})"), gpm::GanOptions(), "gan"),
                      Contains("unknown field 'generator.wdth'; valid fields of 'generator': width, depth"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"latent_dim.size": 3})"), gpm::GanOptions(), "gan"),
                      Contains("field 'latent_dim' is an integer, not an object with fields"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"network.mlp": 3})"), gpm::EdmOptions(), "edm"),
                      Contains("field 'network.mlp' must be an object, got 3"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"optimizer.beta1": 1.0})"), gpm::EdmOptions(), "edm"),
                      Contains("field 'optimizer.beta1' must be in [0, 1), got 1"));
}

TEST_CASE("a field given twice, by a dotted key and a nested object, is an error", "[options][errors]") {
  // Each used to be read, the value read last (in key order, not file order) silently winning.
  for (const auto* config : {R"({"network.mlp.width": 3, "network": {"mlp": {"width": 4}}})",
                             R"({"network.mlp.width": 3, "network.mlp": {"width": 3}})",
                             R"({"network": {"mlp.width": 3, "mlp": {"width": 4}}})"}) {
    INFO(config);
    REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(config), gpm::EdmOptions(), "edm"),
                        Contains("config 'edm': the field 'network.mlp.width' is given twice"));
  }
  // Different fields of one nested object may come from both forms.
  const auto both = gpm::io::read_options(json::parse(R"({"network.mlp.width": 3, "network": {"mlp": {"depth": 1}}})"),
                                          gpm::EdmOptions(), "edm");
  CHECK(both.network().mlp().width() == 3);
  CHECK(both.network().mlp().depth() == 1);
}

TEST_CASE("the field table lists nested fields by their dotted names", "[options]") {
  std::vector<std::string> names;
  for (const auto& row : gpm::io::option_rows(gpm::ScoreGanOptions())) names.push_back(row.name);
  for (const char* name : {"generator.width", "generator.activation", "generator_optimizer.lr", "denoiser.mlp.depth",
                           "denoiser.fourier_scale", "denoiser_preconditioning.sigma_data", "denoiser_optimizer.lr"})
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  const auto rows = gpm::io::option_rows(gpm::ScoreGanOptions());
  const auto activation = std::find_if(rows.begin(), rows.end(), [](const auto& r) { return r.name == "generator.activation"; });
  REQUIRE(activation != rows.end());
  CHECK(activation->default_value == "relu");
  CHECK(activation->range == "relu | leaky_relu | silu");
}

TEST_CASE("the nested options example of docs/concepts.md builds what it says", "[options]") {
  auto gan = gpm::make_gan(2, gpm::GanOptions()
                                  .generator(gpm::nn::MlpOptions().width(256).batch_norm(true))
                                  .discriminator_optimizer(gpm::AdamOptions().lr(1e-4).beta1(0.5)));
  CHECK(gan.dynamics().net()->options().width() == 256);
  CHECK(gan.dynamics().net()->options().batch_norm());
  CHECK(gan.flow().optimizer().param_groups().front().options().get_lr() == 1e-4);
  auto edm = gpm::io::read_options(nlohmann::json::parse(R"({"network.mlp.width": 256, "optimizer": {"lr": 2e-4}})"),
                                   gpm::EdmOptions(), "edm");
  CHECK(edm.network().mlp().width() == 256);
  CHECK(edm.network().mlp().input_features() == 128);
  CHECK(edm.optimizer().lr() == 2e-4);
  CHECK(gpm::nn::TimeMlpOptions(gpm::EdmOptions().network()).embedding_size(64).fourier_scale() == 1.0);
}

namespace {
/// Options with list fields, as a U-Net's channel multipliers.
struct ListOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(std::vector<int64_t>, sizes, Range::at_least(1), "one size per level") = std::vector<int64_t>{1, 2, 2};
  GPM_OPTION(std::vector<double>, weights, Range::between(0, 1), "weights in [0, 1]") = {};
  GPM_OPTIONS_END
};
}  // namespace

TEST_CASE("list options are JSON arrays, each element checked against the field's range", "[options]") {
  const auto o = gpm::io::read_options(json::parse(R"({"sizes": [4, 8], "weights": [0.5, 1]})"), ListOptions(), "lists");
  CHECK(o.sizes() == std::vector<int64_t>{4, 8});
  CHECK(o.weights() == std::vector<double>{0.5, 1.0});
  CHECK(gpm::io::write_options(o) == json::parse(R"({"sizes": [4, 8], "weights": [0.5, 1.0]})"));
  CHECK(gpm::io::write_options(gpm::io::read_options(gpm::io::write_options(o), ListOptions(), "lists")) ==
        gpm::io::write_options(o));
  // A list is replaced whole, and may be empty.
  CHECK(gpm::io::read_options(json::parse(R"({"sizes": []})"), ListOptions(), "lists").sizes().empty());
  CHECK(gpm::io::read_options(json::parse(R"({"weights": [0.1]})"), ListOptions(), "lists").sizes() ==
        std::vector<int64_t>{1, 2, 2});

  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"sizes": [1, 0]})"), ListOptions(), "lists"),
                      Contains("config 'lists': field 'sizes' at index 1 must be ≥ 1, got 0"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"weights": [0.5, 2]})"), ListOptions(), "lists"),
                      Contains("field 'weights' at index 1 must be in [0, 1], got 2"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"sizes": 3})"), ListOptions(), "lists"),
                      Contains("field 'sizes' must be a list of integers, got 3"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"sizes": [1, 2.5]})"), ListOptions(), "lists"),
                      Contains("field 'sizes[1]' must be an integer, got 2.5"));
  REQUIRE_THROWS_WITH(gpm::io::read_options(json::parse(R"({"sizes.0": 3})"), ListOptions(), "lists"),
                      Contains("field 'sizes' is a list of integers, not an object with fields"));
  // Options built in code are checked the same way.
  REQUIRE_THROWS_WITH(gpm::io::check_options(ListOptions().sizes({2, -1}), "code"),
                      Contains("field 'sizes' at index 1 must be ≥ 1, got -1"));
}

TEST_CASE("the field table describes a list's type, default and per-element range", "[options]") {
  const auto rows = gpm::io::option_rows(ListOptions());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].name == "sizes");
  CHECK(rows[0].type == "list of integers");
  CHECK(rows[0].default_value == "[1,2,2]");
  CHECK(rows[0].range == "each ≥ 1");
  CHECK(rows[1].type == "list of numbers");
  CHECK(rows[1].default_value == "[]");
  CHECK(rows[1].range == "each [0, 1]");
  CHECK_THAT(gpm::io::option_table_markdown(rows),
             Contains("| `sizes` | list of integers | `[1,2,2]` | each ≥ 1 | one size per level |"));
  // The U-Net's options, as a config shows them.
  const auto unet = gpm::io::option_rows(gpm::nn::UNetOptions());
  const auto mult = std::find_if(unet.begin(), unet.end(), [](const auto& r) { return r.name == "channel_mult"; });
  REQUIRE(mult != unet.end());
  CHECK(mult->default_value == "[1,2,2]");
  CHECK(gpm::io::read_options(json::parse(R"({"channel_mult": [1, 2, 2, 2], "attention_resolutions": []})"),
                              gpm::nn::UNetOptions(), "unet")
            .channel_mult() == std::vector<int64_t>{1, 2, 2, 2});
}

namespace {
/// Fields of narrower types than JSON's: each value is checked in the type it is stored in.
struct NarrowOptions {
  GPM_OPTIONS_BEGIN
  GPM_OPTION(int32_t, count, Range::any(), "an int32_t") = 0;
  GPM_OPTION(uint64_t, seed, Range::any(), "a uint64_t") = 0;
  GPM_OPTION(int64_t, steps, Range::any(), "an int64_t") = 0;
  GPM_OPTION(float, scale, Range::any(), "a float") = 1.0f;
  GPM_OPTIONS_END
};
}  // namespace

TEST_CASE("config numbers are checked in their field's type before conversion", "[options][errors]") {
  const auto read = [](const char* text) { return gpm::io::read_options(json::parse(text), NarrowOptions(), "narrow"); };
  CHECK(read(R"({"count": -2147483648, "seed": 18446744073709551615, "steps": -9223372036854775808, "scale": 3e38})")
            .seed() == 18446744073709551615u);
  CHECK(read(R"({"count": 2147483647})").count() == 2147483647);
  // Beyond the type: never wrapped ("got -1"), never rounded to infinity.
  REQUIRE_THROWS_WITH(read(R"({"count": 2147483648})"),
                      Contains("config 'narrow': field 'count' is 2147483648, beyond the largest value 2147483647"));
  REQUIRE_THROWS_WITH(read(R"({"count": -2147483649})"),
                      Contains("field 'count' is -2147483649, below the smallest value -2147483648"));
  REQUIRE_THROWS_WITH(read(R"({"count": 4294967295})"), Contains("field 'count' is 4294967295, beyond the largest value"));
  REQUIRE_THROWS_WITH(read(R"({"steps": 18446744073709551615})"),
                      Contains("field 'steps' is 18446744073709551615, beyond the largest value 9223372036854775807"));
  REQUIRE_THROWS_WITH(read(R"({"steps": -9223372036854775809})"),
                      Contains("field 'steps' is -9.223372036854776e+18, below the smallest value -9223372036854775808"));
  REQUIRE_THROWS_WITH(read(R"({"seed": 18446744073709551616})"),
                      Contains("field 'seed' is 1.8446744073709552e+19, beyond the largest value 18446744073709551615"));
  REQUIRE_THROWS_WITH(read(R"({"seed": -1})"), Contains("field 'seed' must be ≥ 0, got -1"));
  REQUIRE_THROWS_WITH(read(R"({"scale": 1e39})"), Contains("field 'scale' is 1e+39, beyond the largest magnitude"));
  REQUIRE_THROWS_WITH(read(R"({"scale": -1e39})"), Contains("field 'scale' is -1e+39, beyond the largest magnitude"));
  // A whole number within range written as a float is still not an integer.
  REQUIRE_THROWS_WITH(read(R"({"steps": 1000.0})"), Contains("field 'steps' must be an integer, got 1000.0"));
}
