// Device helpers the row-selecting families (topk_per_query, nm_structured, lsh, landmark) share: the selection
// arithmetic of the core, reproduced bit for bit (sequential fp32 sums without fused multiply-add, ScoreOrder's
// ranking), and the geometry of the layouts they build in the workspace.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_device.cuh"
#include "cuda_plan.hpp"
#include "cuda_select.hpp"

namespace sattn_cuda {

// The core's dot_f32: products and sums rounded one by one in channel order. nvcc would contract `acc += a * b`
// into an fma, which rounds once and can flip a selection against the CPU's choice, so the intrinsics spell it out.
__device__ inline float sequential_dot(const Operand& a, int64_t a_row, const Operand& b, int64_t b_row, int32_t dtype,
                                       int64_t dim) {
  float acc = 0.0f;
  for (int64_t c = 0; c < dim; ++c)
    acc = __fadd_rn(acc, __fmul_rn(load_element(a.data, a_row + c * a.stride[3], dtype),
                                   load_element(b.data, b_row + c * b.stride[3], dtype)));
  return acc;
}

// ScoreOrder's rank as an unsigned key that orders like the scores: NaN ranks as -inf and -0 equals +0, so equal
// keys are exactly the ties ScoreOrder breaks by index.
__device__ inline uint32_t score_key(float s) {
  if (s != s) s = -INFINITY;
  if (s == 0.0f) s = 0.0f;
  const uint32_t u = __float_as_uint(s);
  return (u & 0x80000000u) != 0 ? ~u : (u | 0x80000000u);
}

// Keys query i may choose from: all of them, or with causal those at or before its position (the core's
// RowSelectionRule).
__device__ inline int64_t allowed_keys(const KernelParams& p, int64_t i) {
  if (!p.layout.rule->causal) return p.kv_len;
  const int64_t position = i + p.layout.rule->q_offset;
  return position + 1 < 0 ? 0 : (position + 1 > p.kv_len ? p.kv_len : position + 1);
}

// Byte offset of element `index` of a tensor of `dtype`, for views that start at a batch or head.
inline void* offset_elements(void* data, int64_t index, int32_t dtype) {
  return static_cast<unsigned char*>(data) + index * (dtype == SATTN_DTYPE_F32 ? 4 : 2);
}

// Blocks of `threads` covering `count` items.
inline unsigned blocks_for(int64_t count, int threads) {
  return static_cast<unsigned>((count + threads - 1) / threads);
}

}  // namespace sattn_cuda
