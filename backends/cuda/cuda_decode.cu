// Decode shapes (flash-decoding): a few query rows against many keys. One query row per thread block would leave
// most SMs idle and read K/V once per query head, so the key tiles of a layout row are split across thread blocks,
// and each block serves every query row of a group of query heads that share one kv head and one layout row (GQA
// reads each K/V tile once for the whole group). Each block writes an unnormalised partial result (its running
// maximum, denominator and P V sum) to the workspace; a second kernel merges the splits of a row by their maxima
// (the log-sum-exp merge) and writes O and LSE. Scores and P V are fp32 on CUDA cores: decode is bound by reading
// K and V, which this kernel does once, coalesced, converting each element as it lands in shared memory.
#include <algorithm>
#include <cmath>

#include "cuda_device.cuh"

namespace sattn_cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kKeys = static_cast<int>(kTileK);  // keys per tile, as the layout is built

struct SharedLayout {
  size_t q, k, v, scores, acc, stats, bytes;  // offsets in floats; bytes in total
};

// K rows padded by one float: the 32 lanes of a warp read 32 different keys of one channel, conflict-free.
__host__ __device__ inline SharedLayout shared_layout(int rows, int64_t head_dim, int64_t head_dim_v) {
  SharedLayout s{};
  s.q = 0;
  s.k = s.q + static_cast<size_t>(rows * head_dim);
  s.v = s.k + static_cast<size_t>(kKeys * (head_dim + 1));
  s.scores = s.v + static_cast<size_t>(kKeys * head_dim_v);
  s.acc = s.scores + static_cast<size_t>(rows * kKeys);
  s.stats = s.acc + static_cast<size_t>(rows * head_dim_v);
  s.bytes = sizeof(float) * (s.stats + static_cast<size_t>(3 * rows));  // max, sum, correction per row
  return s;
}

// Moves a cursor to the tile with the given ordinal in its row (spans are skipped whole).
__device__ inline void skip_tiles(TileCursor& cursor, int64_t count) {
  while (cursor.valid() && count > 0) {
    const int64_t left = cursor.spans[cursor.span].k_end - cursor.tile;
    if (count < left) {
      cursor.tile += count;
      return;
    }
    count -= left;
    cursor.tile += left - 1;
    cursor.advance();
  }
}

__device__ inline int64_t count_tiles(const sattn_layout_view& layout, int64_t row) {
  int64_t tiles = 0;
  for (int64_t s = layout.row_ptr[row]; s < layout.row_ptr[row + 1]; ++s)
    tiles += max(int64_t{0}, int64_t{layout.spans[s].k_end} - layout.spans[s].k_begin);
  return tiles;
}

