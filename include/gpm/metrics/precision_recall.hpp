// Improved precision and recall (Kynkäänniemi et al. 2019): each sample set's manifold is the union
// of balls around its points reaching their k-th nearest neighbour; precision is the share of
// generated samples inside the real manifold, recall the share of real samples inside the generated
// one. ALGORITHMS.md 6.6.
#pragma once

#include <algorithm>
#include <cstdint>

#include <torch/types.h>

#include "gpm/core/errors.hpp"
#include "gpm/core/pair_sums.hpp"
#include "gpm/core/tensor_ops.hpp"
#include "gpm/metrics/sample_sets.hpp"

namespace gpm::metrics {

/// The result of precision_recall, both in [0, 1].
struct PrecisionRecall {
  /// Share of generated samples inside the real manifold (fidelity).
  double precision = 0.0;
  /// Share of real samples inside the generated manifold (diversity).
  double recall = 0.0;
};

/// The squared k-NN radii r_k(x_i)² [N] of the rows of x [N, D] (N > k >= 1): the squared distance
/// from x_i to its k-th nearest neighbour among the other rows (a duplicate of x_i counts, at
/// distance 0). Float64, in blocks of rows (memory O(N)).
/// Example: `auto radii2 = gpm::metrics::squared_knn_radii(real_features, 3);`
inline torch::Tensor squared_knn_radii(const torch::Tensor& x, int64_t k) {
  torch::NoGradGuard no_grad;
  GPM_CHECK(k >= 1, "squared_knn_radii: k must be >= 1, got {}", k);
  const auto a = detail::sample_set(x, "squared_knn_radii", "x", k + 1);
  const int64_t n = a.size(0), rows = std::max<int64_t>(1, gpm::detail::block_entries(a) / n);
  auto radii = torch::empty({n}, a.options());
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t count = std::min(rows, n - start);
    auto squared = pairwise_squared_distances(a.narrow(0, start, count), a);
    // Each row's own point sits at distance 0 (set exactly: rounding may leave it slightly
    // positive), so the (k + 1)-th smallest value is the k-th neighbour among the others.
    squared.narrow(1, start, count).fill_diagonal_(0.0);
    radii.narrow(0, start, count).copy_(std::get<0>(squared.kthvalue(k + 1, 1)));
  }
  return radii;
}

/// Which rows of `points` [M, D] lie in the manifold of `reference` [N, D] with squared radii
/// `squared_radii` [N]: inside(p) = 1 when ‖p − r_j‖² <= radii_j² for some j. A bool tensor [M].
/// Example: `auto inside = gpm::metrics::inside_manifold(generated, real, squared_knn_radii(real, 3));`
inline torch::Tensor inside_manifold(const torch::Tensor& points, const torch::Tensor& reference,
                                     const torch::Tensor& squared_radii) {
  torch::NoGradGuard no_grad;
  const auto [p, r] = detail::sample_pair(points, reference, "inside_manifold", 1);
  GPM_CHECK(squared_radii.defined() && squared_radii.dim() == 1 && squared_radii.size(0) == r.size(0),
            "inside_manifold: squared_radii has shape {}, expected one radius per reference point [{}]",
            squared_radii.defined() ? shape_string(squared_radii) : "undefined", r.size(0));
  const auto radii2 = squared_radii.to(r.device(), torch::kFloat64).unsqueeze(0);
  const int64_t m = p.size(0), rows = std::max<int64_t>(1, gpm::detail::block_entries(p) / r.size(0));
  auto inside = torch::empty({m}, p.options().dtype(torch::kBool));
  for (int64_t start = 0; start < m; start += rows) {
    const int64_t count = std::min(rows, m - start);
    inside.narrow(0, start, count).copy_(pairwise_squared_distances(p.narrow(0, start, count), r).le(radii2).any(1));
  }
  return inside;
}

/// precision = mean over generated y of inside(y, real manifold), recall = mean over real x of
/// inside(x, generated manifold), with k-NN radii (k = 3 by default, as the paper). real [m, D] and
/// generated [n, D] need more than k points each. Identical sets give 1 and 1; sets far apart 0 and 0.
/// Example: `auto pr = gpm::metrics::precision_recall(real_features, generated_features);`
inline PrecisionRecall precision_recall(const torch::Tensor& real, const torch::Tensor& generated, int64_t k = 3) {
  GPM_CHECK(k >= 1, "precision_recall: k must be >= 1, got {}", k);
  const auto [x, y] = detail::sample_pair(real, generated, "precision_recall", k + 1);
  PrecisionRecall result;
  result.precision = inside_manifold(y, x, squared_knn_radii(x, k)).to(torch::kFloat64).mean().item<double>();
  result.recall = inside_manifold(x, y, squared_knn_radii(y, k)).to(torch::kFloat64).mean().item<double>();
  return result;
}

}  // namespace gpm::metrics
