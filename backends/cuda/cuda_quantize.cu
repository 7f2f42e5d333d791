// int8/int4 on the device (docs/patterns.md, "Precisions"): the quantisation of Q, K and V into the workspace, then
// attention on the integers. The arithmetic that decides the integers is float64 as in the contract (and the core,
// src/core/quantize.cpp): the mean key, K - kbar, the scales, x / s rounded half to even. Column reductions run in
// parallel slices combined in a fixed order (max is order-free; the mean's float64 sum differs from the core's
// key-order sum by a rounding of the double at most), so the integers match the reference backend's.
//
// Attention on the integers (head dims other than 64/128; cuda_flash_int8.cu has the tensor-core kernel): one warp
// per query row (like the generic kernel) walks the layout; each score is an
// exact int32 dot product (__dp4a on four int8 lanes at a time) scaled by scale * s_q[i] * s_k[j]; the softmax and
// P V are fp32 (V's integers as floats), and the per-channel V scale and the smoothing's LSE shift are applied at the
// end. Non-finite inputs are not reported (that would need a synchronisation): they make the output NaN.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "cuda_device.cuh"

namespace sattn_cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

__device__ inline int8_t quantize(double x, double scale, double qmax) {
  return static_cast<int8_t>(fmin(fmax(rint(x / scale), -qmax), qmax));  // rint: half to even
}

__device__ inline double slice_scale(float given, double max_abs, double qmax) {
  if (given > 0.0f) return given;
  return max_abs > 0.0 ? max_abs / qmax : 1.0;
}

// Column reductions over the keys of (b, hk): block (32 channels, kSlices), grid (B * Hk, channels / 32). Thread
// (c, s) reduces rows s, s + kSlices, ... of its channel; the slices are then combined in slice order, so the
// result does not depend on scheduling. (The core sums the mean key strictly in key order; in float64 the two orders
// differ by a rounding of the double, which moves x / s across a rounding boundary essentially never.)
constexpr int kSlices = 32;

template <bool Max>
__device__ inline double reduce_column(const Operand& t, int32_t dtype, int64_t b, int64_t h, int64_t rows, int64_t c,
                                       bool valid) {
  __shared__ double partial[kSlices][33];
  double value = 0.0;
  if (valid) {
    const int64_t base = row_offset(t, b, h, 0) + c * t.stride[3];
#pragma unroll 4
    for (int64_t j = threadIdx.y; j < rows; j += kSlices) {
      const double x = load_element(t.data, base + j * t.stride[2], dtype);
      value = Max ? fmax(value, fabs(x)) : value + x;
    }
  }
  partial[threadIdx.y][threadIdx.x] = value;
  __syncthreads();
  double total = 0.0;
  if (threadIdx.y == 0)
    for (int slice = 0; slice < kSlices; ++slice)
      total = Max ? fmax(total, partial[slice][threadIdx.x]) : total + partial[slice][threadIdx.x];
  return total;  // meaningful in slice 0
}

// kbar[b, hk, d] = mean over the keys, float64.
__global__ void mean_key_kernel(const KernelParams p, const QuantizedBuffers q) {
  const int64_t bh = blockIdx.x, d = blockIdx.y * 32 + threadIdx.x, b = bh / p.kv_heads, hk = bh % p.kv_heads;
  const double sum = reduce_column<false>(p.k, p.kv_dtype, b, hk, p.kv_len, d, d < p.head_dim);
  if (threadIdx.y == 0 && d < p.head_dim) q.kbar[bh * p.head_dim + d] = p.kv_len > 0 ? sum / p.kv_len : 0.0;
}

// V's per-channel max |v| (float64, kept for the quantisation) and scale.
__global__ void value_scales_kernel(const KernelParams p, const QuantizedBuffers q) {
  const int64_t bh = blockIdx.x, c = blockIdx.y * 32 + threadIdx.x, b = bh / p.kv_heads, hk = bh % p.kv_heads;
  const double max_abs = reduce_column<true>(p.v, p.kv_dtype, b, hk, p.kv_len, c, c < p.head_dim_v);
  if (threadIdx.y == 0 && c < p.head_dim_v) {
    const double scale = slice_scale(q.given_v, max_abs, q.qmax);
    q.v_max_scale[bh * p.head_dim_v + c] = scale;
    q.v_scale[bh * p.head_dim_v + c] = static_cast<float>(scale);
  }
}

// V's integers, one thread per element, with the channel's float64 scale.
__global__ void quantize_values_kernel(const KernelParams p, const QuantizedBuffers q) {
  const int64_t count = p.batch * p.kv_heads * p.kv_len * p.head_dim_v;
  for (int64_t index = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; index < count;
       index += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = index % p.head_dim_v, row = index / p.head_dim_v, j = row % p.kv_len, bh = row / p.kv_len;
    const int64_t b = bh / p.kv_heads, hk = bh % p.kv_heads;
    const float x = load_element(p.v.data, row_offset(p.v, b, hk, j) + c * p.v.stride[3], p.kv_dtype);
    q.v[index] = quantize(x, q.v_max_scale[bh * p.head_dim_v + c], q.qmax);
  }
}

