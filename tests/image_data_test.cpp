// Image data without an image library: MNIST from fake packages written here (and the real one
// when it has been fetched), image dataset specs, and .npy files.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gpm/data.hpp"
#include "gpm/io/npy.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace data = gpm::data;
namespace fs = std::filesystem;
using gpm::test::TempDir;

namespace {

static_assert(data::ImageDataset<data::Mnist> && data::ImageDataset<data::ImageFolder>);
// AnyDataset has image_shape() for any dataset it holds: has_image_shape() says whether it is images.
static_assert(!data::ImageDataset<data::GaussianRing> && data::ImageDataset<data::AnyDataset>);

/// Pixel p (0..783) of the fake digit `index` of class `digit`: pixels 0 and 1 name the digit
/// (digit/10, index/100), the others follow a pattern, all with one decimal or two.
double fake_pixel(int digit, int index, int p) {
  if (p == 0) return digit / 10.0;
  if (p == 1) return index / 100.0;
  return ((digit * 7 + index * 3 + p) % 11) / 10.0;
}

/// The number of fake digits of class `digit`.
int fake_count(int digit) { return 2 + digit % 3; }
constexpr int64_t kFakeDigits = 29;  // Σ fake_count

/// Writes a fake MNIST package under root/mnist, as scripts/fetch-mnist.sh lays the real one out.
void write_fake_mnist(const TempDir& dir) {
  for (int digit = 0; digit < 10; ++digit) {
    std::vector<std::string> values;
    for (int i = 0; i < fake_count(digit); ++i)
      for (int p = 0; p < 784; ++p) values.push_back(fmt::format("{}", fake_pixel(digit, i, p)));
    dir.write(fmt::format("mnist/package/src/digits/{}.json", digit), fmt::format("{{\"data\": [{}]}}", fmt::join(values, ",")));
  }
}

std::string digit_file(int digit) { return fmt::format("mnist/package/src/digits/{}.json", digit); }

/// Which fake digit a loaded image is: (class, index), read from its first two pixels.
std::pair<int, int> fake_identity(const torch::Tensor& image) {
  const auto pixels = (image.to(torch::kFloat64) + 1) / 2;
  const auto at = [&](int64_t row, int64_t col) { return pixels[row * 32 + col].item<double>(); };
  return {static_cast<int>(std::lround(at(2, 2) * 10)), static_cast<int>(std::lround(at(2, 3) * 100))};
}

/// The loaded image of a fake digit: its 28 × 28 values padded by 2 zeros, scaled to [−1, 1], in float32.
torch::Tensor expected_fake_image(int digit, int index) {
  std::vector<float> values;
  for (int p = 0; p < 784; ++p) values.push_back(static_cast<float>(fake_pixel(digit, index, p)));
  const auto image = torch::tensor(values).view({28, 28});
  return (2 * torch::constant_pad_nd(image, {2, 2, 2, 2}, 0) - 1).flatten();
}

data::Mnist fake_mnist(const TempDir& dir, data::MnistOptions options = {},
                       torch::TensorOptions tensor_options = data::default_options()) {
  return data::Mnist(options.data_dir(dir.path().string()), tensor_options);
}

/// Sets an environment variable for a scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string file_bytes(const std::string& path) { return gpm::io::read_file(path); }

}  // namespace

