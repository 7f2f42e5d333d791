#include "accuracy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sattn.h"

namespace sattn_bench {

Accuracy compare_outputs(std::span<const float> tested, std::span<const float> exact) {
  Accuracy accuracy;
  for (size_t index = 0; index < exact.size(); ++index) {
    const double reference = exact[index];
    const double value = tested[index];
    // A non-finite output is never within tolerance, whatever the reference holds there.
    const double error = std::isfinite(value) ? std::fabs(value - reference) : std::numeric_limits<double>::infinity();
    accuracy.max_abs_error = std::max(accuracy.max_abs_error, error);
    accuracy.max_abs_reference = std::max(accuracy.max_abs_reference, std::fabs(reference));
  }
  accuracy.relative_error =
      accuracy.max_abs_reference > 0.0 ? accuracy.max_abs_error / accuracy.max_abs_reference : accuracy.max_abs_error;
  return accuracy;
}

double tolerance_for_precision(int32_t precision) {
  switch (precision) {
    case SATTN_PRECISION_FP32:
      return 1e-4;
    case SATTN_PRECISION_BF16:
    case SATTN_PRECISION_FP16:
      return 2e-2;
    case SATTN_PRECISION_INT8:
      return 4e-2;
    case SATTN_PRECISION_INT4:
      return 5e-1;
    default:
      return 0.0;  // an unknown precision cannot pass
  }
}

}  // namespace sattn_bench
