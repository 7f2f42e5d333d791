// The core's integer helpers are exact over the whole int64 range they are given, with no signed overflow (the asan
// preset runs this under UBSan).
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>

#include "core/checked_math.hpp"

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
}  // namespace

TEST_CASE("ceil_div rounds up for every sign and does not overflow near INT64_MAX", "[checked_math]") {
  CHECK(sattn::ceil_div(0, 7) == 0);
  CHECK(sattn::ceil_div(1, 7) == 1);
  CHECK(sattn::ceil_div(7, 7) == 1);
  CHECK(sattn::ceil_div(8, 7) == 2);
  CHECK(sattn::ceil_div(-8, 7) == -1);
  CHECK(sattn::ceil_div(-7, 7) == -1);
  CHECK(sattn::ceil_div(-6, 7) == 0);
  CHECK(sattn::ceil_div(8, -7) == -1);
  CHECK(sattn::ceil_div(-8, -7) == 2);
  // a + b - 1 would overflow in each of these.
  CHECK(sattn::ceil_div(kMax, 1) == kMax);
  CHECK(sattn::ceil_div(kMax, 2) == kMax / 2 + 1);
  CHECK(sattn::ceil_div(kMax, kMax) == 1);
  CHECK(sattn::ceil_div(kMax - 1, kMax) == 1);
  CHECK(sattn::ceil_div(1, kMax) == 1);
  CHECK(sattn::ceil_div(kMin, kMax) == -1);
  CHECK(sattn::ceil_div(kMin, 2) == kMin / 2);
  for (int64_t a = -20; a <= 20; ++a)
    for (int64_t b : {-7, -3, -1, 1, 2, 5}) {
      INFO(a << " / " << b);
      // The smallest q with q * b >= a (b > 0) or q * b <= a (b < 0).
      int64_t q = -100;
      while (b > 0 ? q * b < a : q * b > a) ++q;
      CHECK(sattn::ceil_div(a, b) == q);
    }
}

TEST_CASE("floor_div and positive_mod", "[checked_math]") {
  CHECK(sattn::floor_div(-1, 4) == -1);
  CHECK(sattn::floor_div(-4, 4) == -1);
  CHECK(sattn::floor_div(-5, 4) == -2);
  CHECK(sattn::floor_div(5, 4) == 1);
  CHECK(sattn::floor_div(kMin, 1) == kMin);
  CHECK(sattn::positive_mod(-1, 5) == 4);
  CHECK(sattn::positive_mod(kMin, 3) == 1);  // -2^63 = 3 * -3074457345618258603 + 1
}

TEST_CASE("checked products and sums refuse overflow with a message", "[checked_math]") {
  CHECK(sattn::checked_mul(int64_t{1} << 31, int64_t{1} << 31, "x") == int64_t{1} << 62);
  CHECK_THROWS_WITH(sattn::checked_mul(int64_t{1} << 32, int64_t{1} << 31, "tiles"), "tiles overflows 64 bits");
  CHECK_THROWS_WITH(sattn::checked_add(kMax, 1, "extent"), "extent overflows 64 bits");
  CHECK(sattn::checked_add(kMax - 1, 1, "x") == kMax);
}
