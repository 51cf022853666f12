// gpm::dropout: the law of its masks, their definition (the counter-based streams element by
// element), their independence of the thread count, batch shards, and first and second derivatives.
#include <cmath>

#include "gpm/core/batch_shard.hpp"
#include "gpm/core/dropout.hpp"
#include "support/test_support.hpp"

namespace t = gpm::test;
using Catch::Matchers::Contains;

namespace {

// The keep mask of elements [first, first + n) of `key`'s stream, one draw at a time from the
// streams' scalar definition (what the vector code must reproduce).
torch::Tensor dropout_mask_by_definition(uint64_t key, int64_t first, int64_t n, double p) {
  auto mask = torch::empty({n}, torch::kBool);
  auto* kept = mask.data_ptr<bool>();
  const uint32_t threshold = gpm::detail::dropout_threshold(p);
  for (int64_t e = first; e < first + n; ++e) {
    const int64_t chunk = e / gpm::detail::kDropoutChunk, offset = e % gpm::detail::kDropoutChunk;
    gpm::detail::DropoutStreams streams(key, static_cast<uint64_t>(chunk));
    uint32_t draws[4];
    for (int64_t i = 0; i <= offset / 4; ++i) streams.next(draws);
    kept[e - first] = (draws[offset % 4] >> 8) < threshold;
  }
  return mask;
}

// Pearson correlation of two 0/1 float vectors.
double mask_correlation(const torch::Tensor& a, const torch::Tensor& b) {
  const auto da = a - a.mean(), db = b - b.mean();
  return ((da * db).mean() / (da.square().mean().sqrt() * db.square().mean().sqrt())).item<double>();
}

}  // namespace

TEST_CASE("gpm::dropout keeps each element with probability 1 - p, scaled by 1/(1 - p), independently",
          "[core][dropout][statistical]") {
  auto gen = gpm::make_generator(5);
  const int64_t n = int64_t{1} << 20;
  for (const double p : {0.13, 0.5}) {
    CAPTURE(p);
    const auto x = torch::ones({n / 256, 256});
    const auto y = gpm::dropout(x, p, gen).flatten();
    const auto kept = (y != 0).to(torch::kFloat);
    // Every kept value is exactly 1/(1 - p), as LibTorch's dropout scales (in float).
    CHECK(torch::equal(y, kept * static_cast<float>(1.0 / (1.0 - p))));
    // Fractions kept: overall, per lane of the four streams, in the first and second halves of the
    // chunks, within 6 standard deviations of their count (a mask that misses a lane or a half fails).
    const auto within = [&](const torch::Tensor& part) {
      const double sd = std::sqrt(p * (1 - p) / static_cast<double>(part.numel()));
      return std::abs(part.mean().item<double>() - (1 - p)) < 6 * sd;
    };
    CHECK(within(kept));
    const auto by_lane = kept.reshape({-1, 4});
    for (int l = 0; l < 4; ++l) CHECK(within(by_lane.select(1, l)));
    const auto by_chunk = kept.reshape({-1, 2, gpm::detail::kDropoutChunk / 2});
    CHECK(within(by_chunk.select(1, 0)));
    CHECK(within(by_chunk.select(1, 1)));
    // Neighbours within a lane, across lanes and across chunks, and the next call's mask: correlations
    // within 6 standard deviations (1/√n) of 0.
    const double bound = 6.0 / std::sqrt(static_cast<double>(n));
    for (const int64_t lag : {int64_t{1}, int64_t{4}, gpm::detail::kDropoutChunk}) {
      CAPTURE(lag);
      CHECK(std::abs(mask_correlation(kept.narrow(0, 0, n - lag), kept.narrow(0, lag, n - lag))) < bound);
    }
    const auto next = (gpm::dropout(x, p, gen).flatten() != 0).to(torch::kFloat);
    CHECK(std::abs(mask_correlation(kept, next)) < bound);
  }
}

