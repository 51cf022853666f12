// PNG and JPEG files (gpm::images, on stb): folders of images as datasets, and PNG grids. The files
// are written here, with gpm::io::write_png and stb_image_write.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <stb_image_write.h>

#include "gpm/data.hpp"
#include "gpm/io/image_files.hpp"
#include "gpm/io/image_grid.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
namespace data = gpm::data;
using gpm::test::TempDir;

namespace {

/// A uint8 [H, W, C] picture whose pixel (y, x) has channel c = (y · 7 + x · 3 + c · 50) mod 256.
torch::Tensor pattern(int64_t height, int64_t width, int64_t channels) {
  const auto y = torch::arange(height).view({height, 1, 1}), x = torch::arange(width).view({1, width, 1});
  const auto c = torch::arange(channels).view({1, 1, channels});
  return (y * 7 + x * 3 + c * 50).remainder(256).to(torch::kUInt8);
}

/// A uint8 [H, W, C] picture of one colour.
torch::Tensor plain(int64_t height, int64_t width, std::vector<int64_t> colour) {
  return torch::tensor(colour).to(torch::kUInt8).view({1, 1, -1}).expand({height, width, -1}).contiguous();
}

void write_jpeg(const std::string& path, const torch::Tensor& pixels) {
  REQUIRE(stbi_write_jpg(path.c_str(), static_cast<int>(pixels.size(1)), static_cast<int>(pixels.size(0)),
                         static_cast<int>(pixels.size(2)), pixels.data_ptr<uint8_t>(), 95) != 0);
}

/// A [C·H·W] flat image in [−1, 1] of a [H, W, C] picture, computed as the datasets do in `dtype`.
torch::Tensor flat_image(const torch::Tensor& pixels, torch::Dtype dtype = torch::kFloat32) {
  return pixels.permute({2, 0, 1}).flatten().to(dtype) / 127.5 - 1;
}

data::ImageFolder folder(const TempDir& dir, int64_t size, int64_t channels,
                         torch::TensorOptions tensor_options = data::default_options()) {
  return data::ImageFolder(data::ImageFolderOptions().dir(dir.path().string()).size(size).channels(channels), tensor_options);
}

/// A folder of colour images of several sizes and formats, a file that is not an image, one that
/// claims to be but is not, and a link to nothing.
void write_colour_folder(const TempDir& dir) {
  // 40 wide, 30 high: the centred square is columns 5..34, all 200; the columns outside are 0.
  auto wide = torch::zeros({30, 40, 3}, torch::kUInt8);
  wide.narrow(1, 5, 30).fill_(200);
  gpm::io::write_png(dir.file("a.png"), wide);
  gpm::io::write_png(dir.file("b.png"), pattern(16, 16, 3));  // already 16 × 16: kept as it is
  dir.write("bad.png", "this is not a PNG file");
  dir.write("notes.txt", "not an image, and not counted");
  std::filesystem::create_directories(dir.path() / "sub");
  write_jpeg(dir.file("sub/c.JPG"), plain(48, 64, {10, 120, 240}));
  std::filesystem::create_symlink(dir.path() / "missing.png", dir.path() / "dangling.png");  // not a file: ignored
}

}  // namespace

TEMPLATE_TEST_CASE("image folder: files of any size are centre-cropped and resized and scaled to [−1, 1]; bad files skipped",
                   "[data][images]", float, double) {
  const TempDir dir;
  write_colour_folder(dir);
  const auto opts = gpm::test::options<TestType>();
  const auto images = folder(dir, 16, 0, opts);
  REQUIRE(images.size() == 3);  // a.png, b.png, sub/c.JPG, in path order
  REQUIRE(images.skipped() == 1);
  REQUIRE(images.image_shape() == gpm::ImageShape{3, 16, 16});
  REQUIRE(images.dim() == 768);
  const auto all = images.images();
  REQUIRE(all.sizes() == torch::IntArrayRef({3, 768}));
  REQUIRE(all.scalar_type() == gpm::test::dtype<TestType>());
  REQUIRE(all.device() == gpm::test::device());
  const auto dtype = gpm::test::dtype<TestType>();
  const auto cpu = all.to(torch::kCPU);
  // The centre square of a.png is all 200: cropping any other square would bring in black.
  REQUIRE(torch::equal(cpu[0], flat_image(plain(16, 16, {200, 200, 200}), dtype)));
  REQUIRE(torch::equal(cpu[1], flat_image(pattern(16, 16, 3), dtype)));
  // JPEG is lossy: within a few levels of its colour.
  const auto jpeg = (cpu[2].view({3, 16 * 16}) + 1) * 127.5;
  for (const auto& [channel, value] : std::vector<std::pair<int64_t, double>>{{0, 10}, {1, 120}, {2, 240}})
    REQUIRE((jpeg[channel] - value).abs().max().item().toDouble() <= 3);

  auto a = gpm::test::generator(9), b = gpm::test::generator(9);
  const auto x = images.sample(20, a);
  REQUIRE(x.sizes() == torch::IntArrayRef({20, 768}));
  REQUIRE(x.scalar_type() == gpm::test::dtype<TestType>());
  REQUIRE(torch::equal(x, images.sample(20, b)));
  REQUIRE((x.unsqueeze(1) == all.unsqueeze(0)).all(2).any(1).all().item().toBool());  // each sample is an image
}

