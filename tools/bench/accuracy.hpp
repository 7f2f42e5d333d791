// Comparison of a backend's output with the exact backend's, and the tolerances of docs/patterns.md.
#pragma once

#include <cstdint>
#include <span>

namespace sattn_bench {

struct Accuracy {
  double max_abs_error = 0.0;      // max |tested - exact|; infinity when tested has a NaN or infinity
  double max_abs_reference = 0.0;  // max |exact|
  double relative_error = 0.0;     // max_abs_error / max_abs_reference (max_abs_error when the reference is all 0)
};

Accuracy compare_outputs(std::span<const float> tested, std::span<const float> exact);

// The tolerance of docs/patterns.md on relative_error for a sattn_precision.
double tolerance_for_precision(int32_t precision);

}  // namespace sattn_bench