TEST_CASE("MNIST: a package's digits with their labels, padded to 32 × 32 and scaled to [−1, 1]", "[data][mnist]") {
  const TempDir dir;
  write_fake_mnist(dir);
  const auto train = fake_mnist(dir, data::MnistOptions().validation_fraction(0.25));
  const auto validation = fake_mnist(dir, data::MnistOptions().validation_fraction(0.25).split(data::MnistSplit::validation));
  REQUIRE(validation.size() == 7);  // round(29 · 0.25)
  REQUIRE(train.size() == 22);
  REQUIRE(train.dim() == 1024);
  REQUIRE(train.image_shape() == gpm::ImageShape{1, 32, 32});
  REQUIRE(train.images().sizes() == torch::IntArrayRef({22, 1024}));
  REQUIRE(train.images().scalar_type() == torch::kFloat32);
  REQUIRE(train.labels().sizes() == torch::IntArrayRef({22}));
  REQUIRE(train.labels().scalar_type() == torch::kLong);

  // Every digit is in exactly one split, with its class as label and its values, padded with −1.
  std::set<std::pair<int, int>> seen;
  for (const auto* split : {&train, &validation}) {
    for (int64_t i = 0; i < split->size(); ++i) {
      const auto image = split->images()[i];
      const auto [digit, index] = fake_identity(image);
      INFO(digit << " " << index);
      REQUIRE(seen.insert({digit, index}).second);
      REQUIRE(split->labels()[i].item<int64_t>() == digit);
      REQUIRE(torch::equal(image, expected_fake_image(digit, index)));
      const auto square = image.view({32, 32});
      for (const auto& border : {square.narrow(0, 0, 2), square.narrow(0, 30, 2), square.narrow(1, 0, 2), square.narrow(1, 30, 2)})
        REQUIRE((border == -1).all().item<bool>());
    }
  }
  REQUIRE(static_cast<int64_t>(seen.size()) == kFakeDigits);
  for (int digit = 0; digit < 10; ++digit)
    for (int i = 0; i < fake_count(digit); ++i) REQUIRE(seen.count({digit, i}) == 1);
}

TEST_CASE("MNIST: the validation split is drawn with split_seed: the same seed, the same split", "[data][mnist]") {
  const TempDir dir;
  write_fake_mnist(dir);
  const auto validation = [&](int64_t seed) {
    return fake_mnist(dir, data::MnistOptions().split(data::MnistSplit::validation).split_seed(seed)).labels();
  };
  const auto held_out = fake_mnist(dir, data::MnistOptions().split(data::MnistSplit::validation).split_seed(3));
  REQUIRE(held_out.size() == 3);  // round(29 · 0.1)
  const auto again = fake_mnist(dir, data::MnistOptions().split(data::MnistSplit::validation).split_seed(3));
  REQUIRE(torch::equal(held_out.images(), again.images()));
  // Three of 29 digits: another seed picks other digits (checked over a few seeds, all distinct from seed 3's).
  bool differs = false;
  for (int64_t seed : {4, 5, 6})
    differs = differs || !torch::equal(fake_mnist(dir, data::MnistOptions().split(data::MnistSplit::validation).split_seed(seed))
                                           .images(),
                                       held_out.images());
  REQUIRE(differs);
  REQUIRE(validation(3).sizes() == torch::IntArrayRef({3}));
}

TEMPLATE_TEST_CASE("MNIST: samples are whole images of the split, flat, in the dataset's dtype and device",
                   "[data][mnist]", float, double) {
  const TempDir dir;
  write_fake_mnist(dir);
  const auto opts = gpm::test::options<TestType>();
  const auto train = fake_mnist(dir, {}, opts);
  REQUIRE(train.images().scalar_type() == gpm::test::dtype<TestType>());
  REQUIRE(train.images().device() == gpm::test::device());
  REQUIRE(train.labels().device() == gpm::test::device());
  auto a = gpm::test::generator(2), b = gpm::test::generator(2);
  const auto x = train.sample(50, a);
  REQUIRE(x.sizes() == torch::IntArrayRef({50, 1024}));
  REQUIRE(x.scalar_type() == gpm::test::dtype<TestType>());
  REQUIRE(torch::equal(x, train.sample(50, b)));
  REQUIRE_FALSE(torch::equal(x, train.sample(50, a)));
  // Each sample is one of the split's images, exactly.
  REQUIRE((x.unsqueeze(1) == train.images().unsqueeze(0)).all(2).any(1).all().item().toBool());
  REQUIRE(((x >= -1) & (x <= 1)).all().item().toBool());
}

