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
