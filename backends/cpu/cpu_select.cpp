#include "cpu_select.hpp"

#include <algorithm>

namespace sattn_cpu {

namespace {
// `better` as a function object: nth_element inlines its comparisons (given the function itself, it calls through a
// pointer for each of them).
constexpr auto kBetter = [](const Candidate& a, const Candidate& b) { return better(a, b); };
}  // namespace

Candidate keep_best(Candidate* candidates, int64_t n, int64_t keep) {
  std::nth_element(candidates, candidates + (keep - 1), candidates + n, kBetter);
  return candidates[keep - 1];
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