// One warp per key row: the smoothed row's scale, then its integers.
__global__ void quantize_keys_kernel(const KernelParams p, const QuantizedBuffers q) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t row = blockIdx.x * int64_t{kWarps} + threadIdx.x / 32;  // (b * Hk + hk) * Lk + j
  if (row >= p.batch * p.kv_heads * p.kv_len) return;
  const int64_t j = row % p.kv_len, bh = row / p.kv_len, b = bh / p.kv_heads, hk = bh % p.kv_heads;
  const int64_t base = row_offset(p.k, b, hk, j);
  const double* kbar = q.kbar + bh * p.head_dim;
  double max_abs = 0.0;
  for (int64_t d = lane; d < p.head_dim; d += 32)
    max_abs = fmax(max_abs, fabs(load_element(p.k.data, base + d * p.k.stride[3], p.kv_dtype) - kbar[d]));
  for (int offset = 16; offset > 0; offset /= 2) max_abs = fmax(max_abs, __shfl_xor_sync(0xffffffffu, max_abs, offset));
  const double scale = slice_scale(q.given_k, max_abs, q.qmax);
  if (lane == 0) q.k_scale[row] = static_cast<float>(scale);
  int8_t* out = q.k + row * q.row_bytes;
  for (int64_t d = lane; d < q.row_bytes; d += 32)
    out[d] = d < p.head_dim
                 ? quantize(load_element(p.k.data, base + d * p.k.stride[3], p.kv_dtype) - kbar[d], scale, q.qmax)
                 : int8_t{0};  // padding to a multiple of 4 for __dp4a
}

// One warp per query row: its scale, its integers and the LSE shift scale * q . kbar (summed in channel order).
__global__ void quantize_queries_kernel(const KernelParams p, const QuantizedBuffers q) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t row = blockIdx.x * int64_t{kWarps} + threadIdx.x / 32;  // (b * Hq + hq) * Lq + i
  if (row >= p.batch * p.q_heads * p.q_len) return;
  const int64_t i = row % p.q_len, bh = row / p.q_len, b = bh / p.q_heads, hq = bh % p.q_heads;
  const int64_t hk = hq / (p.q_heads / p.kv_heads);
  const int64_t base = row_offset(p.q, b, hq, i);
  const double* kbar = q.kbar + (b * p.kv_heads + hk) * p.head_dim;
  double max_abs = 0.0;
  for (int64_t d = lane; d < p.head_dim; d += 32)
    max_abs = fmax(max_abs, fabs(static_cast<double>(load_element(p.q.data, base + d * p.q.stride[3], p.dtype))));
  for (int offset = 16; offset > 0; offset /= 2) max_abs = fmax(max_abs, __shfl_xor_sync(0xffffffffu, max_abs, offset));
  const double scale = slice_scale(q.given_q, max_abs, q.qmax);
  int8_t* out = q.q + row * q.row_bytes;
  for (int64_t d = lane; d < q.row_bytes; d += 32)
    out[d] =
        d < p.head_dim ? quantize(load_element(p.q.data, base + d * p.q.stride[3], p.dtype), scale, q.qmax) : int8_t{0};
  if (lane == 0) {
    double dot = 0.0;
    for (int64_t d = 0; d < p.head_dim; ++d)
      dot += static_cast<double>(load_element(p.q.data, base + d * p.q.stride[3], p.dtype)) * kbar[d];
    q.q_scale[row] = static_cast<float>(scale);
    q.lse_shift[row] = static_cast<float>(static_cast<double>(q.softmax_scale) * dot);
  }
}