TEST_CASE("image folder: shrinking averages the area, a linear ramp stays linear", "[data][images][numeric]") {
  const TempDir dir;
  // 64 × 64 with a horizontal ramp of 4 levels per pixel: shrunk 4 times, the inner pixels keep a
  // ramp of 16 per pixel (an antialiased filter is symmetric, and sums to 1).
  const auto ramp = (torch::arange(64) * 4).view({1, 64, 1}).expand({64, 64, 1}).to(torch::kUInt8).contiguous();
  gpm::io::write_png(dir.file("ramp.png"), ramp);
  const auto image = ((folder(dir, 16, 1).images()[0].view({16, 16}) + 1) * 127.5).to(torch::kFloat64);
  REQUIRE(image.sizes() == torch::IntArrayRef({16, 16}));
  REQUIRE(torch::equal(image, image[0].expand({16, 16})));  // every row alike
  const auto inner = image[0].narrow(0, 2, 12);
  REQUIRE(gpm::test::max_abs(inner - (torch::arange(2, 14, torch::kFloat64) * 16 + 6)) <= 0.5);
  // Enlarging (8 × 8 → 16 × 16) keeps a plain image plain.
  gpm::io::write_png(dir.file("ramp.png"), plain(8, 8, {77}));
  REQUIRE(((folder(dir, 16, 1).images() + 1) * 127.5).round().eq(77).all().item<bool>());
}

TEST_CASE("image folder: channels converts every image; left at 0, a folder mixing gray and colour is refused",
          "[data][images]") {
  const TempDir dir;
  gpm::io::write_png(dir.file("gray.png"), pattern(16, 16, 1));
  gpm::io::write_png(dir.file("red.png"), plain(16, 16, {255, 0, 0}));
  REQUIRE_THROWS_AS(folder(dir, 16, 0), gpm::InvalidArgument);
  REQUIRE_THROWS_WITH(folder(dir, 16, 0), Contains("mixes grayscale images (e.g. '" + dir.file("gray.png")) &&
                                              Contains("and colour images (e.g. '" + dir.file("red.png")) &&
                                              Contains("give channels=1 or channels=3 to convert them all"));
  const auto rgb = folder(dir, 16, 3);
  REQUIRE(rgb.image_shape() == gpm::ImageShape{3, 16, 16});
  const auto gray_as_rgb = rgb.images()[0].view({3, 256});
  REQUIRE(torch::equal(gray_as_rgb[0], flat_image(pattern(16, 16, 1))));
  REQUIRE(torch::equal(gray_as_rgb[1], gray_as_rgb[0]));
  REQUIRE(torch::equal(gray_as_rgb[2], gray_as_rgb[0]));
  const auto gray = folder(dir, 16, 1);
  REQUIRE(gray.image_shape() == gpm::ImageShape{1, 16, 16});
  REQUIRE(torch::equal(gray.images()[0], flat_image(pattern(16, 16, 1))));
  // Red's luma, 0.299 · 255 ≈ 76.
  REQUIRE(((gray.images()[1] + 1) * 127.5 - 76.2).abs().max().item<double>() <= 1.0);
  // An RGBA file loses its alpha.
  const TempDir rgba;
  gpm::io::write_png(rgba.file("a.png"), plain(8, 8, {10, 20, 30, 0}));
  REQUIRE(torch::equal(folder(rgba, 8, 0).images()[0], flat_image(plain(8, 8, {10, 20, 30}))));
}