TEST_CASE("MNIST: the digits are cached beside the package, and the cache is remade when the package changes",
          "[data][mnist]") {
  const TempDir dir;
  write_fake_mnist(dir);
  const auto cache = dir.file("mnist/gpm-digits-cache.pt");
  const auto first = fake_mnist(dir, data::MnistOptions().validation_fraction(0));
  REQUIRE(fs::exists(cache));

  // A cache of the same package is read instead of the JSON files: one with altered images shows it.
  torch::serialize::InputArchive archive;
  archive.load_from(cache);
  c10::IValue key;
  REQUIRE(archive.try_read("key", key));
  data::detail::write_mnist_cache(cache, key.toStringRef(), {-torch::ones({kFakeDigits, 1024}), torch::zeros({kFakeDigits}, torch::kLong)});
  const auto from_cache = fake_mnist(dir, data::MnistOptions().validation_fraction(0));
  REQUIRE((from_cache.images() == -1).all().item<bool>());
  REQUIRE((from_cache.labels() == 0).all().item<bool>());

  // Changing one value of one file changes the key: the files are read again, and cached anew.
  auto text = file_bytes(dir.file(digit_file(4)));
  text.replace(text.find("[0.4,"), 5, "[0.5,");  // the first digit of class 4 now reads as a 5
  dir.write(digit_file(4), text);
  const auto changed = fake_mnist(dir, data::MnistOptions().validation_fraction(0));
  REQUIRE_FALSE(torch::equal(changed.images(), first.images()));
  REQUIRE((changed.labels() == first.labels()).all().item<bool>());
  const auto identity = ((changed.images().select(1, 2 * 32 + 2) + 1) * 5).round();  // pixel (2, 2) names the class
  REQUIRE(identity.eq(5).sum().item<int64_t>() == fake_count(5) + 1);

  // A truncated or foreign cache is remade, not an error.
  dir.write("mnist/gpm-digits-cache.pt", "not an archive");
  REQUIRE(torch::equal(fake_mnist(dir, data::MnistOptions().validation_fraction(0)).images(), changed.images()));
  REQUIRE(fs::file_size(cache) > 1024 * kFakeDigits);
}

