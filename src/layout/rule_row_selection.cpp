// Patterns that choose keys per query row from the scores: topk_per_query (the k best allowed keys) and
// nm_structured (the N best allowed keys of every aligned group of M). Scores are fp32 dot products of the inputs
// as given; ties go to the lower key index.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/checked_math.hpp"
#include "core/parallel.hpp"
#include "layout/rules.hpp"

namespace sattn {
namespace {

class RowSelectionRule final : public PatternRule {
 public:
  RowSelectionRule(const Geometry& g, const SelectionInputs& in) : g_(g) {
    const sattn_attention_desc& d = *in.problem.desc;
    const int64_t rows = g.batch * g.q_heads * g.q_len;
    kept_.resize(static_cast<size_t>(rows));
    parallel_for(rows, in.problem.num_threads, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> scores(static_cast<size_t>(g.kv_len));
      std::vector<int64_t> order;
      for (int64_t r = begin; r < end; ++r) {
        const int64_t i = r % g.q_len, hq = (r / g.q_len) % g.q_heads, b = r / (g.q_len * g.q_heads);
        // Keys a query may choose from: all of them, or with causal those at or before its position.
        const int64_t allowed = g.causal ? std::clamp<int64_t>(g.position(i) + 1, 0, g.kv_len) : g.kv_len;
        const float* q = &in.q[static_cast<size_t>(r * d.head_dim)];
        const float* k = &in.k[static_cast<size_t>((b * g.kv_heads + hq / g.group) * g.kv_len * d.head_dim)];
        for (int64_t j = 0; j < allowed; ++j)
          scores[static_cast<size_t>(j)] = dot_f32(q, k + j * d.head_dim, d.head_dim);
        auto& kept = kept_[static_cast<size_t>(r)];
        if (d.pattern == SATTN_PATTERN_TOPK_PER_QUERY) {
          choose_best(scores.data(), 0, allowed, d.params.topk_k, order, kept);
        } else {
          for (int64_t start = 0; start < allowed; start += d.params.nm_m)
            choose_best(scores.data(), start, std::min(allowed, start + d.params.nm_m), d.params.nm_n, order, kept);
        }
        std::sort(kept.begin(), kept.end());
      }
    });
  }

  int64_t batches() const override { return g_.batch; }
  int64_t heads() const override { return g_.q_heads; }

  void candidates(int64_t b, int64_t h, int64_t qt, std::vector<int32_t>& out) const override {
    for (int64_t i = g_.q_begin(qt); i < g_.q_end(qt); ++i)
      for (const int32_t j : row(b, h, i)) out.push_back(static_cast<int32_t>(j / g_.tile_k));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  void keep_row(int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const override {
    std::memset(out, 0, static_cast<size_t>(j1 - j0));
    const auto& kept = row(b, hq, i);
    for (auto it = std::lower_bound(kept.begin(), kept.end(), j0); it != kept.end() && *it < j1; ++it)
      out[*it - j0] = 1;
  }

 private:
  const std::vector<int32_t>& row(int64_t b, int64_t hq, int64_t i) const {
    return kept_[static_cast<size_t>((b * g_.q_heads + hq) * g_.q_len + i)];
  }

  // Appends the `count` best keys of [first, last) to kept.
  static void choose_best(const float* scores, int64_t first, int64_t last, int64_t count, std::vector<int64_t>& order,
                          std::vector<int32_t>& kept) {
    const int64_t n = std::min(count, last - first);
    order.resize(static_cast<size_t>(last - first));
    std::iota(order.begin(), order.end(), first);
    std::partial_sort(order.begin(), order.begin() + n, order.end(), ScoreOrder{scores});
    for (int64_t r = 0; r < n; ++r) kept.push_back(static_cast<int32_t>(order[static_cast<size_t>(r)]));
  }

  Geometry g_;
  std::vector<std::vector<int32_t>> kept_;  // per (batch, query head, query row): kept keys, ascending
};

}  // namespace

std::shared_ptr<const PatternRule> make_row_selection_rule(const Geometry& g, const SelectionInputs& in) {
  return std::make_shared<RowSelectionRule>(g, in);
}

}  // namespace sattn
