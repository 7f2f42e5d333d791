// landmark on the device (docs/patterns.md): per (batch, kv head) the m landmark keys are the fp32 segment means of
// K refined by landmark_iters rounds of k-means, the landmark values the means of V over the final clusters (the
// segments without k-means), computed exactly as the core's landmarks.cpp does: sums in row order, one division by
// the count, squared distances accumulated in channel order without fused multiply-add, ties to the lower centroid.
// Every query then attends to all m landmarks through the generic kernel, which reads them as fp32 (kv_dtype) and
// rounds them to the plan's precision like any K and V.
//
// Workspace: fp32 landmark keys [B, Hk, m, D] and values [B, Hk, m, Dv], one int32 cluster per key [B, Hk, Lk], and a
// dense layout over the m landmarks (its rule, num_q_tiles + 1 row pointers and num_q_tiles FULL spans).
//
// Cost: a cluster mean is one thread per (head, centroid, channel) scanning the head's Lk assignments, so k-means
// costs O(t * Lk * m * (D + Dv)) per head on the GPU -- no atomics, so the sums keep the core's row order.
#include <algorithm>

#include "cuda_select_common.cuh"
#include "cuda_select_rows.hpp"

namespace sattn_cuda {
namespace {

constexpr int kThreads = 256;

struct LandmarkBuffers {
  float* keys;
  float* values;
  int32_t* assignment;
  sattn_element_rule* rule;
  int64_t* row_ptr;
  sattn_tile_span* spans;
};

LandmarkBuffers carve_landmarks(const Plan& plan, WorkspaceCarver& carver) {
  const sattn_attention_desc& d = plan.desc;
  const int64_t heads = d.batch * d.num_kv_heads, m = d.params.num_landmarks;
  const int64_t q_tiles = (d.q_len + kTileQ - 1) / kTileQ;
  LandmarkBuffers w{};
  w.keys = carver.take<float>(static_cast<size_t>(heads * m * d.head_dim));
  w.values = carver.take<float>(static_cast<size_t>(heads * m * d.head_dim_v));
  w.assignment = carver.take<int32_t>(static_cast<size_t>(heads * d.kv_len));
  w.rule = carver.take<sattn_element_rule>(1);
  w.row_ptr = carver.take<int64_t>(static_cast<size_t>(q_tiles + 1));
  w.spans = carver.take<sattn_tile_span>(static_cast<size_t>(q_tiles));
  return w;
}

// out[bh][s][c] = mean of rows [floor(s * len / m), floor((s + 1) * len / m)) of channel c.
__global__ void segment_means_kernel(const Operand x, int32_t dtype, int64_t heads, int64_t len, int64_t dim, int64_t m,
                                     int64_t count, float* out) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= count) return;
  const int64_t c = t % dim, s = t / dim % m, bh = t / (dim * m);
  const int64_t b = bh / heads, h = bh % heads;
  const int64_t first = s * len / m, last = (s + 1) * len / m;
  float sum = 0.0f;
  for (int64_t r = first; r < last; ++r)
    sum = __fadd_rn(sum, load_element(x.data, row_offset(x, b, h, r) + c * x.stride[3], dtype));
  out[t] = __fdiv_rn(sum, static_cast<float>(last - first));
}

// assignment[bh][j] = the nearest centroid of key j (squared Euclidean distance, ties to the lower centroid; a key
// whose distances are all NaN goes to centroid 0, as in the core).
__global__ void assign_kernel(const Operand k, int32_t dtype, int64_t heads, int64_t len, int64_t dim, int64_t m,
                              int64_t count, const float* centroids, int32_t* assignment) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= count) return;
  const int64_t j = t % len, bh = t / len, b = bh / heads, h = bh % heads;
  const int64_t row = row_offset(k, b, h, j);
  const float* head_centroids = centroids + bh * m * dim;
  int32_t best = 0;
  float best_distance = INFINITY;
  for (int64_t c = 0; c < m; ++c) {
    float distance = 0.0f;
    for (int64_t x = 0; x < dim; ++x) {
      const float diff = __fsub_rn(load_element(k.data, row + x * k.stride[3], dtype), head_centroids[c * dim + x]);
      distance = __fadd_rn(distance, __fmul_rn(diff, diff));
    }
    if (distance < best_distance) {
      best = static_cast<int32_t>(c);
      best_distance = distance;
    }
  }
  assignment[t] = best;
}

// out[bh][c][x] = the mean of channel x over the rows assigned to cluster c, in row order; an empty cluster keeps
// out's value (keys) or gets zero (values).
__global__ void cluster_means_kernel(const Operand rows, int32_t dtype, int64_t heads, int64_t len, int64_t dim,
                                     int64_t m, int64_t count, const int32_t* assignment, bool keep_empty, float* out) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= count) return;
  const int64_t x = t % dim, c = t / dim % m, bh = t / (dim * m), b = bh / heads, h = bh % heads;
  const int32_t* clusters = assignment + bh * len;
  float sum = 0.0f;
  int64_t members = 0;
  for (int64_t r = 0; r < len; ++r) {
    if (clusters[r] != c) continue;
    sum = __fadd_rn(sum, load_element(rows.data, row_offset(rows, b, h, r) + x * rows.stride[3], dtype));
    ++members;
  }
  if (members == 0) {
    if (!keep_empty) out[t] = 0.0f;
    return;
  }
  out[t] = __fdiv_rn(sum, static_cast<float>(members));
}

