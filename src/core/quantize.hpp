// The int8/int4 quantisation of Q, K and V (docs/patterns.md, "Precisions"), done once here for every backend:
// K is smoothed by its mean key per (batch, kv head), Q and the smoothed K get one scale per row, V one scale per
// channel, and every value is rounded half to even and clamped to [-qmax, qmax].
#pragma once

#include <cstdint>

namespace sattn {

struct QuantShape {
  int64_t batch, q_heads, kv_heads, q_len, kv_rows, head_dim, head_dim_v;  // kv_rows: Lk, or m for landmark
  int32_t precision;                                                       // SATTN_PRECISION_INT8 or _INT4
  float softmax_scale;                                                     // the effective scale (never 0)
  float scale_q, scale_k, scale_v;  // params.scale_*: > 0 replaces the computed scales of that whole tensor
  int32_t num_threads;              // as for parallel_for (0 = all cores)
};

// Where quantize_operands writes; every buffer is the caller's and contiguous.
struct QuantizedOperands {
  int8_t* q;         // [B, Hq, Lq, D]
  int8_t* k;         // [B, Hk, kv_rows, D], of the smoothed keys K - kbar
  int8_t* v;         // [B, Hk, kv_rows, Dv]
  float* q_scale;    // [B, Hq, Lq]
  float* k_scale;    // [B, Hk, kv_rows]
  float* v_scale;    // [B, Hk, Dv]
  float* lse_shift;  // [B, Hq, Lq]: softmax_scale * q_i . kbar, what smoothing took from every score of row i
};

// Quantises contiguous fp32 q [B, Hq, Lq, D], k [B, Hk, kv_rows, D] and v [B, Hk, kv_rows, Dv] into `out`.
// Throws sattn::Error (SATTN_ERROR_INVALID_ARGUMENT) naming the tensor and the index of its first non-finite value.
void quantize_operands(const QuantShape& shape, const float* q, const float* k, const float* v,
                       const QuantizedOperands& out);

}  // namespace sattn
