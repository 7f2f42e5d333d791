// The five precisions: every pattern at every precision on f32 inputs, the 16-bit precisions on inputs stored in
// their own type, and the integer precisions with caller-given quantisation scales.
#include "examples.hpp"

#include <catch2/catch.hpp>

using sattn_acc::Case;
using sattn_acc::example_case;

namespace {

const int all_precisions[] = {SATTN_PRECISION_FP32, SATTN_PRECISION_BF16, SATTN_PRECISION_FP16,
                              SATTN_PRECISION_INT8, SATTN_PRECISION_INT4};

}  // namespace

TEST_CASE("every pattern at every precision", "[precision]") {
  std::vector<Case> cases;
  uint32_t seed = 800;
  for (int pattern : sattn_acc::all_patterns())
    for (int precision : all_precisions)
      for (bool causal : {false, true}) {
        if (pattern == SATTN_PATTERN_LANDMARK && causal) continue;
        Case c = example_case(pattern, 1, 4, 2, 70, 90, 64, causal);
        c.problem.precision = precision;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("16-bit precisions on inputs stored in their own type", "[precision]") {
  const std::pair<int32_t, int> storage_and_precision[] = {{SATTN_DTYPE_F16, SATTN_PRECISION_FP16},
                                                           {SATTN_DTYPE_BF16, SATTN_PRECISION_BF16}};
  std::vector<Case> cases;
  uint32_t seed = 880;
  for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_TOPK,
                      SATTN_PATTERN_TOPK_PER_QUERY})
    for (const auto& [dtype, precision] : storage_and_precision)
      for (bool causal : {false, true}) {
        Case c = example_case(pattern, 2, 4, 1, 83, 64, 24, causal);
        c.dtype = dtype;
        c.problem.precision = precision;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("integer precisions with given quantisation scales", "[precision]") {
  // Scales a little above max|x| / qmax (inputs lie in [-2, 2]), so nothing is clamped.
  for (const auto& [precision, levels] : {std::pair{SATTN_PRECISION_INT8, 127.0f}, std::pair{SATTN_PRECISION_INT4, 7.0f}})
    for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_TOPK}) {
      Case c = example_case(pattern, 1, 4, 2, 77, 77, 64, true);
      c.problem.precision = precision;
      c.problem.params.scale_q = 2.1f / levels;
      c.problem.params.scale_k = 2.2f / levels;
      c.problem.params.scale_v = 2.05f / levels;
      c.seed = 900 + static_cast<uint32_t>(pattern);
      sattn_acc::check_case(c);
    }
}
