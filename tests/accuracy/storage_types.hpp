// Conversions between float32 and the 16-bit storage types, written here (not taken from the library) so that the
// inputs the reference sees are rounded independently: round to nearest, ties to even, as IEEE 754 and bf16 do.
#pragma once

#include <sattn.h>

#include <bit>
#include <cmath>
#include <cstdint>

namespace sattn_acc {

inline uint16_t float_to_f16_bits(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);   // NaN stays NaN
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to infinity
  if (magnitude < 0x38800000u) {
    // Below 2^-14 the result is subnormal: a multiple of 2^-24, rounded (ties to even) by nearbyint.
    const float units = std::fabs(value) * 0x1p24f;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(units)));
  }
  const uint32_t exponent = (magnitude >> 23) - 127u + 15u;
  const uint32_t mantissa = magnitude & 0x7FFFFFu;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  const uint32_t dropped = mantissa & 0x1FFFu;
  if (dropped > 0x1000u || (dropped == 0x1000u && (half & 1u) != 0)) ++half;  // a carry moves into the exponent
  return static_cast<uint16_t>(sign | half);
}

inline float f16_bits_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1Fu;
  const uint32_t mantissa = half & 0x3FFu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent - 15u + 127u) << 23) | (mantissa << 13));
}

inline uint16_t float_to_bf16_bits(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

inline float bf16_bits_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

// The value a float becomes once stored as `dtype` (f32, f16 or bf16).
inline float round_to_storage(float value, int32_t dtype) {
  switch (dtype) {
    case SATTN_DTYPE_F16: return f16_bits_to_float(float_to_f16_bits(value));
    case SATTN_DTYPE_BF16: return bf16_bits_to_float(float_to_bf16_bits(value));
    default: return value;
  }
}

// Relative rounding error of storing a result as `dtype` (the unit roundoff, 2^-p).
inline double storage_unit_roundoff(int32_t dtype) {
  switch (dtype) {
    case SATTN_DTYPE_F16: return 0x1p-11;
    case SATTN_DTYPE_BF16: return 0x1p-8;
    default: return 0.0;
  }
}

}  // namespace sattn_acc
