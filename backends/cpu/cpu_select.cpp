#include "cpu_select.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace sattn_cpu {

namespace {
// `better` as a function object: nth_element inlines its comparisons (given the function itself, it calls through a
// pointer for each of them).
constexpr auto kBetter = [](const Candidate& a, const Candidate& b) { return better(a, b); };
}  // namespace

// The candidate order as one integer, smaller = better: the rank's bits made unsigned-ascending, inverted (larger
// scores first), above the key index (lower keys first). Distinct keys make every code distinct.
inline uint64_t order_code(const Candidate& c) {
  const float rank = selection_rank(c.score);
  uint32_t bits;
  std::memcpy(&bits, &rank, sizeof bits);
  const uint32_t ascending = (bits >> 31) != 0 ? ~bits : bits | 0x80000000u;  // monotone in the float's value
  return (static_cast<uint64_t>(~ascending) << 32) | static_cast<uint32_t>(c.key);
}

Candidate keep_best(Candidate* candidates, int64_t n, int64_t keep) {
  // Selected on the integer codes (branch-free comparisons, twice as fast as on the structures in the top-k
  // profile), then the candidates at or better than the keep-th code are moved to the front.
  uint64_t codes[kMaxKeepBestCandidates];
  if (n > kMaxKeepBestCandidates) {
    std::nth_element(candidates, candidates + (keep - 1), candidates + n, kBetter);
    return candidates[keep - 1];
  }
  for (int64_t c = 0; c < n; ++c) codes[c] = order_code(candidates[c]);
  std::nth_element(codes, codes + (keep - 1), codes + n);
  const uint64_t threshold = codes[keep - 1];
  Candidate worst{};
  int64_t kept = 0;
  for (int64_t c = 0; c < n; ++c) {
    const uint64_t code = order_code(candidates[c]);
    if (code > threshold) continue;
    if (code == threshold) worst = candidates[c];
    std::swap(candidates[kept++], candidates[c]);
  }
  return worst;
}

void mark_best(const float* scores, int64_t n, int64_t first_key, int64_t keep, uint8_t* kept) {
  Candidate group[256];
  for (int64_t c = 0; c < n; ++c) {
    group[c] = {scores[c], static_cast<int32_t>(first_key + c), 0.0f};
    kept[c] = 0;
  }
  if (keep >= n) {
    for (int64_t c = 0; c < n; ++c) kept[c] = 1;
    return;
  }
  if (keep <= 0) return;
  std::nth_element(group, group + (keep - 1), group + n, kBetter);
  for (int64_t c = 0; c < keep; ++c) kept[group[c].key - first_key] = 1;
}

}  // namespace sattn_cpu
