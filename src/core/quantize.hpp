// Placeholder of the int8/int4 operand quantisation (replaced by the real implementation).
#pragma once

#include <cstdint>

namespace sattn {

struct QuantShape {
  int64_t batch, q_heads, kv_heads, q_len, kv_rows, head_dim, head_dim_v;
  int32_t precision;
  float softmax_scale, scale_q, scale_k, scale_v;
  int32_t num_threads;
};

struct QuantizedOperands {
  int8_t* q;
  int8_t* k;
  int8_t* v;
  float* q_scale;
  float* k_scale;
  float* v_scale;
  float* lse_shift;
};

void quantize_operands(const QuantShape& shape, const float* q, const float* k, const float* v,
                       const QuantizedOperands& out);

}  // namespace sattn
