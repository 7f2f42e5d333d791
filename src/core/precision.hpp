// What each precision of docs/patterns.md does to a value: rounding for bf16/fp16 here; the int8/int4 quantisation of
// whole operands is in core/quantize.hpp. Every backend computes the same thing, so the rules live here once.
#pragma once

#include <sattn.h>

#include <cstdint>

#include "core/half.hpp"

namespace sattn {

inline bool is_integer_precision(int32_t precision) {
  return precision == SATTN_PRECISION_INT8 || precision == SATTN_PRECISION_INT4;
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