// Attention on the integers, one warp per query row over the layout row's key tiles.
__global__ void __launch_bounds__(kThreads) integer_attention_kernel(const KernelParams p, const QuantizedBuffers q) {
  extern __shared__ float accumulators[];  // per warp: Dv fp32 sums of p * v_q
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t row = blockIdx.x * int64_t{kWarps} + warp;  // (b * Hq + hq) * Lq + i
  if (row >= p.batch * p.q_heads * p.q_len) return;         // no block-wide barrier follows
  const int64_t i = row % p.q_len, bh = row / p.q_len, b = bh / p.q_heads, hq = bh % p.q_heads;
  const int64_t hk = hq / (p.q_heads / p.kv_heads), kv_row0 = (b * p.kv_heads + hk) * p.kv_len;
  float* acc = accumulators + warp * p.head_dim_v;
  for (int64_t c = lane; c < p.head_dim_v; c += 32) acc[c] = 0.0f;
  __syncwarp();
  const int* q_words = reinterpret_cast<const int*>(q.q + row * q.row_bytes);
  const int64_t words = q.row_bytes / 4;
  const float row_scale = p.scale_log2 * q.q_scale[row];  // log2 units

  float m = -INFINITY, l = 0.0f;
  const sattn_layout_view& layout = p.layout;
  for (TileCursor t = TileCursor::begin(layout, sattn_layout_row(&layout, b, hq, i / layout.tile_q)); t.valid();
       t.advance()) {
    const sattn_tile_span& span = t.current();
    const int64_t j_end = min((t.tile + 1) * layout.tile_k, p.kv_len);
    for (int64_t j = t.tile * layout.tile_k; j < j_end; ++j) {
      if (!tile_keeps(p, span, t.tile, b, hq, i, j)) continue;  // uniform across the warp
      const int* k_words = reinterpret_cast<const int*>(q.k + (kv_row0 + j) * q.row_bytes);
      int dot = 0;
      for (int64_t w = lane; w < words; w += 32) dot = __dp4a(q_words[w], k_words[w], dot);
      for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
      const float s = row_scale * q.k_scale[kv_row0 + j] * static_cast<float>(dot);
      const float m_new = fmaxf(m, s);
      const float correction = exp2f(m - m_new);  // 0 for the first key (m = -inf)
      const float prob = exp2f(s - m_new);
      l = l * correction + prob;
      const int8_t* v_row = q.v + (kv_row0 + j) * p.head_dim_v;
      for (int64_t c = lane; c < p.head_dim_v; c += 32)
        acc[c] = acc[c] * correction + prob * static_cast<float>(v_row[c]);
      m = m_new;
    }
  }
  const float inverse = l > 0.0f ? 1.0f / l : 0.0f;  // a row without keys writes zeros
  const float* v_scale = q.v_scale + (b * p.kv_heads + hk) * p.head_dim_v;
  const int64_t o_row = row_offset(p.o, b, hq, i);
  for (int64_t c = lane; c < p.head_dim_v; c += 32)
    store_element(p.o.data, o_row + c * p.o.stride[3], p.dtype, v_scale[c] * acc[c] * inverse);
  if (p.lse != nullptr && lane == 0)
    p.lse[b * p.lse_stride[0] + hq * p.lse_stride[1] + i * p.lse_stride[2]] =
        l > 0.0f ? (m + log2f(l)) * 0.69314718055994531f + q.lse_shift[row] : -INFINITY;
}

unsigned blocks_for(int64_t items, int64_t per_block) {
  return static_cast<unsigned>((items + per_block - 1) / per_block);
}

}  // namespace

bool quantized_grid_fits(const sattn_attention_desc& d) {
  const int64_t rows = std::max(d.batch * d.num_q_heads * d.q_len, d.batch * d.num_kv_heads * d.kv_len);
  const int64_t channels = d.batch * d.num_kv_heads * std::max(d.head_dim, d.head_dim_v);
  return (rows + kWarps - 1) / kWarps <= 0x7fffffff && (channels + kThreads - 1) / kThreads <= 0x7fffffff;
}

int launch_quantized(const KernelParams& p, const QuantizedBuffers& q, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t q_rows = p.batch * p.q_heads * p.q_len, k_rows = p.batch * p.kv_heads * p.kv_len;
  if (q_rows == 0) return cudaSuccess;
  const dim3 slices(32, kSlices);
  const unsigned heads = static_cast<unsigned>(p.batch * p.kv_heads);
  mean_key_kernel<<<dim3(heads, static_cast<unsigned>((p.head_dim + 31) / 32)), slices, 0, s>>>(p, q);
  if (k_rows > 0) {
    quantize_keys_kernel<<<blocks_for(k_rows, kWarps), kThreads, 0, s>>>(p, q);
    value_scales_kernel<<<dim3(heads, static_cast<unsigned>((p.head_dim_v + 31) / 32)), slices, 0, s>>>(p, q);
    const int64_t values = k_rows * p.head_dim_v;
    quantize_values_kernel<<<static_cast<unsigned>(std::min<int64_t>(blocks_for(values, kThreads), 65535 * 16)),
                             kThreads, 0, s>>>(p, q);
  }
  quantize_queries_kernel<<<blocks_for(q_rows, kWarps), kThreads, 0, s>>>(p, q);
  if (flash_int8_supports(p)) {
    if (const cudaError_t error = cudaGetLastError(); error != cudaSuccess) return error;
    return launch_flash_int8(p, q, stream);
  }
  integer_attention_kernel<<<blocks_for(q_rows, kWarps), kThreads, sizeof(float) * kWarps * p.head_dim_v, s>>>(p, q);
  return cudaGetLastError();
}

int prepare_quantized() {
  return cudaFuncSetAttribute(integer_attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(sizeof(float) * kWarps * kMaxGenericHeadDim));
}

}  // namespace sattn_cuda