// grid (splits, batch * head groups). Rows r of a block: query head hq0 + r / q_len, query row r % q_len.
__global__ void __launch_bounds__(kThreads) decode_split_kernel(const KernelParams p, const DecodePlan d) {
  extern __shared__ float shared[];
  const int split = static_cast<int>(blockIdx.x);
  const int64_t groups = p.q_heads / d.heads_per_block;
  const int64_t b = blockIdx.y / groups, hq0 = blockIdx.y % groups * d.heads_per_block;
  const int64_t hk = hq0 / (p.q_heads / p.kv_heads);
  const int rows = static_cast<int>(d.heads_per_block * p.q_len);
  const int D = static_cast<int>(p.head_dim), Dv = static_cast<int>(p.head_dim_v);  // int: no 64-bit divisions below
  const SharedLayout at = shared_layout(rows, D, Dv);
  float* const q_s = shared + at.q;
  float* const k_s = shared + at.k;
  float* const v_s = shared + at.v;
  float* const s_s = shared + at.scores;
  float* const acc_s = shared + at.acc;
  float* const m_s = shared + at.stats;
  float* const l_s = m_s + rows;
  float* const c_s = l_s + rows;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;

  for (int x = tid; x < rows * D; x += kThreads) {
    const int r = x / D, c = x % D;
    const int64_t index = row_offset(p.q, b, hq0 + r / p.q_len, r % p.q_len) + c * p.q.stride[3];
    q_s[x] = sattn_round_to_precision(load_element(p.q.data, index, p.dtype), p.precision);
  }
  for (int x = tid; x < rows * Dv; x += kThreads) acc_s[x] = 0.0f;
  for (int r = tid; r < rows; r += kThreads) m_s[r] = -INFINITY, l_s[r] = 0.0f;

  const int64_t row = sattn_layout_row(&p.layout, b, hq0, 0);
  const int64_t tiles = count_tiles(p.layout, row);
  const int64_t first = tiles * split / d.splits, last = tiles * (split + 1) / d.splits;
  TileCursor cursor = TileCursor::begin(p.layout, row);
  skip_tiles(cursor, first);
  for (int64_t t = first; t < last && cursor.valid(); ++t, cursor.advance()) {
    const sattn_tile_span& span = cursor.current();
    const int64_t k0 = cursor.tile * kKeys;
    const int keys = static_cast<int>(min(int64_t{kKeys}, p.kv_len - k0));
    __syncthreads();  // the previous tile's K, V and probabilities are consumed
    for (int x = tid; x < keys * D; x += kThreads) {
      const int j = x / D, c = x % D;
      const int64_t index = row_offset(p.k, b, hk, k0 + j) + c * p.k.stride[3];
      k_s[j * (D + 1) + c] = sattn_round_to_precision(load_element(p.k.data, index, p.dtype), p.precision);
    }
    for (int x = tid; x < keys * Dv; x += kThreads) {
      const int j = x / Dv, c = x % Dv;
      const int64_t index = row_offset(p.v, b, hk, k0 + j) + c * p.v.stride[3];
      v_s[x] = sattn_round_to_precision(load_element(p.v.data, index, p.dtype), p.precision);
    }
    __syncthreads();

    // Scores in log2 units; masked and missing keys are -inf.
    for (int x = tid; x < rows * kKeys; x += kThreads) {
      const int r = x / kKeys, j = x % kKeys;
      const int64_t hq = hq0 + r / p.q_len, i = r % p.q_len;
      float score = -INFINITY;
      if (j < keys && (span.kind == SATTN_TILE_FULL || tile_keeps(p, span, cursor.tile, b, hq, i, k0 + j))) {
        float dot = 0.0f;
        const float* q_row = q_s + r * D;
        const float* k_row = k_s + j * (D + 1);
        for (int c = 0; c < D; ++c) dot = fmaf(q_row[c], k_row[c], dot);
        score = dot * p.scale_log2;
      }
      s_s[x] = score;
    }
    __syncthreads();

    // Online softmax, one warp per row: the new maximum, the rescale of what came before, the probabilities
    // (rounded to the precision for P V; the denominator sums them unrounded).
    for (int r = warp; r < rows; r += kWarps) {
      float* const s = s_s + r * kKeys;
      float tile_max = fmaxf(s[lane], s[lane + 32]);
      for (int offset = 16; offset > 0; offset /= 2)
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, offset));
      const float m_old = m_s[r], m_new = fmaxf(m_old, tile_max);
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      const float p0 = exp2f(s[lane] - base), p1 = exp2f(s[lane + 32] - base);
      float sum = p0 + p1;
      for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
      s[lane] = sattn_round_to_precision(p0, p.precision);
      s[lane + 32] = sattn_round_to_precision(p1, p.precision);
      __syncwarp();
      if (lane == 0) {
        const float correction = exp2f(m_old - base);  // 0 while nothing was kept (m_old = -inf)
        c_s[r] = correction;
        l_s[r] = l_s[r] * correction + sum;
        m_s[r] = m_new;
      }
    }
    __syncthreads();

    for (int x = tid; x < rows * Dv; x += kThreads) {
      const int r = x / Dv, c = x % Dv;
      const float* probabilities = s_s + r * kKeys;
      float acc = acc_s[x] * c_s[r];
      for (int j = 0; j < keys; ++j) acc = fmaf(probabilities[j], v_s[j * Dv + c], acc);
      acc_s[x] = acc;
    }
  }
  __syncthreads();

  // Partial results: [split][b][hq][i] of (max, sum) and [split][b][hq][i][Dv].
  for (int x = tid; x < rows * Dv; x += kThreads) {
    const int r = x / Dv, c = x % Dv;
    const int64_t out_row = ((split * p.batch + b) * p.q_heads + hq0 + r / p.q_len) * p.q_len + r % p.q_len;
    d.partial_o[out_row * Dv + c] = acc_s[x];
  }
  for (int r = tid; r < rows; r += kThreads) {
    const int64_t out_row = ((split * p.batch + b) * p.q_heads + hq0 + r / p.q_len) * p.q_len + r % p.q_len;
    d.partial_stats[2 * out_row] = m_s[r];
    d.partial_stats[2 * out_row + 1] = l_s[r];
  }
}

