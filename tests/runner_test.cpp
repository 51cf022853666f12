// The runner's adapters: a generator run samples the generator itself, and refines only on request.
// The runner's files: JSON read strictly, manifests read back, a save stopped between renames loadable.
#include <catch2/catch.hpp>

#include "gpm/gpm.hpp"
#include "support/small_models.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

#include "../examples/gpm/checkpoint_files.hpp"
#include "../examples/gpm/checkpoint_manifest.hpp"
#include "../examples/gpm/device.hpp"
#include "../examples/gpm/run.hpp"
#include "../examples/gpm/strict_json.hpp"

namespace t = gpm::test;

namespace {
gpm::GanOptions small_gan() { return t::with_lr(t::small_gan(4, 16, 1), 1e-2).device(t::device()); }
}  // namespace

TEST_CASE("a generator run's samples are the generator's own; refinement is asked for", "[runner]") {
  gpm::runner::GeneratorRun<gpm::Gan<>> run(gpm::make_gan(2, small_gan()));
  auto gan = gpm::make_gan(2, small_gan());
  auto gen = t::generator(1);
  for (int i = 0; i < 5; ++i) {
    const auto batch = torch::randn({32, 2}, gen, t::options<float>());
    run.train_step(batch);
    gan.train_step(batch);
  }
  run.seed(3);
  gan.seed(3);
  const auto own = run.sample(50, std::nullopt);
  CHECK(torch::equal(own, gan.sample(50)));
  CHECK(run.refinements() == std::vector<std::string>{"flow"});
  CHECK_THROWS_WITH(run.sample(50, 4), Catch::Matchers::Contains("samples in one generator pass"));

  const auto refined = run.refine(own, {"flow", {{"steps", 5}, {"time", 0.5}}}, std::nullopt);
  const auto expected = gpm::refine(gan.flow(), own, gpm::RefinementOptions().steps(5).time(0.5), gan.generator());
  CHECK(torch::equal(refined, expected));
  CHECK(!torch::allclose(refined, own));
  CHECK_THROWS_WITH(run.refine(own, {"denoiser", {}}, std::nullopt), Catch::Matchers::Contains("unknown refinement 'denoiser'"));
}

TEST_CASE("a Score GAN run refines by its data denoiser too", "[runner]") {
  const gpm::data::GaussianRing ring;
  auto options = t::small_score_gan(4, 16, 1, 16, 1, 8).device(t::device());
  gpm::runner::GeneratorRun<gpm::ScoreGan<gpm::GaussianMixtureDenoiser>> run(
      gpm::make_score_gan(2, gpm::GaussianMixtureDenoiser(ring.centers().to(t::device()), ring.std()), options));
  CHECK(run.refinements() == std::vector<std::string>{"flow", "denoiser"});
  run.seed(4);
  const auto own = run.sample(20, std::nullopt);
  const auto refined = run.refine(own, {"denoiser", {{"steps", 4}}}, 2);
  CHECK(refined.sizes() == own.sizes());
  CHECK(!torch::allclose(refined, own));
}