// The dense layout over the landmarks: every query tile keeps every landmark tile, under a rule without causal.
__global__ void landmark_layout_kernel(sattn_element_rule rule, int64_t q_tiles, int64_t k_tiles,
                                       sattn_element_rule* rule_out, int64_t* row_ptr, sattn_tile_span* spans) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r == 0) *rule_out = rule;
  if (r > q_tiles) return;
  row_ptr[r] = r;
  if (r < q_tiles) spans[r] = sattn_tile_span{0, static_cast<int32_t>(k_tiles), SATTN_TILE_FULL, 0, 0};
}

std::string refuse_landmark(const sattn_problem& problem) {
  const sattn_attention_desc& d = *problem.desc;
  if ((d.flags & SATTN_FLAG_CAUSAL) != 0) return "landmark: causal is not defined for landmark attention";
  if (d.params.num_landmarks < 1 || d.params.num_landmarks > d.kv_len)
    return "landmark: num_landmarks " + std::to_string(d.params.num_landmarks) + " is not in [1, kv_len " +
           std::to_string(d.kv_len) + "]";
  if (d.kv_len > 0x7fffffff) return "landmark: kv_len " + std::to_string(d.kv_len) + " exceeds 2^31 - 1";
  return {};
}

void carve(const Plan& plan, WorkspaceCarver& carver) { (void)carve_landmarks(plan, carver); }

int run(const Plan& plan, const sattn_run_args& args, KernelParams& params, void* workspace, void* stream) {
  (void)args;
  const sattn_attention_desc& d = plan.desc;
  WorkspaceCarver carver(workspace);
  const LandmarkBuffers w = carve_landmarks(plan, carver);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t heads = d.batch * d.num_kv_heads, m = d.params.num_landmarks, Hk = d.num_kv_heads;
  const int64_t key_count = heads * m * d.head_dim, value_count = heads * m * d.head_dim_v;
  const int64_t q_tiles = (d.q_len + kTileQ - 1) / kTileQ, k_tiles = (m + kTileK - 1) / kTileK;
  if (key_count > 0)
    segment_means_kernel<<<blocks_for(key_count, kThreads), kThreads, 0, s>>>(params.k, params.dtype, Hk, d.kv_len,
                                                                              d.head_dim, m, key_count, w.keys);
  for (int64_t t = 0; t < d.params.landmark_iters && heads * d.kv_len > 0; ++t) {
    assign_kernel<<<blocks_for(heads * d.kv_len, kThreads), kThreads, 0, s>>>(
        params.k, params.dtype, Hk, d.kv_len, d.head_dim, m, heads * d.kv_len, w.keys, w.assignment);
    if (key_count > 0)
      cluster_means_kernel<<<blocks_for(key_count, kThreads), kThreads, 0, s>>>(
          params.k, params.dtype, Hk, d.kv_len, d.head_dim, m, key_count, w.assignment, true, w.keys);
  }
  if (value_count > 0) {
    if (d.params.landmark_iters == 0)
      segment_means_kernel<<<blocks_for(value_count, kThreads), kThreads, 0, s>>>(
          params.v, params.dtype, Hk, d.kv_len, d.head_dim_v, m, value_count, w.values);
    else
      cluster_means_kernel<<<blocks_for(value_count, kThreads), kThreads, 0, s>>>(
          params.v, params.dtype, Hk, d.kv_len, d.head_dim_v, m, value_count, w.assignment, false, w.values);
  }
  sattn_element_rule rule{};
  rule.struct_size = sizeof rule;
  rule.kind = SATTN_RULE_NONE;
  rule.kv_len = m;
  rule.dilation = 1;
  landmark_layout_kernel<<<blocks_for(q_tiles + 1, kThreads), kThreads, 0, s>>>(rule, q_tiles, k_tiles, w.rule,
                                                                                w.row_ptr, w.spans);
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return error;
  // The landmarks as the K and V of a dense problem of m keys per (batch, kv head).
  params.k = Operand{w.keys, {Hk * m * d.head_dim, m * d.head_dim, d.head_dim, 1}};
  params.v = Operand{w.values, {Hk * m * d.head_dim_v, m * d.head_dim_v, d.head_dim_v, 1}};
  params.kv_dtype = SATTN_DTYPE_F32;
  params.kv_len = m;
  params.layout.rule = w.rule;
  params.layout.kv_len = m;
  params.layout.num_k_tiles = k_tiles;
  params.layout.batches = 1;
  params.layout.heads = 1;
  params.layout.head_divisor = 1;
  params.layout.row_ptr = w.row_ptr;
  params.layout.spans = w.spans;
  params.layout.num_spans = q_tiles;
  return attend(params, stream);
}

const SelectionFamily kLandmarkFamily{refuse_landmark, carve, run};

}  // namespace

const SelectionFamily* landmark_family() { return &kLandmarkFamily; }

}  // namespace sattn_cuda
