// Queries whose kept set is empty must give O = 0 exactly and LSE = -inf, never NaN: causal with Lq > Lk (the first
// Lq - Lk queries sit before every key), a narrow non-causal window that falls off the start, an all-zero block mask.
#include "examples.hpp"

#include <catch2/catch.hpp>

using sattn_acc::Case;

TEST_CASE("causal with more queries than keys leaves empty rows in every pattern", "[empty_rows]") {
  std::vector<Case> cases;
  uint32_t seed = 1100;
  for (int pattern : sattn_acc::all_patterns()) {
    if (pattern == SATTN_PATTERN_LANDMARK) continue;  // not defined with causal
    Case c = sattn_acc::example_case(pattern, 1, 4, 2, 90, 50, 16, true);
    c.seed = seed++;
    cases.push_back(c);
  }
  sattn_acc::check_cases(cases);
}

TEST_CASE("a non-causal window that falls off the start of the keys", "[empty_rows]") {
  Case c = sattn_acc::example_case(SATTN_PATTERN_SLIDING_WINDOW, 1, 2, 1, 80, 40, 16, false);
  c.problem.params.window_size = 2;
  c.problem.params.dilation = 1;
  c.problem.params.global_tokens = 0;  // p_i in [-40, 39]: queries below p = -2 see no key
  c.seed = 1150;
  sattn_acc::check_case(c);
}

TEST_CASE("an all-zero block mask empties every row", "[empty_rows]") {
  for (bool causal : {false, true}) {
    Case c = sattn_acc::example_case(SATTN_PATTERN_BLOCK_MASK, 2, 4, 2, 37, 53, 16, causal);
    c.mask_keep_probability = 0.0;
    c.seed = 1160 + (causal ? 1u : 0u);
    sattn_acc::check_case(c);
  }
}

TEST_CASE("empty rows at every precision", "[empty_rows]") {
  std::vector<Case> cases;
  uint32_t seed = 1170;
  for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_TOPK})
    for (int precision : {SATTN_PRECISION_BF16, SATTN_PRECISION_FP16, SATTN_PRECISION_INT8, SATTN_PRECISION_INT4}) {
      Case c = sattn_acc::example_case(pattern, 1, 4, 2, 70, 41, 24, true);
      c.problem.precision = precision;
      c.dtype = precision == SATTN_PRECISION_FP16 ? SATTN_DTYPE_F16 : SATTN_DTYPE_F32;
      c.seed = seed++;
      cases.push_back(c);
    }
  sattn_acc::check_cases(cases);
}