TEST_CASE("the runner's JSON files: keys given twice, nesting too deep, manifests read back", "[runner][errors]") {
  using gpm::runner::parse_strict_json;
  CHECK(parse_strict_json(R"({"a": [1, {"b": 2}]})", "ok.json") == nlohmann::json::parse(R"({"a": [1, {"b": 2}]})"));
  CHECK_THROWS_WITH(parse_strict_json(R"({"a": {"b": 1, "b": 2}})", "twice.json"),
                    Catch::Matchers::Contains("'twice.json' gives the field 'b' twice"));
  // Nesting as deep as the file is long used to overflow the stack where a config is copied or printed.
  const auto deep = [](size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  CHECK(parse_strict_json(deep(gpm::runner::kMaxJsonDepth), "deep.json").is_array());
  CHECK_THROWS_AS(parse_strict_json(deep(100000), "deeper.json"), gpm::InvalidArgument);
  CHECK_THROWS_WITH(parse_strict_json(R"({"steps": )" + deep(gpm::runner::kMaxJsonDepth) + "}", "deeper.json"),
                    Catch::Matchers::Contains("'deeper.json' nests objects and arrays more than 100 levels deep"));

  using gpm::runner::CheckpointManifest;
  const auto manifest = CheckpointManifest::of("checkpoint bytes", 7);
  const auto back = CheckpointManifest::parse(manifest.to_json().dump(2), "checkpoint.json");
  CHECK((back.step == 7 && back.size == manifest.size && back.sha256 == manifest.sha256));
  CHECK_THROWS_WITH(CheckpointManifest::parse(R"({"format": 1, "size": -1})", "bad.json"),
                    Catch::Matchers::Contains("'bad.json' is not a checkpoint manifest"));
}

TEST_CASE("a checkpoint left beside its pending manifest survives the next save, even a failed one", "[runner][checkpoint]") {
  namespace fs = std::filesystem;
  using gpm::runner::CheckpointManifest;
  const gpm::test::TempDir dir;
  const gpm::runner::RunFiles files{dir.path()};
  gpm::runner::save_checkpoint(files, "state of step 1", 1);
  REQUIRE(gpm::runner::read_checkpoint(files) == "state of step 1");
  // A save of step 2 stopped between its renames: the new checkpoint, the old manifest, the new one pending.
  dir.write("checkpoint.pt", "state of step 2");
  dir.write("checkpoint.json.tmp", CheckpointManifest::of("state of step 2", 2).to_json().dump());
  REQUIRE(gpm::runner::read_checkpoint(files) == "state of step 2");
  // The next save fails (its temporary checkpoint cannot be written: a folder is in the way). It
  // used to remove the pending manifest with its own temporary files, leaving a checkpoint that
  // matched no manifest; the pending rename is made first, so the checkpoint stays loadable.
  fs::create_directories(dir.path() / "checkpoint.pt.tmp" / "in-the-way");
  REQUIRE_THROWS_AS(gpm::runner::save_checkpoint(files, "state of step 3", 3), gpm::RuntimeError);
  CHECK(gpm::runner::read_checkpoint(files) == "state of step 2");
  CHECK(gpm::runner::read_manifest(files.manifest()).step == 2);
  CHECK_FALSE(fs::exists(dir.path() / "checkpoint.json.tmp"));
  // Once the way is clear, saves go on as before and leave no temporary file.
  fs::remove_all(dir.path() / "checkpoint.pt.tmp");
  gpm::runner::save_checkpoint(files, "state of step 3", 3);
  CHECK(gpm::runner::read_checkpoint(files) == "state of step 3");
  CHECK(gpm::runner::read_manifest(files.manifest()).step == 3);
  CHECK_FALSE(fs::exists(dir.path() / "checkpoint.pt.tmp"));
  CHECK_FALSE(fs::exists(dir.path() / "checkpoint.json.tmp"));
}

TEST_CASE("a model state's tensors off the model's device are named; random streams and counters are not", "[runner]") {
  torch::serialize::OutputArchive out, nested;
  nested.write("weight", torch::ones({2, 2}));
  nested.write("generator", torch::zeros({16}, torch::kByte));  // a random stream's state: on the CPU for every device
  out.write("discriminator", nested);
  out.write("step", torch::tensor(int64_t{3}));
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  CHECK_FALSE(gpm::runner::first_tensor_off_device(in, torch::kCPU).has_value());
  // A model on a GPU whose state holds that weight on the CPU: a part that ignored its device.
  const auto found = gpm::runner::first_tensor_off_device(in, torch::Device(torch::kCUDA, 0));
  REQUIRE(found.has_value());
  CHECK(*found == "'discriminator.weight' (on cpu)");
}

TEST_CASE("--device: cpu is taken; other kinds and malformed names are refused, naming the choices", "[runner][errors]") {
  CHECK(gpm::runner::parse_device("cpu") == torch::Device(torch::kCPU));
  REQUIRE_THROWS_WITH(gpm::runner::parse_device("meta"), Catch::Matchers::Contains("gpm trains on cpu or cuda"));
  REQUIRE_THROWS_WITH(gpm::runner::parse_device("gpu0"), Catch::Matchers::Contains("name a device as cpu, cuda or cuda:N"));
  if (!torch::cuda::is_available())
    REQUIRE_THROWS_WITH(gpm::runner::parse_device("cuda"), Catch::Matchers::Contains("sees no CUDA device"));
  else
    CHECK(gpm::runner::parse_device("cuda") == torch::Device(torch::kCUDA, 0));
}