TEST_CASE("gpm::dropout's masks are its streams' draws, on any number of threads, and a shard draws its rows",
          "[core][dropout]") {
  const double p = 0.3;
  // Rows of 5 elements: shards and threads start inside the streams' chunks and groups of four.
  const auto x = torch::randn({3001, 5}, gpm::make_generator(1));
  auto gen = gpm::make_generator(9);
  auto key_gen = gen.clone();
  const uint64_t key = gpm::detail::dropout_key(key_gen);
  const auto expected = dropout_mask_by_definition(key, 0, x.numel(), p).reshape(x.sizes());
  const auto mask_of = [&](const torch::Tensor& y) { return y != 0; };
  {
    t::IntraOpThreads one(1);
    auto g = gen.clone();
    CHECK(torch::equal(mask_of(gpm::dropout(x, p, g)), expected));
  }
  {
    t::IntraOpThreads two(2);
    auto g = gen.clone();
    CHECK(torch::equal(mask_of(gpm::dropout(x, p, g)), expected));
    g = gen.clone();
    CHECK(torch::equal(gpm::dropout_mask(x.sizes(), p, g), expected));
  }
  // Shard 1 of 3 on rows [1000, 2000) of 3000 draws those rows of the 3000-row mask.
  const auto whole = dropout_mask_by_definition(key, 0, 3000 * 5, p).reshape({3000, 5});
  for (int64_t index = 0; index < 3; ++index) {
    CAPTURE(index);
    const gpm::ScopedBatchShard shard({index, 3});
    auto g = gen.clone();
    CHECK(torch::equal(mask_of(gpm::dropout(x.narrow(0, 0, 1000), p, g)), whole.narrow(0, 1000 * index, 1000)));
  }
  // Doubles draw the same masks.
  auto g = gen.clone();
  CHECK(torch::equal(mask_of(gpm::dropout(x.to(torch::kDouble), p, g)), expected));
}

TEST_CASE("gpm::dropout's derivatives are the mask times 1/(1 - p), to second order", "[core][dropout][numeric]") {
  const double p = 0.25;
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  for (const auto dtype : {torch::kFloat, torch::kDouble}) {
    CAPTURE(dtype);
    auto data_gen = gpm::make_generator(2);
    const auto x = torch::randn({64, 3, 7}, data_gen, torch::TensorOptions().dtype(dtype)).requires_grad_();
    const auto g = torch::randn({64, 3, 7}, data_gen, torch::TensorOptions().dtype(dtype)).requires_grad_();
    auto gen = gpm::make_generator(4);
    const auto y = gpm::dropout(x, p, gen);
    const auto kept = (y != 0).to(dtype);  // x has no zeros
    CHECK(torch::allclose(y, x * kept * scale));
    const auto grad_x = torch::autograd::grad({(y * g).sum()}, {x}, {}, true, true)[0];
    CHECK(torch::allclose(grad_x, g * kept * scale));
    // Σ (∂/∂x)² in g: 2 g (mask · scale)².
    const auto second = torch::autograd::grad({grad_x.square().sum()}, {g})[0];
    CHECK(torch::allclose(second, 2 * g * kept * scale * scale));
    // A backward pass without a graph (the one-pass kernel) gives the same gradient.
    const auto plain = torch::autograd::grad({(y * g.detach()).sum()}, {x})[0];
    CHECK(torch::allclose(plain, g * kept * scale));
  }
}

TEST_CASE("gpm::dropout with p = 0 is the identity, and a p outside [0, 1) is an error that names it", "[core][dropout]") {
  auto gen = gpm::make_generator(1);
  const auto x = torch::randn({8, 4});
  CHECK(torch::equal(gpm::dropout(x, 0.0, gen), x));
  REQUIRE_THROWS_WITH(gpm::dropout(x, 1.0, gen), Contains("p must be in [0, 1), got 1"));
  REQUIRE_THROWS_WITH(gpm::dropout(x, -0.1, gen), Contains("p must be in [0, 1)"));
  REQUIRE_THROWS_WITH(gpm::dropout(torch::ones({}), 0.5, gen), Contains("at least one dimension"));
}
