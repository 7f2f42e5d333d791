// The bit-level fp16/bf16 conversions round to nearest even, keep NaN and infinities, and handle subnormals.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "core/half.hpp"

using namespace sattn;

TEST_CASE("bf16 rounds to nearest even", "[half]") {
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_float(0x3f80) == 1.0f);
  CHECK(float_to_bf16(bits_float(0x3f808000u)) == 0x3f80);  // tie, even stays
  CHECK(float_to_bf16(bits_float(0x3f818000u)) == 0x3f82);  // tie, odd rounds up
  CHECK(float_to_bf16(bits_float(0x3f808001u)) == 0x3f81);
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isinf(bf16_to_float(float_to_bf16(std::numeric_limits<float>::infinity()))));
}

TEST_CASE("fp16 conversions are exact where representable and round to nearest even", "[half]") {
  for (int bits = 0; bits < 0x10000; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = f16_to_float(h);
    if (std::isnan(f)) continue;
    REQUIRE(float_to_f16(f) == h);  // every half survives a round trip, subnormals and infinities included
  }
  CHECK(f16_to_float(0x3c00) == 1.0f);
  CHECK(f16_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(float_to_f16(65504.0f) == 0x7bff);
  CHECK(float_to_f16(65520.0f) == 0x7c00);                      // halfway to the next step rounds to infinity
  CHECK(float_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie to even
  CHECK(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
  CHECK(float_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // tie at the smallest subnormal goes to zero
  CHECK(float_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(std::isnan(f16_to_float(float_to_f16(std::numeric_limits<float>::quiet_NaN()))));
}
