// Size arithmetic that cannot overflow silently: every product of user-given sizes goes through here.
#pragma once

#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>

namespace sattn {

inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t result = 0;
  if (__builtin_mul_overflow(a, b, &result)) fail(SATTN_ERROR_INVALID_ARGUMENT, what, " overflows 64 bits");
  return result;
}

inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t result = 0;
  if (__builtin_add_overflow(a, b, &result)) fail(SATTN_ERROR_INVALID_ARGUMENT, what, " overflows 64 bits");
  return result;
}

// Bytes of count elements of elem_size bytes, as size_t, refusing what does not fit the address space.
inline size_t checked_bytes(int64_t count, size_t elem_size, const char* what) {
  const int64_t bytes = checked_mul(count, static_cast<int64_t>(elem_size), what);
  if (static_cast<uint64_t>(bytes) > std::numeric_limits<size_t>::max() / 2)
    fail(SATTN_ERROR_INVALID_ARGUMENT, what, " is too large for this machine's address space");
  return static_cast<size_t>(bytes);
}

// Ceiling of a / b for b != 0 and any sign of a, without forming a + b - 1 (which overflows for a near INT64_MAX).
// The quotient is rounded towards zero, so it is one short exactly when there is a remainder and the true quotient
// is positive.
inline int64_t ceil_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) == (b < 0))) ? q + 1 : q;
}

// Floor division for possibly negative numerators (positions before the first key when q_len > kv_len).
inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

inline int64_t positive_mod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

}  // namespace sattn
