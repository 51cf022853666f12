// The benchmark's operation census: the FLOPs of matrix products and convolutions, forward and
// backward, against their closed forms, each product counted once as the operation it is dispatched
// as (a matmul as its mm, gpm::linear's products on oneDNN under their own name); the replay runs
// every counted operation on tensors of the same layouts.
#include <catch2/catch.hpp>

#include "gpm/gpm.hpp"
#include "support/test_support.hpp"

#include "../examples/gpm/op_census.hpp"

namespace t = gpm::test;
using gpm::runner::OpCensus;
using gpm::runner::take_op_census;

namespace {

int64_t calls_of(const OpCensus& census, const std::string& name) {
  int64_t calls = 0;
  for (const auto& op : census.ops)
    if (op.name.name == name) calls += op.calls;
  return calls;
}

}  // namespace

TEST_CASE("a linear layer's step costs its three matrix products: forward, input and weight gradients", "[bench][numeric]") {
  auto gen = t::generator(1);
  torch::nn::Linear layer(16, 8);
  layer->to(t::device());
  const auto x = torch::randn({32, 16}, gen, t::options<float>()).requires_grad_();
  const auto census = take_op_census([&] { layer(x).square().sum().backward(); });
  // y = x Wᵀ + b: 2·32·16·8 for y, the same for ∂x = ∂y W and for ∂W = ∂yᵀ x.
  CHECK(census.flops() == 3.0 * 2 * 32 * 16 * 8);
  CHECK(calls_of(census, "aten::addmm") == 1);
  CHECK(calls_of(census, "aten::mm") == 2);
  CHECK(census.ops.front().flops == 2.0 * 32 * 16 * 8);
}

TEST_CASE("gpm::nn::Linear's products on oneDNN are counted as the products they are, and replayed", "[bench][numeric]") {
  auto gen = t::generator(5);
  gpm::nn::Linear layer(32, 24);
  layer->to(t::device());
  const auto x = torch::randn({40, 32}, gen, t::options<float>()).requires_grad_();
  const auto census = take_op_census([&] { layer(x).square().sum().backward(); });
  CHECK(census.flops() == 3.0 * 2 * 40 * 32 * 24);
  const bool onednn = gpm::onednn_matmul_available() && t::device().is_cpu();
  CHECK(calls_of(census, "gpm::onednn_sgemm") == (onednn ? 3 : 0));
  CHECK(calls_of(census, "aten::addmm") + calls_of(census, "aten::mm") == (onednn ? 0 : 3));
  const double seconds = gpm::runner::replay_seconds(census, 0.001);
  CHECK(seconds > 0);
  CHECK(std::isfinite(seconds));
  // Switched off, the layer's products are LibTorch's again.
  const bool was_on = gpm::onednn_matmul_available();
  gpm::use_onednn_matmul(false);
  const auto libtorch = take_op_census([&] { layer(x).square().sum().backward(); });
  if (was_on) gpm::use_onednn_matmul(true);
  CHECK(calls_of(libtorch, "gpm::onednn_sgemm") == 0);
  CHECK(calls_of(libtorch, "aten::addmm") + calls_of(libtorch, "aten::mm") == 3);
  CHECK(libtorch.flops() == census.flops());
}

TEST_CASE("a matrix product is counted once, as the operation it is dispatched as", "[bench][numeric]") {
  auto gen = t::generator(2);
  const auto a = torch::randn({4, 5, 6}, gen, t::options<float>());
  const auto b = torch::randn({6, 7}, gen, t::options<float>());
  const auto c = torch::randn({4, 6, 7}, gen, t::options<float>());
  const auto v = torch::randn({6}, gen, t::options<float>());
  const auto census = take_op_census([&] {
    torch::matmul(a, b);  // folds the batch into one mm
    torch::bmm(a, c);
    torch::mv(b.t(), v);
  });
  CHECK(census.flops() == 2.0 * 4 * 5 * 6 * 7 * 2 + 2.0 * 7 * 6);
  CHECK(calls_of(census, "aten::mm") + calls_of(census, "aten::bmm") == 2);
  CHECK(calls_of(census, "aten::mv") == 1);
  CHECK(calls_of(census, "aten::addmv") == 0);
}

TEST_CASE("a convolution costs 2 N · positions of its dense side · weight size, in each direction", "[bench][numeric]") {
  auto gen = t::generator(3);
  const auto x = torch::randn({2, 3, 9, 9}, gen, t::options<float>()).requires_grad_();
  const auto w = torch::randn({4, 3, 3, 3}, gen, t::options<float>()).requires_grad_();
  SECTION("strided convolution: the output's positions") {
    const auto census = take_op_census([&] {
      torch::nn::functional::conv2d(x, w, torch::nn::functional::Conv2dFuncOptions().stride(2).padding(1)).sum().backward();
    });
    const double forward = 2.0 * 2 * (5 * 5) * (4 * 3 * 3 * 3);  // (9 + 2 − 3) / 2 + 1 = 5 per side
    CHECK(calls_of(census, "aten::convolution") == 1);
    CHECK(calls_of(census, "aten::convolution_backward") == 1);
    CHECK(census.flops() == 3 * forward);  // ∂x and ∂w each cost one forward
  }
  SECTION("only the gradients asked for are counted") {
    const auto frozen = w.detach();
    const auto census = take_op_census([&] {
      torch::nn::functional::conv2d(x, frozen, torch::nn::functional::Conv2dFuncOptions().padding(1)).sum().backward();
    });
    CHECK(census.flops() == 2 * (2.0 * 2 * (9 * 9) * (4 * 3 * 3 * 3)));
  }
  SECTION("transposed convolution: the input's positions") {
    const auto wt = torch::randn({3, 5, 4, 4}, gen, t::options<float>());
    const auto census = take_op_census([&] {
      torch::nn::functional::conv_transpose2d(x.detach(), wt, torch::nn::functional::ConvTranspose2dFuncOptions().stride(2).padding(1));
    });
    // Its cost is that of the convolution it is the input gradient of: 2 · 2 · 81 · 240.
    CHECK(census.flops() == 2.0 * 2 * (9 * 9) * (3 * 5 * 4 * 4));
  }
}

TEST_CASE("an operation is counted as often as it is dispatched, and the replay runs each one", "[bench]") {
  auto gen = t::generator(4);
  const auto a = torch::randn({64, 32}, gen, t::options<float>());
  const auto b = torch::randn({48, 32}, gen, t::options<float>()).t();  // a transposed layout
  const auto x = torch::randn({1, 2, 8, 8}, gen, t::options<float>()).requires_grad_();
  const auto w = torch::randn({3, 2, 3, 3}, gen, t::options<float>()).requires_grad_();
  const auto census = take_op_census([&] {
    for (int i = 0; i < 3; ++i) torch::mm(a, b);
    torch::conv2d(x, w).sum().backward();
  });
  REQUIRE(calls_of(census, "aten::mm") == 3);
  CHECK(census.ops.size() == 3);  // one mm layout, the convolution and its backward
  const double seconds = gpm::runner::replay_seconds(census, 0.001);
  CHECK(seconds > 0);
  CHECK(std::isfinite(seconds));
  // Nothing of the work itself is counted when no operation ran.
  CHECK(take_op_census([] {}).ops.empty());
}
