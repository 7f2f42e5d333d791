// The end of the tensor-core kernels, shared by all of them: a row's softmax denominator, its log-sum-exp and its
// output row written from the mma accumulator layout.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "cuda_kernels.hpp"
#include "cuda_mma.cuh"

namespace sattn_cuda {

// A row's denominator: the four threads of a quad each summed a quarter of its columns.
__device__ inline float quad_sum(float partial) {
  partial += __shfl_xor_sync(0xffffffffu, partial, 1);
  return partial + __shfl_xor_sync(0xffffffffu, partial, 2);
}

// A row's log-sum-exp in natural-log units from its running maximum (log2 units) and its denominator; -inf for a row
// without keys.
__device__ inline float row_lse(float max_log2, float sum) {
  return sum > 0.0f ? (max_log2 + log2f(sum)) * 0.69314718055994531f : -INFINITY;
}

// LSE of row i of query head hq, where the run asked for it.
__device__ inline void store_lse(const KernelParams& p, int64_t b, int64_t hq, int64_t i, float lse) {
  if (p.lse != nullptr) p.lse[b * p.lse_stride[0] + hq * p.lse_stride[1] + i * p.lse_stride[2]] = lse;
}

// Row i of O from the thread's accumulators in the mma layout (value(dn, e) is column dn * 8 + 2 quad + e), divided
// by the row's denominator (a row without keys writes zeros), as packed 16-bit pairs; its LSE from the quad's first
// thread.
template <int D, bool Bf16, class Value>
__device__ inline void store_output_row(const KernelParams& p, int64_t b, int64_t hq, int64_t i, int quad, float sum,
                                        float max_log2, Value value) {
  const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
  uint16_t* const row = static_cast<uint16_t*>(p.o.data) + b * p.o.stride[0] + hq * p.o.stride[1] + i * p.o.stride[2];
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn)
    *reinterpret_cast<uint32_t*>(row + dn * 8 + 2 * quad) = pack<Bf16>(value(dn, 0) * inverse, value(dn, 1) * inverse);
  if (quad == 0) store_lse(p, b, hq, i, row_lse(max_log2, sum));
}

}  // namespace sattn_cuda