TEST_CASE("MNIST: a missing or corrupt package is an error naming the file and scripts/fetch-mnist.sh",
          "[data][mnist][errors]") {
  const TempDir dir;
  REQUIRE_THROWS_AS(fake_mnist(dir), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(fake_mnist(dir), Contains("the MNIST package is not in '" + dir.file("mnist/package/src/digits")) &&
                                           Contains("scripts/fetch-mnist.sh") && Contains("GPM_DATA_DIR"));
  write_fake_mnist(dir);
  const auto good = file_bytes(dir.file(digit_file(7)));
  const auto seven = [&](const std::string& text) { dir.write(digit_file(7), text); };
  const auto fails_with = [&](const std::string& problem) {
    INFO(problem);
    REQUIRE_THROWS_AS(fake_mnist(dir), gpm::InvalidArgument);
    REQUIRE_THROWS_WITH(fake_mnist(dir), Contains(dir.file(digit_file(7))) && Contains(problem) &&
                                             Contains("scripts/fetch-mnist.sh") && Contains("delete '" + dir.file("mnist")));
  };
  seven("{\"data\": [0.5, 0.25");
  fails_with("is not valid JSON");
  seven("{\"pixels\": [0.5]}");
  fails_with("is not an object {\"data\": [...]}");
  seven("{\"data\": 5}");
  fails_with("is not an object {\"data\": [...]}");
  seven(good.substr(0, good.size() - 2) + ",0]}");
  fails_with("holds 2353 values, not a whole number of digits of 28 × 28 = 784 values");
  seven("{\"data\": []}");
  fails_with("holds 0 values");
  auto text = good;
  text.replace(text.find("[0.7,"), 5, "[1.5,");
  seven(text);
  fails_with("has the value 1.5 at index 0 (digit 0), outside [0, 1]");
  text = good;
  text.replace(text.find(",0.01,"), 6, ",-0.2,");  // pixel 1 of digit 1
  seven(text);
  fails_with("has the value -0.2 at index 785 (digit 1), outside [0, 1]");
  text = good;
  text.replace(text.find("[0.7,"), 5, "[\"a\",");
  seven(text);
  fails_with("has the value \"a\" at index 0");
  fs::remove(dir.file(digit_file(7)));
  REQUIRE_THROWS_WITH(fake_mnist(dir), Contains("lacks '7.json'") && Contains("scripts/fetch-mnist.sh"));
  seven(good);
  REQUIRE(fake_mnist(dir).size() == kFakeDigits - 3);

  // A split left empty by validation_fraction is refused, naming the option.
  REQUIRE_THROWS_WITH(fake_mnist(dir, data::MnistOptions().validation_fraction(0).split(data::MnistSplit::validation)),
                      Contains("the validation split of 29 digits with validation_fraction 0 is empty"));
  REQUIRE_THROWS_WITH(fake_mnist(dir, data::MnistOptions().validation_fraction(0.99)),
                      Contains("the training split of 29 digits with validation_fraction 0.99 is empty"));
}

TEST_CASE("MNIST: the real package has 10,000 digits, about 1,000 per class, split 9,000 / 1,000", "[data][mnist]") {
  const auto digits = data::default_data_dir() / "mnist" / "package" / "src" / "digits";
  if (!fs::exists(digits / "9.json")) {
    WARN("the MNIST package is not in " << digits.string() << ": run scripts/fetch-mnist.sh; test skipped");
    return;
  }
  const data::Mnist train, validation(data::MnistOptions().split(data::MnistSplit::validation));
  REQUIRE(train.size() == 9000);
  REQUIRE(validation.size() == 1000);
  const auto labels = torch::cat({train.labels(), validation.labels()});
  // The package's own counts per class (its files 0.json … 9.json).
  REQUIRE(torch::equal(torch::bincount(labels),
                       torch::tensor({1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978}, torch::kLong)));
  const auto images = torch::cat({train.images(), validation.images()});
  REQUIRE(images.min().item<double>() == -1.0);
  REQUIRE(images.max().item<double>() == 1.0);
  // No digit in both splits: every image differs from every other (the package has no duplicates).
  REQUIRE(torch::cdist(validation.images(), train.images()).amin().item<double>() > 0.1);
  // Digits are drawn in white on black: the border of 2 padded pixels is black, every digit has ink.
  const auto squares = images.view({-1, 32, 32});
  REQUIRE((squares.narrow(1, 0, 2) == -1).all().item<bool>());
  REQUIRE((squares.narrow(2, 30, 2) == -1).all().item<bool>());
  REQUIRE(images.amax(1).gt(0).all().item<bool>());

  const auto spec = data::parse_dataset("mnist:split=validation");
  REQUIRE(spec.has_image_shape());
  REQUIRE(spec.image_shape() == gpm::ImageShape{1, 32, 32});
  REQUIRE(spec.dim() == 1024);
}

TEST_CASE("image dataset specs: mnist's options, and images with its folder first", "[data][spec][mnist]") {
  REQUIRE(data::resolve_dataset_spec("mnist") == "mnist:split=train,validation_fraction=0.1,split_seed=0");
  REQUIRE(data::resolve_dataset_spec("mnist:split=validation,split_seed=4") ==
          "mnist:split=validation,validation_fraction=0.1,split_seed=4");
  REQUIRE_THROWS_WITH(data::resolve_dataset_spec("mnist:split=test"),
                      Contains("the parameter 'split' must be one of train, validation, got 'test'"));
  REQUIRE_THROWS_WITH(data::resolve_dataset_spec("mnist:validation_fraction=1"),
                      Contains("the parameter 'validation_fraction' must be in [0, 1), got 1"));
  REQUIRE_THROWS_WITH(data::resolve_dataset_spec("mnist:data_dir=x"),
                      Contains("unknown parameter 'data_dir'; valid parameters: split, validation_fraction, split_seed"));

  // The folder comes first without dir=, and a spec naming images wins over the path test ('/').
  REQUIRE(data::resolve_dataset_spec("images:/tmp/x,size=16,channels=1") == "images:/tmp/x,size=16,channels=1");
  REQUIRE(data::resolve_dataset_spec(" images : /tmp/x ") == "images:/tmp/x,size=32,channels=0");
  REQUIRE(data::resolve_dataset_spec("images:dir=faces,channels=3") == "images:faces,size=32,channels=3");
  REQUIRE(data::resolve_dataset_spec("images:size=8") == "images:size=8,channels=0");
  // A folder with '=' in its path is written with dir=, so that the spec written reads back.
  REQUIRE(data::resolve_dataset_spec("images:dir=runs/lr=0.1,size=8") == "images:dir=runs/lr=0.1,size=8,channels=0");
  REQUIRE(data::resolve_dataset_spec("images:dir=runs/lr=0.1,size=8,channels=0") ==
          "images:dir=runs/lr=0.1,size=8,channels=0");
  REQUIRE(data::find_builtin_dataset("images")->defaults == "images:DIR,size=32,channels=0");
  const std::vector<std::pair<const char*, const char*>> bad{
      {"images:/tmp/x,channels=2", "the parameter 'channels' must be one of 0, 1, 3, got 2"},
      {"images:/tmp/x,size=0", "the parameter 'size' must be ≥ 1, got 0"},
      {"images:/tmp/x,colour=3", "unknown parameter 'colour'; valid parameters: dir, size, channels"},
      {"images:/tmp/a,b/c,size=3", "'b/c' is not of the form name=value; valid names: dir, size, channels (the dir comes "
                                   "first, and cannot contain ',' or '=')"},
      {"images:/tmp/a=b,size=3", "the dir '/tmp/a=b' contains '=', which a dir given first without 'dir=' cannot "
                                 "hold; write dir=/tmp/a=b"},
      {"images:/tmp/x,dir=/tmp/y", "the parameter 'dir' is given twice"},
  };
  for (const auto& [spec, message] : bad) {
    INFO(spec);
    REQUIRE_THROWS_AS(data::parse_dataset(spec), gpm::InvalidArgument);
    REQUIRE_THROWS_WITH(data::parse_dataset(spec), Contains(message));
  }
  // The folder is checked before any file is decoded, so these messages need no image library.
  REQUIRE_THROWS_WITH(data::parse_dataset("images"), Contains("ImageFolder: no folder given; name it first in the spec"));
  REQUIRE_THROWS_WITH(data::parse_dataset("images:/no/such/folder"),
                      Contains("dataset spec 'images:/no/such/folder': ImageFolder: '/no/such/folder' is not a folder (it "
                               "does not exist)"));
  const TempDir dir;
  REQUIRE_THROWS_WITH(data::parse_dataset("images:" + dir.path().string()), Contains("holds no .png, .jpg or .jpeg file"));
  // Other specs with '/' are still CSV files.
  REQUIRE_THROWS_WITH(data::parse_dataset("no/such/file.csv"), Contains("does not exist"));
}

TEST_CASE("the mnist spec reads the package from GPM_DATA_DIR and keeps the image shape", "[data][spec][mnist]") {
  const TempDir dir;
  write_fake_mnist(dir);
  const ScopedEnv env("GPM_DATA_DIR", dir.path().string());
  REQUIRE(data::default_data_dir() == dir.path());
  const auto mnist = data::parse_dataset("mnist:validation_fraction=0.5");
  REQUIRE(mnist.has_image_shape());
  REQUIRE(mnist.image_shape() == gpm::ImageShape{1, 32, 32});
  REQUIRE(mnist.dim() == 1024);
  REQUIRE_FALSE(mnist.has_modes());
  auto gen = gpm::make_generator(1);
  REQUIRE(mnist.sample(4, gen).sizes() == torch::IntArrayRef({4, 1024}));
  REQUIRE_FALSE(data::parse_dataset("ring").has_image_shape());
  REQUIRE_THROWS_WITH(data::parse_dataset("ring").image_shape(), Contains("'ring' is not an image dataset"));
}

TEST_CASE("the data folder is GPM_DATA_DIR, else XDG_CACHE_HOME/gpm, else HOME/.cache/gpm", "[data][mnist]") {
  const ScopedEnv data_dir("GPM_DATA_DIR", ""), xdg("XDG_CACHE_HOME", "/x/cache"), home("HOME", "/home/u");
  REQUIRE(data::default_data_dir() == fs::path("/x/cache/gpm"));
  const ScopedEnv no_xdg("XDG_CACHE_HOME", "");
  REQUIRE(data::default_data_dir() == fs::path("/home/u/.cache/gpm"));
  const ScopedEnv set("GPM_DATA_DIR", "/data");
  REQUIRE(data::default_data_dir() == fs::path("/data"));
}

TEMPLATE_TEST_CASE("npy: arrays of any shape round-trip exactly as float32", "[io][npy]", float, double) {
  const TempDir dir;
  const auto opts = gpm::test::options<TestType>();
  for (const auto& shape : std::vector<std::vector<int64_t>>{{2, 3, 4}, {5}, {}, {0, 3}, {3, 1, 2, 2}}) {
    INFO(fmt::format("({})", fmt::join(shape, ", ")));
    const auto x = torch::randn(shape, opts);
    gpm::io::write_npy(dir.file("x.npy"), x);
    const auto y = gpm::io::read_npy(dir.file("x.npy"));
    REQUIRE(y.sizes() == x.sizes());
    REQUIRE(y.scalar_type() == torch::kFloat32);
    REQUIRE(torch::equal(y, x.to(torch::kCPU, torch::kFloat32)));
    const auto bytes = file_bytes(dir.file("x.npy"));
    REQUIRE((bytes.size() - static_cast<size_t>(x.numel()) * 4) % 64 == 0);  // the header is padded as NumPy pads it
  }
}

TEST_CASE("npy: the header is NumPy's, byte for byte", "[io][npy]") {
  const TempDir dir;
  gpm::io::write_npy(dir.file("a.npy"), torch::arange(6, torch::kFloat32).view({2, 3}));
  const auto bytes = file_bytes(dir.file("a.npy"));
  // What numpy.save writes for numpy.arange(6, dtype='<f4').reshape(2, 3): version 1.0, a header of
  // 118 bytes (0x76) padded with spaces to 128 in all, then the values in C order.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(117 - header.size(), ' ').push_back('\n');
  REQUIRE(bytes.substr(0, 10) == std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  REQUIRE(bytes.substr(10, 118) == header);
  REQUIRE(bytes.size() == 128 + 24);
  gpm::io::write_npy(dir.file("b.npy"), torch::zeros({7}));
  REQUIRE_THAT(file_bytes(dir.file("b.npy")), Contains("'shape': (7,), }"));
  // Files NumPy writes in format 2.0 (a 4-byte header length) read too.
  std::string v2 = std::string("\x93NUMPY\x02\x00", 8) + std::string("\x74\x00\x00\x00", 4);
  v2 += header.substr(0, 115) + "\n";  // 12 + 116 bytes: still 128
  v2 += bytes.substr(128);
  dir.write("v2.npy", v2);
  REQUIRE(torch::equal(gpm::io::read_npy(dir.file("v2.npy")), torch::arange(6, torch::kFloat32).view({2, 3})));
}

TEST_CASE("npy: files it cannot read are errors naming the file and the problem", "[io][npy][errors]") {
  const TempDir dir;
  gpm::io::write_npy(dir.file("a.npy"), torch::ones({2, 2}));
  const auto good = file_bytes(dir.file("a.npy"));
  const auto fails_with = [&](const std::string& bytes, const std::string& problem) {
    INFO(problem);
    dir.write("bad.npy", bytes);
    REQUIRE_THROWS_AS(gpm::io::read_npy(dir.file("bad.npy")), gpm::InvalidArgument);
    REQUIRE_THROWS_WITH(gpm::io::read_npy(dir.file("bad.npy")), Contains(dir.file("bad.npy")) && Contains(problem));
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    auto bytes = good;
    bytes.replace(bytes.find(from), from.size(), to);
    return bytes;
  };
  fails_with("x,y\n1,2\n", "is not a .npy file");
  fails_with(replaced("'<f4'", "'<f8'"), "holds dtype '<f8'; expected little-endian float32 '<f4'");
  fails_with(replaced("False", "True "), "is in Fortran order");
  fails_with(good.substr(0, good.size() - 1), "holds 15 bytes of data; its shape (2, 2) needs 16");
  fails_with(good.substr(0, 40), "is truncated in its header");
  fails_with(replaced("(2, 2)", "(2, x)"), "has a malformed shape (2, x)");
  REQUIRE_THROWS_WITH(gpm::io::read_npy(dir.file("none.npy")), Contains("cannot read") && Contains("none.npy"));
  REQUIRE_THROWS_WITH(gpm::io::write_npy(dir.file("i.npy"), torch::ones({2}, torch::kLong)),
                      Contains("expected a floating-point tensor, got Long"));
  REQUIRE_THROWS_AS(gpm::io::write_npy(dir.file("no/such/dir/a.npy"), torch::ones({2})), gpm::RuntimeError);
}
