#include "cpu_select.hpp"

#include <algorithm>

namespace sattn_cpu {

namespace {
// A key of a group: its selection score and index.
struct Scored {
  float score;
  int32_t key;
};
// Larger score first, NaN ranked as -inf, ties to the lower key index; a function object, so that nth_element
// inlines its comparisons.
constexpr auto kBetter = [](const Scored& a, const Scored& b) {
  const float ra = selection_rank(a.score), rb = selection_rank(b.score);
  return ra > rb || (ra == rb && a.key < b.key);
};
}  // namespace

void mark_best(const float* scores, int64_t n, int64_t first_key, int64_t keep, uint8_t* kept) {
  Scored group[256];
  for (int64_t c = 0; c < n; ++c) {
    group[c] = {scores[c], static_cast<int32_t>(first_key + c)};
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
