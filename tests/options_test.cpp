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
