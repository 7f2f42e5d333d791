// landmark: the keys of one (batch, kv head) are summarised by m landmarks: segment means, optionally refined by t
// rounds of k-means on K. Assignments are decided in fp32 (as the library must, to agree on near-ties); the landmark
// keys and values that the attention then uses are exact float64 means of each final cluster.
#include "detail.hpp"

#include <limits>
#include <stdexcept>

namespace sattn_ref::detail {
namespace {

// Squared Euclidean distance in fp32, accumulated in increasing d order.
float squared_distance_f32(std::span<const float> a, std::span<const float> b) {
  float acc = 0.0f;
  for (size_t d = 0; d < a.size(); ++d) {
    const float difference = a[d] - b[d];
    acc += difference * difference;
  }
  return acc;
}

// Segment s = [floor(s*Lk/m), floor((s+1)*Lk/m)): the starting clusters.
std::vector<int64_t> segment_assignment(int64_t keys, int64_t m) {
  std::vector<int64_t> cluster_of(static_cast<size_t>(keys));
  for (int64_t s = 0; s < m; ++s)
    for (int64_t j = s * keys / m; j < (s + 1) * keys / m; ++j) cluster_of[static_cast<size_t>(j)] = s;
  return cluster_of;
}

// fp32 centroids of the clusters (sum in key order, then one division); an empty cluster keeps its old centroid.
void update_centroids(const InputRows& rows, int64_t b, int64_t hk, const std::vector<int64_t>& cluster_of,
                      std::vector<std::vector<float>>& centroids) {
  const size_t m = centroids.size();
  std::vector<std::vector<float>> sums(m, std::vector<float>(static_cast<size_t>(rows.shape.D), 0.0f));
  std::vector<int64_t> counts(m, 0);
  for (int64_t j = 0; j < rows.shape.Lk; ++j) {
    const size_t cluster = static_cast<size_t>(cluster_of[static_cast<size_t>(j)]);
    std::span<const float> key = rows.k(b, hk, j);
    for (size_t d = 0; d < key.size(); ++d) sums[cluster][d] += key[d];
    ++counts[cluster];
  }
  for (size_t c = 0; c < m; ++c) {
    if (counts[c] == 0) continue;
    for (size_t d = 0; d < sums[c].size(); ++d) centroids[c][d] = sums[c][d] / static_cast<float>(counts[c]);
  }
}

// Each key goes to its nearest centroid, ties to the lower centroid.
std::vector<int64_t> nearest_centroids(const InputRows& rows, int64_t b, int64_t hk,
                                       const std::vector<std::vector<float>>& centroids) {
  std::vector<int64_t> cluster_of(static_cast<size_t>(rows.shape.Lk));
  for (int64_t j = 0; j < rows.shape.Lk; ++j) {
    float best_distance = std::numeric_limits<float>::infinity();
    int64_t best = 0;
    for (size_t c = 0; c < centroids.size(); ++c) {
      const float distance = squared_distance_f32(rows.k(b, hk, j), centroids[c]);
      if (distance < best_distance) {
        best_distance = distance;
        best = static_cast<int64_t>(c);
      }
    }
    cluster_of[static_cast<size_t>(j)] = best;
  }
  return cluster_of;
}

}  // namespace

Landmarks landmarks(const Problem& problem, const Inputs& inputs, const Shape& shape, int64_t b, int64_t hk) {
  const int64_t m = problem.params.num_landmarks;
  const int64_t iterations = problem.params.landmark_iters;
  if (problem.causal) throw std::invalid_argument("sattn_ref: landmark is not defined with causal");
  if (m <= 0 || m > shape.Lk) throw std::invalid_argument("sattn_ref: landmark needs 0 < num_landmarks <= Lk");
  if (iterations < 0) throw std::invalid_argument("sattn_ref: landmark_iters must be >= 0");
  const InputRows rows{shape, inputs};

  std::vector<int64_t> cluster_of = segment_assignment(shape.Lk, m);
  std::vector<std::vector<float>> centroids(static_cast<size_t>(m), std::vector<float>(static_cast<size_t>(shape.D)));
  update_centroids(rows, b, hk, cluster_of, centroids);
  for (int64_t round = 0; round < iterations; ++round) {
    cluster_of = nearest_centroids(rows, b, hk, centroids);
    update_centroids(rows, b, hk, cluster_of, centroids);
  }

  // Exact means of the final clusters; an empty cluster keeps its (fp32) centroid and has a zero value.
  Landmarks result{std::vector<double>(static_cast<size_t>(m * shape.D), 0.0),
                   std::vector<double>(static_cast<size_t>(m * shape.Dv), 0.0)};
  std::vector<int64_t> counts(static_cast<size_t>(m), 0);
  for (int64_t j = 0; j < shape.Lk; ++j) {
    const int64_t c = cluster_of[static_cast<size_t>(j)];
    ++counts[static_cast<size_t>(c)];
    std::span<const float> key = rows.k(b, hk, j);
    std::span<const float> value = rows.v(b, hk, j);
    for (int64_t d = 0; d < shape.D; ++d) result.keys[static_cast<size_t>(c * shape.D + d)] += key[static_cast<size_t>(d)];
    for (int64_t d = 0; d < shape.Dv; ++d)
      result.values[static_cast<size_t>(c * shape.Dv + d)] += value[static_cast<size_t>(d)];
  }
  for (int64_t c = 0; c < m; ++c) {
    const double count = static_cast<double>(counts[static_cast<size_t>(c)]);
    for (int64_t d = 0; d < shape.D; ++d) {
      double& key = result.keys[static_cast<size_t>(c * shape.D + d)];
      key = count > 0 ? key / count : static_cast<double>(centroids[static_cast<size_t>(c)][static_cast<size_t>(d)]);
    }
    if (count > 0)
      for (int64_t d = 0; d < shape.Dv; ++d) result.values[static_cast<size_t>(c * shape.Dv + d)] /= count;
  }
  return result;
}

}  // namespace sattn_ref::detail
