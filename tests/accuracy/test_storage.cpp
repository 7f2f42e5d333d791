// How tensors are stored: f32/f16/bf16 elements, in contiguous BHLD, in BLHD ([B, L, H, D] memory passed as
// strides) and in BHLD with padded rows and heads. Every pattern, fp32 computation.
#include "examples.hpp"

#include <catch2/catch.hpp>

using sattn_acc::Case;
using sattn_acc::Layout;

TEST_CASE("every pattern on every storage type and layout", "[storage]") {
  std::vector<Case> cases;
  uint32_t seed = 1000;
  for (int pattern : sattn_acc::all_patterns())
    for (int32_t dtype : {SATTN_DTYPE_F32, SATTN_DTYPE_F16, SATTN_DTYPE_BF16})
      for (Layout layout : {Layout::bhld, Layout::blhd, Layout::padded}) {
        if (dtype == SATTN_DTYPE_F32 && layout == Layout::bhld) continue;  // every other suite covers it
        const bool causal = seed % 2 == 0;
        Case c = sattn_acc::example_case(pattern, 2, 4, 2, 45, 67, 24, causal);
        c.dtype = dtype;
        c.layout = layout;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("16-bit and integer precisions on strided storage, head dims of the tile paths", "[storage]") {
  // Head dims that are multiples of 32 take the cpu backend's AMX tiles at bf16 (where the CPU has them) and its
  // packed K/V paths everywhere; G = 3 and lengths that are not multiples of 64 leave partial tiles on both sides.
  std::vector<Case> cases;
  uint32_t seed = 1100;
  for (int pattern : sattn_acc::all_patterns())
    for (int precision : {SATTN_PRECISION_BF16, SATTN_PRECISION_FP16, SATTN_PRECISION_INT8})
      for (Layout layout : {Layout::blhd, Layout::padded}) {
        const bool causal = seed % 2 == 1 && pattern != SATTN_PATTERN_LANDMARK;
        Case c = sattn_acc::example_case(pattern, 1, 6, 2, 70, 130, seed % 4 < 2 ? 64 : 32, causal);
        c.problem.precision = precision;
        c.dtype = precision == SATTN_PRECISION_FP16 ? SATTN_DTYPE_F16 : SATTN_DTYPE_BF16;
        if (precision == SATTN_PRECISION_INT8) {
          c.dtype = SATTN_DTYPE_F32;
          c.key_bias = 3.0;
        }
        c.layout = layout;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}
