// Decode shapes (flash-decoding): a few query rows against many keys. One query row per thread block would leave
// most SMs idle and read K/V once per query head, so the key tiles of a layout row are split across thread blocks,
// and each block serves every query row of a group of query heads that share one kv head and one layout row (GQA
// reads each K/V tile once for the whole group). Each block writes an unnormalised partial result (its running
// maximum, denominator and P V sum) to the workspace; a second kernel merges the splits of a row by their maxima
// (the log-sum-exp merge) and writes O and LSE. Scores and P V are fp32 on CUDA cores: decode is bound by reading
// K and V, which this kernel does once, coalesced, converting each element as it lands in shared memory.
#include <algorithm>
#include <cmath>

#include <cuda_fp16.h>

#include "cuda_device.cuh"

namespace sattn_cuda {
namespace {

// 8 warps a block, 3 blocks an SM (the shared memory of head dim 128 allows 3): decode waits on loads, so it needs
// warps in flight more than registers.
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kBlocksPerSm = 3;
constexpr int kKeys = static_cast<int>(kTileK);  // keys per tile, as the layout is built

struct SharedLayout {
  size_t q, k, v, scores, acc, stats, bytes;  // offsets in floats; bytes in total
};

// K rows are padded so that the 32 lanes of a warp, reading 32 different keys at one channel, hit different banks:
// by 4 floats where head_dim % 4 == 0 (16-byte reads of 4 channels, 8 lanes per phase), else by 1.
__host__ __device__ inline int64_t key_stride(int64_t head_dim) {
  return head_dim % 4 == 0 ? head_dim + 4 : head_dim + 1;
}

// Every region starts at a multiple of 4 floats, for 16-byte reads.
__host__ __device__ inline SharedLayout shared_layout(int rows, int64_t head_dim, int64_t head_dim_v) {
  const auto round4 = [](size_t n) { return (n + 3) / 4 * 4; };
  SharedLayout s{};
  s.q = 0;
  s.k = round4(s.q + static_cast<size_t>(rows * head_dim));
  s.v = round4(s.k + static_cast<size_t>(kKeys * key_stride(head_dim)));
  s.scores = round4(s.v + static_cast<size_t>(kKeys * head_dim_v));
  s.acc = round4(s.scores + static_cast<size_t>(rows * kKeys));
  s.stats = round4(s.acc + static_cast<size_t>(rows * head_dim_v));
  s.bytes = sizeof(float) * (s.stats + static_cast<size_t>(3 * rows));  // max, sum, correction per row
  return s;
}

// Whether rows of the operand can be read in 16-byte pieces of `cols` elements.
bool vector_rows(const Operand& t, int32_t dtype, int64_t cols) {
  const int64_t per = dtype == SATTN_DTYPE_F32 ? 4 : 8;
  return reinterpret_cast<uintptr_t>(t.data) % 16 == 0 && t.stride[3] == 1 && t.stride[0] % per == 0 &&
         t.stride[1] % per == 0 && t.stride[2] % per == 0 && cols % per == 0;
}

// 8 bf16/f16 or 4 f32 values of a 16-byte piece as floats, rounded to the precision only where that changes them.
__device__ inline void widen(const uint4& raw, int32_t dtype, int32_t precision, bool round, float* out) {
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
  if (dtype == SATTN_DTYPE_F32) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float value = __uint_as_float(words[e]);
      out[e] = round ? sattn_round_to_precision(value, precision) : value;
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    const uint32_t bits = (words[e / 2] >> (16 * (e % 2))) & 0xffffu;
    const float value = dtype == SATTN_DTYPE_BF16 ? __uint_as_float(bits << 16)
                                                  : __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
    out[e] = round ? sattn_round_to_precision(value, precision) : value;
  }
}

// Copies rows [row0, row0 + rows) of head (b, h) of an operand, `cols` elements each, into shared memory as floats
// rounded to the precision (row stride dst_stride). With `vector`, 16-byte loads, four in flight per thread: decode
// is bound by these reads.
__device__ inline void load_rows(float* dst, int dst_stride, const Operand& t, int64_t b, int64_t h, int64_t row0,
                                 int rows, int cols, int32_t dtype, int32_t precision, bool vector, bool round) {
  const int tid = static_cast<int>(threadIdx.x);
  if (!vector) {
    for (int x = tid; x < rows * cols; x += kThreads) {
      const int r = x / cols, c = x % cols;
      const int64_t index = row_offset(t, b, h, row0 + r) + c * t.stride[3];
      dst[r * dst_stride + c] = sattn_round_to_precision(load_element(t.data, index, dtype), precision);
    }
    return;
  }
  const int per = dtype == SATTN_DTYPE_F32 ? 4 : 8, element = dtype == SATTN_DTYPE_F32 ? 4 : 2;
  const int chunks = cols / per, total = rows * chunks;
  const char* base = static_cast<const char*>(t.data);
  constexpr int kInFlight = 4;
  for (int x0 = tid; x0 < total; x0 += kInFlight * kThreads) {
    uint4 raw[kInFlight];
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int x = x0 + u * kThreads;
      if (x < total)
        raw[u] = *reinterpret_cast<const uint4*>(base +
                                                 (row_offset(t, b, h, row0 + x / chunks) + x % chunks * per) * element);
    }
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int x = x0 + u * kThreads;
      if (x >= total) continue;
      float values[8];
      widen(raw[u], dtype, precision, round, values);
      float* out = dst + x / chunks * dst_stride + x % chunks * per;
      if (per == 8) {
#pragma unroll
        for (int e = 0; e < 8; ++e) out[e] = values[e];
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) out[e] = values[e];
      }
    }
  }
}

