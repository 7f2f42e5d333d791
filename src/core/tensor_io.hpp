// Reading and writing strided sattn_tensors of any supported dtype. Kernels work on contiguous fp32 copies made
// here, so strides and storage types are handled once for every pattern and backend that runs on the host.
#pragma once

#include <sattn.h>

#include <cstdint>

namespace sattn {

// Number of elements of a 4-D tensor's logical shape.
int64_t element_count(const sattn_tensor& t);

// Copies a 4-D tensor [d0, d1, d2, d3] to dst in contiguous row-major order as fp32.
// num_threads as prefs.num_threads: 0 = all cores (large tensors convert in parallel), 1 = the calling thread only.
void gather_f32(const sattn_tensor& t, float* dst, int32_t num_threads = 0);

// t[i0][i1][i2][0..shape[3]) of a 4-D tensor to dst as fp32, the values gather_f32 gives (f16 and bf16 widen exactly):
// for readers that need a few rows or one pass of sums, not a whole fp32 copy.
void load_row_f32(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, float* dst);

// Writes n fp32 values to t[i0][i1][i2][0..n) (4-D) converted to t's dtype.
void scatter_row(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, const float* src, int64_t n);

// t[i0][i1][i2] of a 3-D fp32 tensor (LSE).
void store_scalar(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, float value);

// t[i0][i1][i2][i3] of a 4-D u8 tensor (block masks).
uint8_t load_u8(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3);

}  // namespace sattn
