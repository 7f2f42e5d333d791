// What each precision of SPEC.md does to a value: rounding for bf16/fp16, symmetric per-tensor quantisation for
// int8/int4. Every backend computes the same thing, so the rules live here once.
#pragma once

#include <sattn.h>

#include <cmath>
#include <cstdint>

#include "core/half.hpp"

namespace sattn {

inline bool is_integer_precision(int32_t precision) {
  return precision == SATTN_PRECISION_INT8 || precision == SATTN_PRECISION_INT4;
}

// Largest quantised magnitude: 127 for int8, 7 for int4.
inline float quant_max(int32_t precision) { return precision == SATTN_PRECISION_INT4 ? 7.0f : 127.0f; }

// The scale of a tensor: given, or max|x| / qmax. An all-zero tensor quantises to zeros with any scale; 1 avoids 0/0.
inline float quant_scale(float given, float max_abs, int32_t precision) {
  if (given > 0.0f) return given;
  const float scale = max_abs / quant_max(precision);
  return scale > 0.0f && std::isfinite(scale) ? scale : 1.0f;
}

// x_q = clamp(round(x / s), -qmax, qmax); round is to nearest, ties to even (as numpy and PyTorch round).
inline int8_t quantize(float x, float scale, float qmax) {
  float q = std::nearbyint(x / scale);
  if (!(q >= -qmax)) q = -qmax;  // also maps NaN to -qmax instead of undefined behaviour in the cast
  if (q > qmax) q = qmax;
  return static_cast<int8_t>(q);
}

// Rounds an input or a probability to the floating type of the precision (identity for fp32 and integer modes,
// whose probabilities stay fp32).
inline float round_to_precision(float x, int32_t precision) {
  switch (precision) {
    case SATTN_PRECISION_BF16:
      return round_to_bf16(x);
    case SATTN_PRECISION_FP16:
      return round_to_f16(x);
    default:
      return x;
  }
}

}  // namespace sattn
