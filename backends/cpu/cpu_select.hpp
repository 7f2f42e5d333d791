// The cpu backend's own N:M selection in groups wider than a vector (ops.selects_itself): the ordering
// docs/patterns.md defines, on small arrays, compiled for baseline x86-64 (the per-ISA kernels call these; C++ library
// algorithms stay out of the ISA translation units, see cpu_kernel.hpp).
#pragma once

#include <cstdint>

namespace sattn_cpu {

// A selection score's rank: larger first, NaN ranked as -inf (ties go to the lower key index).
inline float selection_rank(float score) { return score == score ? score : -__builtin_inff(); }

// kept[c] = 1 for the `keep` best of the n scores of keys first_key + c (c < n <= 256), 0 for the others.
void mark_best(const float* scores, int64_t n, int64_t first_key, int64_t keep, uint8_t* kept);

}  // namespace sattn_cpu
