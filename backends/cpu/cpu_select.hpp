// The cpu backend's own top-k and N:M selection (ops.selects_itself): the ordering docs/patterns.md defines, on
// small arrays, compiled for baseline x86-64 (the per-ISA kernels call these; C++ library algorithms stay out of
// the ISA translation units, see cpu_kernel.hpp).
#pragma once

#include <cstdint>

namespace sattn_cpu {

// A selection candidate: a key's selection score, its index, and its attention score (scaled, base 2).
struct Candidate {
  float score;
  int32_t key;
  float attention;
};
static_assert(sizeof(Candidate) == 3 * sizeof(float), "scratch_layout gives each candidate three floats");

// Larger score first, NaN ranked as -inf, ties to the lower key index.
inline float selection_rank(float score) { return score == score ? score : -__builtin_inff(); }
inline bool better(const Candidate& a, const Candidate& b) {
  const float ra = selection_rank(a.score), rb = selection_rank(b.score);
  return ra > rb || (ra == rb && a.key < b.key);
}

// Candidates keep_best selects on integer codes (a stack array); more fall back to comparing the structures.
constexpr int64_t kMaxKeepBestCandidates = 4096;

// Moves the `keep` best of candidates[0, n) to the front (in any order; keep <= n) and returns the worst of them.
Candidate keep_best(Candidate* candidates, int64_t n, int64_t keep);

// kept[c] = 1 for the `keep` best of the n scores of keys first_key + c (c < n <= 256), 0 for the others.
void mark_best(const float* scores, int64_t n, int64_t first_key, int64_t keep, uint8_t* kept);

}  // namespace sattn_cpu
