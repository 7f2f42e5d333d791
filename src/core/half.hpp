// IEEE binary16 and bfloat16 conversions for the core and the tools: the one implementation is the public
// sattn_kernels.h (on bits, round to nearest even, identical on every compiler and target), named here in C++ style.
#pragma once

#include <sattn_kernels.h>

#include <cstdint>

namespace sattn {

inline float bf16_to_float(uint16_t h) { return sattn_bf16_to_float(h); }
inline uint16_t float_to_bf16(float f) { return sattn_float_to_bf16(f); }
inline float f16_to_float(uint16_t h) { return sattn_f16_to_float(h); }
inline uint16_t float_to_f16(float f) { return sattn_float_to_f16(f); }
inline float round_to_bf16(float f) { return sattn_round_to_bf16(f); }
inline float round_to_f16(float f) { return sattn_round_to_f16(f); }

}  // namespace sattn
