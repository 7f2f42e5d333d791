// Per-query selections by score: nm_structured and topk_per_query. "Allowed" keys are those causal lets through;
// the ranking uses the raw fp32 dot q . k (a positive scale does not change the order), ties to the lower index.
#include "detail.hpp"

#include <algorithm>
#include <stdexcept>

namespace sattn_ref::detail {
namespace {

// Calls select(row, allowed keys, score of each key) for every query row.
template <typename Select>
void for_each_query_row(const Problem& problem, const Inputs& inputs, const Shape& shape, std::vector<uint8_t>& mask,
                        Select select) {
  const InputRows rows{shape, inputs};
  std::vector<float> scores(static_cast<size_t>(shape.Lk));
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hq = 0; hq < shape.Hq; ++hq)
      for (int64_t i = 0; i < shape.Lq; ++i) {
        const int64_t p = shape.position(i);
        const int64_t allowed_end = problem.causal ? std::clamp<int64_t>(p + 1, 0, shape.Lk) : shape.Lk;
        for (int64_t j = 0; j < allowed_end; ++j)
          scores[static_cast<size_t>(j)] = dot_f32(rows.q(b, hq, i), rows.k(b, shape.kv_head(hq), j));
        select(mask_row(mask, shape, b, hq, i), allowed_end, scores);
      }
}

}  // namespace

// In every aligned group [mM, mM + M) of keys keep the N allowed keys with the largest score.
void mask_nm_structured(const Problem& problem, const Inputs& inputs, const Shape& shape, std::vector<uint8_t>& mask) {
  const int64_t n = problem.params.nm_n;
  const int64_t m = problem.params.nm_m;
  if (n <= 0 || m <= 0 || n > m) throw std::invalid_argument("sattn_ref: nm_structured needs 0 < N <= M");
  for_each_query_row(problem, inputs, shape, mask,
                     [&](std::span<uint8_t> row, int64_t allowed_end, const std::vector<float>& scores) {
                       for (int64_t start = 0; start < allowed_end; start += m) {
                         std::vector<int64_t> group;
                         for (int64_t j = start; j < std::min(start + m, allowed_end); ++j) group.push_back(j);
                         for (int64_t j : best_indices(group, scores, n)) row[static_cast<size_t>(j)] = 1;
                       }
                     });
}

// Keep the k allowed keys with the largest score (all of them when fewer are allowed).
void mask_topk_per_query(const Problem& problem, const Inputs& inputs, const Shape& shape,
                         std::vector<uint8_t>& mask) {
  const int64_t k = problem.params.topk_k;
  if (k <= 0) throw std::invalid_argument("sattn_ref: topk_per_query needs topk_k > 0");
  for_each_query_row(problem, inputs, shape, mask,
                     [&](std::span<uint8_t> row, int64_t allowed_end, const std::vector<float>& scores) {
                       std::vector<int64_t> allowed;
                       for (int64_t j = 0; j < allowed_end; ++j) allowed.push_back(j);
                       for (int64_t j : best_indices(allowed, scores, k)) row[static_cast<size_t>(j)] = 1;
                     });
}

}  // namespace sattn_ref::detail
