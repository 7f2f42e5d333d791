// A typical, non-trivial parameter set for each pattern, for the suites that sweep something else (precision,
// storage type, layout, threads) across every pattern.
#pragma once

#include "harness.hpp"

#include <vector>

namespace sattn_acc {

// Every explicit pattern (landmark drops causal: it is not defined with it).
std::vector<int> all_patterns();

Case example_case(int pattern, int64_t B, int64_t Hq, int64_t Hk, int64_t Lq, int64_t Lk, int64_t D, bool causal);

}  // namespace sattn_acc