// One block per query row: the log-sum-exp merge of its splits.
__global__ void __launch_bounds__(kThreads) decode_merge_kernel(const KernelParams p, const DecodePlan d) {
  const int64_t out_row = blockIdx.x;  // (b * q_heads + hq) * q_len + i
  const int64_t rows_per_split = p.batch * p.q_heads * p.q_len;
  const int64_t i = out_row % p.q_len, hq = out_row / p.q_len % p.q_heads, b = out_row / (p.q_len * p.q_heads);
  float m = -INFINITY;
  for (int s = 0; s < d.splits; ++s) m = fmaxf(m, d.partial_stats[2 * (s * rows_per_split + out_row)]);
  const float base = m == -INFINITY ? 0.0f : m;
  float l = 0.0f;
  for (int s = 0; s < d.splits; ++s) {
    const float* stats = d.partial_stats + 2 * (s * rows_per_split + out_row);
    l += stats[1] * exp2f(stats[0] - base);
  }
  const float inverse = l > 0.0f ? 1.0f / l : 0.0f;  // a row without keys writes zeros
  for (int64_t c = threadIdx.x; c < p.head_dim_v; c += kThreads) {
    float sum = 0.0f;
    for (int s = 0; s < d.splits; ++s) {
      const int64_t r = s * rows_per_split + out_row;
      sum += d.partial_o[r * p.head_dim_v + c] * exp2f(d.partial_stats[2 * r] - base);
    }
    store_element(p.o.data, row_offset(p.o, b, hq, i) + c * p.o.stride[3], p.dtype, sum * inverse);
  }
  if (p.lse != nullptr && threadIdx.x == 0)
    p.lse[b * p.lse_stride[0] + hq * p.lse_stride[1] + i * p.lse_stride[2]] =
        l > 0.0f ? (m + log2f(l)) * 0.69314718055994531f : -INFINITY;
}

}  // namespace

DecodePlan plan_decode(const sattn_attention_desc& desc, const sattn_layout_view& layout, int multiprocessors) {
  DecodePlan d{};
  if (desc.q_len > kDecodeMaxQueries || desc.q_len == 0 || layout.tile_k != kTileK || layout.tile_q < desc.q_len ||
      desc.head_dim > kMaxDecodeHeadDim || desc.head_dim_v > kMaxDecodeHeadDim)
    return d;
  // The query heads of one kv head share a block when they share their layout row (a layout per query head does
  // not) and their rows fit the block.
  const int64_t group = desc.num_q_heads / desc.num_kv_heads;
  int64_t heads = layout.heads == 1 || layout.head_divisor % group == 0 ? group : 1;
  while (heads > 1 && (heads * desc.q_len > kMaxDecodeRows || group % heads != 0)) --heads;
  d.heads_per_block = heads;
  const int64_t blocks = desc.batch * (desc.num_q_heads / heads);
  if (blocks > 65535) return DecodePlan{};
  // Enough splits for about two blocks per SM, never more than the key tiles.
  const int64_t wanted = (2 * int64_t{multiprocessors} + blocks - 1) / blocks;
  d.splits = static_cast<int>(std::min<int64_t>({wanted, layout.num_k_tiles, kMaxDecodeSplits}));
  if (d.splits < 1) d.splits = 1;
  d.shared_bytes = shared_layout(static_cast<int>(heads * desc.q_len), desc.head_dim, desc.head_dim_v).bytes;
  return d;
}

int launch_decode(const KernelParams& p, const DecodePlan& d, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const dim3 grid(static_cast<unsigned>(d.splits), static_cast<unsigned>(p.batch * (p.q_heads / d.heads_per_block)));
  decode_split_kernel<<<grid, kThreads, d.shared_bytes, s>>>(p, d);
  if (const cudaError_t error = cudaGetLastError(); error != cudaSuccess) return error;
  const int64_t rows = p.batch * p.q_heads * p.q_len;
  if (rows > 0x7fffffff) return cudaErrorInvalidConfiguration;
  decode_merge_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(p, d);
  return cudaGetLastError();
}

int prepare_decode() {
  return cudaFuncSetAttribute(
      decode_split_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
      static_cast<int>(shared_layout(static_cast<int>(kMaxDecodeRows), kMaxDecodeHeadDim, kMaxDecodeHeadDim).bytes));
}

}  // namespace sattn_cuda