TEST_CASE("image folder: no readable image, or no decoder, is an error that says what to do", "[data][images][errors]") {
  const TempDir dir;
  REQUIRE_THROWS_WITH(folder(dir, 16, 0), Contains("holds no .png, .jpg or .jpeg file"));
  dir.write("bad.jpg", "not a JPEG");
  REQUIRE_THROWS_WITH(folder(dir, 16, 0), Contains("none of the 1 image files in '" + dir.path().string() +
                                                   "' could be read (the first, read_image: '" + dir.file("bad.jpg")));
  REQUIRE_THROWS_WITH(folder(dir, 16, 2), Contains("channels must be 1 (grayscale), 3 (RGB) or 0 (as stored), got 2"));
  gpm::io::write_png(dir.file("good.png"), plain(8, 8, {1}));
  REQUIRE(folder(dir, 4, 0).skipped() == 1);
  // A program without the decoder installed is told how to get one.
  gpm::io::install_image_decoder(nullptr);
  const auto message = [&] {
    try {
      folder(dir, 4, 0);
    } catch (const gpm::InvalidArgument& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  }();
  gpm::io::install_image_decoder(&gpm::io::read_image);
  REQUIRE_THAT(message, Contains("cannot decode image files: link it with gpm::images") &&
                            Contains("include <gpm/io/image_files.hpp>"));
}

TEST_CASE("image folder specs: images:DIR,size=S,channels=C keeps the image shape", "[data][images][spec]") {
  const TempDir dir;
  write_colour_folder(dir);
  const auto spec = fmt::format("images:{},size=16,channels=1", dir.path().string());
  const auto images = data::parse_dataset(spec);
  REQUIRE(images.description() == spec);
  REQUIRE(images.has_image_shape());
  REQUIRE(images.image_shape() == gpm::ImageShape{1, 16, 16});
  REQUIRE(images.dim() == 256);
  auto a = gpm::make_generator(1), b = gpm::make_generator(1);
  REQUIRE(torch::equal(images.sample(8, a), folder(dir, 16, 1).sample(8, b)));
  REQUIRE(data::resolve_dataset_spec(spec) == spec);
  const auto keyed = data::parse_dataset(fmt::format("images:dir={},size=8", dir.path().string()));
  REQUIRE(keyed.image_shape() == gpm::ImageShape{3, 8, 8});
}

TEST_CASE("image grid: images side by side with gaps, as a PNG that reads back", "[io][images]") {
  const TempDir dir;
  // Five 4 × 3 gray images of values −1, −0.5, 0, 0.5, 1: a grid of ⌈√5⌉ = 3 columns and 2 rows.
  const auto images = torch::linspace(-1, 1, 5).view({5, 1, 1, 1}).expand({5, 1, 4, 3});
  const auto grid = gpm::io::image_grid(images);
  REQUIRE(grid.sizes() == torch::IntArrayRef({2 * 4 + 2, 3 * 3 + 2 * 2, 1}));
  REQUIRE(grid.scalar_type() == torch::kUInt8);
  const std::vector<int64_t> bytes{0, 64, 128, 191, 255};  // round(255 (v + 1) / 2)
  for (int64_t i = 0; i < 5; ++i) {
    const auto cell = grid.narrow(0, (i / 3) * 6, 4).narrow(1, (i % 3) * 5, 3);
    INFO(i);
    REQUIRE((cell == bytes[static_cast<size_t>(i)]).all().item<bool>());
  }
  REQUIRE((grid.narrow(0, 4, 2) == 255).all().item<bool>());                          // the gap between rows
  REQUIRE((grid.narrow(1, 3, 2) == 255).all().item<bool>());                          // a gap between columns
  REQUIRE((grid.narrow(0, 6, 4).narrow(1, 10, 3) == 255).all().item<bool>());         // the empty sixth cell
  REQUIRE(gpm::io::image_grid(images, gpm::io::ImageGridOptions().columns(5).gap(1).gap_value(-1)).sizes() ==
          torch::IntArrayRef({4, 5 * 3 + 4, 1}));

  gpm::io::write_image_grid(dir.file("grid.png"), images);
  const auto read = gpm::io::read_image(dir.file("grid.png"), 0);
  REQUIRE(read.width == 13);
  REQUIRE(read.height == 10);
  REQUIRE(read.channels == 1);
  REQUIRE(torch::equal(torch::tensor(std::vector<int64_t>(read.pixels.begin(), read.pixels.end())).to(torch::kUInt8),
                       grid.flatten()));

  // Flat colour particles with their image shape.
  const auto flat = torch::rand({4, 3 * 5 * 6}, torch::kFloat64) * 2 - 1;
  gpm::io::write_image_grid(dir.file("colour.png"), flat, gpm::ImageShape{3, 5, 6}, gpm::io::ImageGridOptions().gap(1));
  const auto colour = gpm::io::read_image(dir.file("colour.png"), 0);
  REQUIRE(colour.width == 2 * 6 + 1);
  REQUIRE(colour.height == 2 * 5 + 1);
  REQUIRE(colour.channels == 3);
  const auto first = torch::tensor(std::vector<int64_t>(colour.pixels.begin(), colour.pixels.end()))
                         .view({11, 13, 3})
                         .narrow(0, 0, 5)
                         .narrow(1, 0, 6)
                         .permute({2, 0, 1});
  REQUIRE(torch::equal(first, ((flat[0].view({3, 5, 6}) + 1) * 127.5).round().to(torch::kLong)));

  REQUIRE_THROWS_WITH(gpm::io::image_grid(torch::zeros({2, 2, 4, 4})), Contains("C = 1 or 3, got [2, 2, 4, 4]"));
  REQUIRE_THROWS_WITH(gpm::io::image_grid(torch::zeros({2, 10}), gpm::ImageShape{1, 3, 3}),
                      Contains("expected particles of 1×3×3 = 9 values each"));
  REQUIRE_THROWS_AS(gpm::io::write_png(dir.file("no/such/dir/x.png"), grid), gpm::RuntimeError);
  REQUIRE_THROWS_WITH(gpm::io::write_png(dir.file("x.png"), grid.to(torch::kFloat32)), Contains("must be uint8"));
}