// grid (splits, batch * head groups). Rows r of a block: query head hq0 + r / q_len, query row r % q_len.
__global__ void __launch_bounds__(kThreads, kBlocksPerSm)
    decode_split_kernel(const KernelParams p, const DecodePlan d) {
  extern __shared__ __align__(16) float shared[];
  const int split = static_cast<int>(blockIdx.x);
  const int64_t groups = p.q_heads / d.heads_per_block;
  const int64_t b = blockIdx.y / groups, hq0 = blockIdx.y % groups * d.heads_per_block;
  const int64_t hk = hq0 / (p.q_heads / p.kv_heads);
  const int rows = static_cast<int>(d.heads_per_block * p.q_len);
  const int D = static_cast<int>(p.head_dim), Dv = static_cast<int>(p.head_dim_v);  // int: no 64-bit divisions below
  const int Ks = static_cast<int>(key_stride(D));
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

  for (int r = 0; r < rows; r += static_cast<int>(p.q_len))  // one query head's rows at a time
    load_rows(q_s + r * D, D, p.q, b, hq0 + r / p.q_len, 0, static_cast<int>(p.q_len), D, p.dtype, p.precision,
              d.vector_q, d.round_inputs);
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
    load_rows(k_s, Ks, p.k, b, hk, k0, keys, D, p.dtype, p.precision, d.vector_k, d.round_inputs);
    load_rows(v_s, Dv, p.v, b, hk, k0, keys, Dv, p.dtype, p.precision, d.vector_v, d.round_inputs);
    __syncthreads();

    // Scores in log2 units; masked and missing keys are -inf.
    for (int x = tid; x < rows * kKeys; x += kThreads) {
      const int r = x / kKeys, j = x % kKeys;
      const int64_t hq = hq0 + r / p.q_len, i = r % p.q_len;
      float score = -INFINITY;
      if (j < keys && (span.kind == SATTN_TILE_FULL || tile_keeps(p, span, cursor.tile, b, hq, i, k0 + j))) {
        float dot = 0.0f;
        const float* q_row = q_s + r * D;
        const float* k_row = k_s + j * Ks;
        if (D % 4 == 0) {  // 16-byte shared-memory reads: a quarter of the load instructions
          for (int c = 0; c < D; c += 4) {
            const float4 a = *reinterpret_cast<const float4*>(q_row + c);
            const float4 k4 = *reinterpret_cast<const float4*>(k_row + c);
            dot = fmaf(a.x, k4.x, dot), dot = fmaf(a.y, k4.y, dot), dot = fmaf(a.z, k4.z, dot);
            dot = fmaf(a.w, k4.w, dot);
          }
        } else {
          for (int c = 0; c < D; ++c) dot = fmaf(q_row[c], k_row[c], dot);
        }
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

    if (Dv % 4 == 0) {  // four channels per thread, 16-byte reads of V
      const int quads = Dv / 4;
      for (int x = tid; x < rows * quads; x += kThreads) {
        const int r = x / quads, c = x % quads * 4;
        const float* probabilities = s_s + r * kKeys;
        float4 acc = *reinterpret_cast<float4*>(acc_s + r * Dv + c);
        const float correction = c_s[r];
        acc.x *= correction, acc.y *= correction, acc.z *= correction, acc.w *= correction;
        for (int j = 0; j < keys; ++j) {
          const float pj = probabilities[j];
          const float4 v4 = *reinterpret_cast<const float4*>(v_s + j * Dv + c);
          acc.x = fmaf(pj, v4.x, acc.x), acc.y = fmaf(pj, v4.y, acc.y), acc.z = fmaf(pj, v4.z, acc.z);
          acc.w = fmaf(pj, v4.w, acc.w);
        }
        *reinterpret_cast<float4*>(acc_s + r * Dv + c) = acc;
      }
    } else {
      for (int x = tid; x < rows * Dv; x += kThreads) {
        const int r = x / Dv, c = x % Dv;
        const float* probabilities = s_s + r * kKeys;
        float acc = acc_s[x] * c_s[r];
        for (int j = 0; j < keys; ++j) acc = fmaf(probabilities[j], v_s[j * Dv + c], acc);
        acc_s[x] = acc;
      }
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
  // f16/bf16 at their own precision with head dims 64/128 run on tensor cores (the flash kernel's split mode) where
  // the tensors are aligned at run time; the CUDA-core kernel is the fallback and the path for everything else.
  const bool bf16 = desc.dtype == SATTN_DTYPE_BF16 && desc.precision == SATTN_PRECISION_BF16;
  const bool f16 = desc.dtype == SATTN_DTYPE_F16 && desc.precision == SATTN_PRECISION_FP16;
  const bool tensor_cores = (bf16 || f16) && desc.head_dim == desc.head_dim_v &&
                            (desc.head_dim == 64 || desc.head_dim == 128) && layout.tile_q == kTileQ;
  // The query heads of one kv head share a block when they share their layout row (a layout per query head does
  // not) and their rows fit the block.
  const int64_t group = desc.num_q_heads / desc.num_kv_heads;
  const bool shared_row = layout.heads == 1 || layout.head_divisor % group == 0;
  const auto heads_for = [&](int64_t max_rows) {
    int64_t heads = shared_row ? group : 1;
    while (heads > 1 && (heads * desc.q_len > max_rows || group % heads != 0)) --heads;
    return heads;
  };
  d.heads_per_block = heads_for(kMaxDecodeRows);
  d.tc_heads_per_block = tensor_cores ? heads_for(kTileQ) : 0;
  if (desc.batch * (desc.num_q_heads / d.heads_per_block) > 65535) return DecodePlan{};
  d.shared_bytes =
      shared_layout(static_cast<int>(d.heads_per_block * desc.q_len), desc.head_dim, desc.head_dim_v).bytes;
  // As many splits as fill every SM with resident blocks once (a partial second wave would double the time of the
  // blocks in it), never more than the key tiles.
  int resident = 0;
  if (tensor_cores) {
    resident = flash_split_blocks_per_sm(desc.head_dim, bf16);
  } else if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident, decode_split_kernel, kThreads, d.shared_bytes) !=
                 cudaSuccess ||
             resident < 1) {
    (void)cudaGetLastError();
    resident = 1;
  }
  const int64_t blocks = desc.batch * (desc.num_q_heads / (tensor_cores ? d.tc_heads_per_block : d.heads_per_block));
  const int64_t wanted = std::max<int64_t>(1, int64_t{resident} * multiprocessors / blocks);
  d.splits = static_cast<int>(std::min<int64_t>({wanted, layout.num_k_tiles, kMaxDecodeSplits}));
  if (d.splits < 1) d.splits = 1;
  return d;
}

int launch_decode(const KernelParams& p, const DecodePlan& plan, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  DecodePlan d = plan;
  d.vector_q = vector_rows(p.q, p.dtype, p.head_dim);
  d.vector_k = vector_rows(p.k, p.dtype, p.head_dim);
  d.vector_v = vector_rows(p.v, p.dtype, p.head_dim_v);
  // Rounding to the precision's type changes inputs only when they are wider (f32 tensors, or bf16 <-> f16).
  d.round_inputs =
      !(p.precision == SATTN_PRECISION_FP32 || (p.precision == SATTN_PRECISION_BF16 && p.dtype == SATTN_DTYPE_BF16) ||
        (p.precision == SATTN_PRECISION_FP16 && p.dtype == SATTN_DTYPE_F16));
  if (flash_split_supports(p, d)) {
    if (const int error = launch_flash_split(p, d, stream); error != cudaSuccess) return error;
  } else {
    const dim3 grid(static_cast<unsigned>(d.splits), static_cast<unsigned>(p.batch * (p.q_heads / d.heads_per_block)));
    decode_split_kernel<<<grid, kThreads, d.shared_bytes, s>>>(p, d);
    if (const cudaError_t error = cudaGetLastError(); error != cudaSuccess) return error;
  }
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
