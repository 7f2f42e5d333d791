// landmark (docs/patterns.md): m landmark keys/values per (batch, kv head) from contiguous segment means, refined by t
// rounds of k-means on K (fp32 squared distances, ties to the lower centroid, empty clusters keep their centroid and
// give a zero value). Queries then attend densely to the landmarks.
#include <algorithm>
#include <cmath>

#include "core/parallel.hpp"
#include "core/tensor_io.hpp"
#include "layout/rules.hpp"

namespace sattn {
namespace {

struct HeadData {
  const float* keys;  // [Lk, D]
  const float* values;
  float* out_keys;  // [m, D]
  float* out_values;
};

void segment_means(const float* rows, int64_t count, int64_t dim, int64_t m, float* out) {
  for (int64_t s = 0; s < m; ++s) {
    const int64_t first = s * count / m, last = (s + 1) * count / m;
    float* mean = out + s * dim;
    std::fill(mean, mean + dim, 0.0f);
    for (int64_t r = first; r < last; ++r)
      for (int64_t d = 0; d < dim; ++d) mean[d] += rows[r * dim + d];
    for (int64_t d = 0; d < dim; ++d) mean[d] /= static_cast<float>(last - first);
  }
}

// The nearest centroid of every key: squared distances in fp32, each square rounded before it is added in increasing
// d, ties to the lower centroid (NaN never nearest). The centroids are transposed to [D][m] so that the m distances
// of a key grow side by side, a vector of centroids per instruction: each centroid's own sum keeps its order, so this
// is the scalar definition, vectorised (what the core's baseline x86-64 build can: SSE2, four centroids at once).
void assign_nearest(const float* keys, int64_t count, const float* centroids, int64_t m, int64_t dim,
                    std::vector<int64_t>& assignment) {
  std::vector<float> transposed(static_cast<size_t>(m * dim)), distance(static_cast<size_t>(m));
  for (int64_t c = 0; c < m; ++c)
    for (int64_t d = 0; d < dim; ++d) transposed[static_cast<size_t>(d * m + c)] = centroids[c * dim + d];
  for (int64_t j = 0; j < count; ++j) {
    std::fill(distance.begin(), distance.end(), 0.0f);
    for (int64_t d = 0; d < dim; ++d) {
      const float x = keys[j * dim + d];
      const float* column = &transposed[static_cast<size_t>(d * m)];
      float* out = distance.data();
      for (int64_t c = 0; c < m; ++c) {
        const float diff = x - column[c];
        const float square = diff * diff;  // rounded before it is added (docs/patterns.md), never fused
        out[c] += square;
      }
    }
    int64_t best = 0;
    float best_distance = __builtin_inff();
    for (int64_t c = 0; c < m; ++c)
      if (distance[static_cast<size_t>(c)] < best_distance) {
        best = c;
        best_distance = distance[static_cast<size_t>(c)];
      }
    assignment[static_cast<size_t>(j)] = best;
  }
}

// Means of rows over the clusters of `assignment`; empty clusters keep `out`'s value when keep_empty, else zero.
void cluster_means(const float* rows, int64_t count, int64_t dim, const std::vector<int64_t>& assignment, int64_t m,
                   bool keep_empty, float* out) {
  std::vector<float> sums(static_cast<size_t>(m * dim), 0.0f);
  std::vector<int64_t> sizes(static_cast<size_t>(m), 0);
  for (int64_t r = 0; r < count; ++r) {
    const int64_t c = assignment[static_cast<size_t>(r)];
    ++sizes[static_cast<size_t>(c)];
    for (int64_t d = 0; d < dim; ++d) sums[static_cast<size_t>(c * dim + d)] += rows[r * dim + d];
  }
  for (int64_t c = 0; c < m; ++c) {
    const int64_t n = sizes[static_cast<size_t>(c)];
    if (n == 0 && keep_empty) continue;
    for (int64_t d = 0; d < dim; ++d)
      out[c * dim + d] = n == 0 ? 0.0f : sums[static_cast<size_t>(c * dim + d)] / static_cast<float>(n);
  }
}

void landmarks_of_head(const HeadData& h, int64_t Lk, int64_t D, int64_t Dv, int64_t m, int64_t iters) {
  segment_means(h.keys, Lk, D, m, h.out_keys);
  if (iters == 0) {
    segment_means(h.values, Lk, Dv, m, h.out_values);
    return;
  }
  std::vector<int64_t> assignment(static_cast<size_t>(Lk));
  for (int64_t t = 0; t < iters; ++t) {
    assign_nearest(h.keys, Lk, h.out_keys, m, D, assignment);
    cluster_means(h.keys, Lk, D, assignment, m, /*keep_empty=*/true, h.out_keys);
  }
  cluster_means(h.values, Lk, Dv, assignment, m, /*keep_empty=*/false, h.out_values);
}

}  // namespace

void compute_landmarks(const SelectionInputs& in, std::vector<float>& keys, std::vector<float>& values) {
  const sattn_attention_desc& d = *in.problem.desc;
  const int64_t m = d.params.num_landmarks, heads = d.batch * d.num_kv_heads;
  std::vector<float> v(static_cast<size_t>(heads * d.kv_len * d.head_dim_v));
  gather_f32(*in.args.v, v.data());
  keys.assign(static_cast<size_t>(heads * m * d.head_dim), 0.0f);
  values.assign(static_cast<size_t>(heads * m * d.head_dim_v), 0.0f);
  parallel_for(heads, in.problem.num_threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t h = begin; h < end; ++h) {
      const HeadData data{
          &in.k[static_cast<size_t>(h * d.kv_len * d.head_dim)], &v[static_cast<size_t>(h * d.kv_len * d.head_dim_v)],
          &keys[static_cast<size_t>(h * m * d.head_dim)], &values[static_cast<size_t>(h * m * d.head_dim_v)]};
      landmarks_of_head(data, d.kv_len, d.head_dim, d.head_dim_v, m, d.params.landmark_iters);
    }
  });
}

}  // namespace sattn
