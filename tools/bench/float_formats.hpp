// Conversions between float and the 16-bit storage formats of sattn tensors (round to nearest even).
#pragma once

#include <cstdint>

namespace sattn_bench {

uint16_t float_to_bf16(float value);
float bf16_to_float(uint16_t bits);
uint16_t float_to_f16(float value);
float f16_to_float(uint16_t bits);

}  // namespace sattn_bench
