// block_topk (docs/patterns.md): per (batch, kv head, query block) the n key blocks whose mean key best matches the
// query block's mean query over its G heads, optionally scored through NSA-style compression blocks, plus the diagonal
// and global blocks. The selection is computed here once, in fp32, for every backend.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/checked_math.hpp"
#include "core/parallel.hpp"
#include "core/tensor_io.hpp"
#include "layout/rules.hpp"

namespace sattn {
namespace {

// Mean of keys [first, last) of (batch b, kv head h) into mean[0, D), read straight from the tensor (no fp32 copy of
// K): summed in row order in fp32, then divided by the count as fp32, the order the selection is defined with.
void pooled_mean(const sattn_tensor& keys, int64_t b, int64_t h, int64_t first, int64_t last, float* row, float* mean) {
  const int64_t dim = keys.shape[3];
  std::fill(mean, mean + dim, 0.0f);
  for (int64_t r = first; r < last; ++r) {
    load_row_f32(keys, b, h, r, row);
    for (int64_t d = 0; d < dim; ++d) mean[d] += row[d];
  }
  const float n = static_cast<float>(last - first);
  for (int64_t d = 0; d < dim; ++d) mean[d] /= n;
}

// Means of consecutive groups of `size` keys (the last group may be short) for every (batch, kv head), laid out
// [batch * kv heads, groups, D]; parallel over (head, group) so that few heads still use every core.
std::vector<float> pooled_key_means(const sattn_tensor& keys, int64_t size, int32_t num_threads) {
  const int64_t heads = keys.shape[0] * keys.shape[1], count = keys.shape[2], dim = keys.shape[3];
  const int64_t groups = ceil_div(count, size);
  std::vector<float> means(static_cast<size_t>(heads * groups * dim));
  parallel_for(heads * groups, num_threads, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(dim));
    for (int64_t hg = begin; hg < end; ++hg) {
      const int64_t h = hg / groups, g = hg % groups;
      const int64_t first = g * size, last = std::min(count, first + size);
      pooled_mean(keys, h / keys.shape[1], h % keys.shape[1], first, last, row.data(),
                  &means[static_cast<size_t>(hg * dim)]);
    }
  });
  return means;
}

class BlockTopkRule final : public PatternRule {
 public:
  BlockTopkRule(const Geometry& g, const SelectionInputs& in)
      : g_(g),
        block_(in.problem.desc->params.block_size),
        q_blocks_(ceil_div(g.q_len, block_)),
        k_blocks_(ceil_div(g.kv_len, block_)) {
    const sattn_pattern_params& p = in.problem.desc->params;
    const int64_t heads = g.batch * g.kv_heads, D = in.problem.desc->head_dim;
    kept_.resize(static_cast<size_t>(heads * q_blocks_));
    block_means_ = pooled_key_means(*in.args.k, block_, in.problem.num_threads);
    if (p.comp_block_size > 0) {
      comp_blocks_ = ceil_div(g.kv_len, static_cast<int64_t>(p.comp_block_size));
      comp_means_ = pooled_key_means(*in.args.k, p.comp_block_size, in.problem.num_threads);
    }
    // Every (batch, kv head, query block) selects on its own: parallel over all of them, not only over heads (B1 Hk2
    // would use two cores).
    parallel_for(heads * q_blocks_, in.problem.num_threads, 4, [&](int64_t begin, int64_t end) {
      SelectionScratch scratch(D, k_blocks_);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t bh = task / q_blocks_;
        select_block(in, p, bh / g.kv_heads, bh % g.kv_heads, task % q_blocks_, scratch);
      }
    });
  }

  int64_t batches() const override { return g_.batch; }
  int64_t heads() const override { return g_.kv_heads; }
  void candidates(int64_t b, int64_t h, int64_t qt, std::vector<int32_t>& out) const override {
    std::vector<int32_t> blocks;
    for (int64_t qb = g_.q_begin(qt) / block_; qb <= (g_.q_end(qt) - 1) / block_; ++qb) {
      const auto& kept = kept_blocks(b, h, qb);
      blocks.insert(blocks.end(), kept.begin(), kept.end());
    }
    sort_unique(blocks);
    append_block_tiles(g_, block_, blocks, out);
    sort_unique(out);
  }
  // Tiles that are the blocks (the backend asked for tiles of the block size): a kept block is a whole tile.
  bool keeps_whole_tile(int64_t b, int64_t h, int64_t qt, int64_t kt) const override {
    if (g_.tile_q != block_ || g_.tile_k != block_) return false;
    const auto& kept = kept_blocks(b, h, qt);
    return std::binary_search(kept.begin(), kept.end(), static_cast<int32_t>(kt));
  }
  void keep_row(int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const override {
    const auto& kept = kept_blocks(b, hq / g_.group, i / block_);
    for (int64_t j = j0; j < j1; ++j)
      out[j - j0] = std::binary_search(kept.begin(), kept.end(), static_cast<int32_t>(j / block_)) ? 1 : 0;
  }

 private:
  const std::vector<int32_t>& kept_blocks(int64_t b, int64_t hk, int64_t qb) const {
    return kept_[static_cast<size_t>((b * g_.kv_heads + hk) * q_blocks_ + qb)];
  }

  struct SelectionScratch {
    SelectionScratch(int64_t dim, int64_t k_blocks)
        : qbar(static_cast<size_t>(dim)), row(static_cast<size_t>(dim)), scores(static_cast<size_t>(k_blocks)) {}
    std::vector<float> qbar, row, scores;
    std::vector<int64_t> order;
  };

  void select_block(const SelectionInputs& in, const sattn_pattern_params& p, int64_t b, int64_t hk, int64_t qb,
                    SelectionScratch& scratch) {
    const int64_t D = in.problem.desc->head_dim, b_size = block_, Lk = g_.kv_len, head = b * g_.kv_heads + hk;
    const int64_t comp = p.comp_block_size;
    const float* block_means = &block_means_[static_cast<size_t>(head * k_blocks_ * D)];
    const float* comp_means = comp > 0 ? &comp_means_[static_cast<size_t>(head * comp_blocks_ * D)] : nullptr;
    const int64_t global_blocks = std::min(ceil_div(p.global_tokens, b_size), k_blocks_);
    std::vector<float>& qbar = scratch.qbar;
    std::vector<float>& scores = scratch.scores;
    std::vector<int64_t>& order = scratch.order;

    auto& kept = kept_[static_cast<size_t>(head * q_blocks_ + qb)];
    const int64_t i0 = qb * b_size, i1 = std::min(g_.q_len, i0 + b_size);
    const int64_t p_first = g_.position(i0), p_last = g_.position(i1 - 1);
    if (GlobalTokens{p.global_tokens}.query(p_first)) {  // global query rows keep every block
      for (int64_t kb = 0; kb < k_blocks_; ++kb) kept.push_back(static_cast<int32_t>(kb));
      return;
    }
    int64_t candidates = k_blocks_;
    if (g_.causal) candidates = p_last < 0 ? 0 : std::min(k_blocks_, p_last / b_size + 1);
    if (candidates > 0) {
      query_block_mean(in, b, hk, i0, i1, qbar, scratch.row);
      for (int64_t kb = 0; kb < candidates; ++kb)
        scores[static_cast<size_t>(kb)] =
            comp > 0 ? compressed_score(qbar, comp_means, kb, comp, D) : dot_f32(qbar.data(), &block_means[kb * D], D);
      const int64_t n = std::min(candidates, blocks_to_keep(p, candidates));
      order.resize(static_cast<size_t>(candidates));
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + n, order.end(), ScoreOrder{scores.data()});
      for (int64_t r = 0; r < n; ++r) kept.push_back(static_cast<int32_t>(order[static_cast<size_t>(r)]));
    }
    if (p_last >= 0 && p_last < Lk) kept.push_back(static_cast<int32_t>(p_last / b_size));
    for (int64_t kb = 0; kb < global_blocks; ++kb) kept.push_back(static_cast<int32_t>(kb));
    sort_unique(kept);
  }

  // n = topk_blocks, or max(1, ceil(r * candidates)); the 1e-6 keeps 0.3f * 10 (3.0000001) at 3 blocks.
  static int64_t blocks_to_keep(const sattn_pattern_params& p, int64_t candidates) {
    if (p.topk_blocks > 0) return p.topk_blocks;
    const double wanted = std::ceil(static_cast<double>(p.keep_ratio) * static_cast<double>(candidates) - 1e-6);
    return std::max<int64_t>(1, static_cast<int64_t>(wanted));
  }

  // Mean of the query block's rows over all G query heads of kv head hk, read straight from Q (no fp32 copy).
  void query_block_mean(const SelectionInputs& in, int64_t b, int64_t hk, int64_t i0, int64_t i1,
                        std::vector<float>& qbar, std::vector<float>& row) const {
    std::fill(qbar.begin(), qbar.end(), 0.0f);
    for (int64_t hq = hk * g_.group; hq < (hk + 1) * g_.group; ++hq)
      for (int64_t i = i0; i < i1; ++i) {
        load_row_f32(*in.args.q, b, hq, i, row.data());
        for (size_t d = 0; d < qbar.size(); ++d) qbar[d] += row[d];
      }
    const float n = static_cast<float>(g_.group * (i1 - i0));
    for (float& x : qbar) x /= n;
  }

  // Max of qbar . kc over the compression blocks overlapping key block kt.
  float compressed_score(const std::vector<float>& qbar, const float* comp_means, int64_t kb, int64_t comp,
                         int64_t D) const {
    const int64_t first = kb * block_ / comp, last = (std::min(g_.kv_len, (kb + 1) * block_) - 1) / comp;
    float best = -__builtin_inff();
    for (int64_t cb = first; cb <= last; ++cb) {
      const float s = ScoreOrder::rank(dot_f32(qbar.data(), &comp_means[cb * D], D));
      best = std::max(best, s);
    }
    return best;
  }

  Geometry g_;
  int64_t block_, q_blocks_, k_blocks_;          // the pattern's block size b and block counts (not the layout's tiles)
  std::vector<std::vector<int32_t>> kept_;       // per (batch, kv head, query block): kept key blocks, ascending
  std::vector<float> block_means_, comp_means_;  // per (batch, kv head): mean key of each block / compression block
  int64_t comp_blocks_ = 0;                      // compression blocks per (batch, kv head)
};

}  // namespace

std::shared_ptr<const PatternRule> make_block_topk_rule(const Geometry& g, const SelectionInputs& in) {
  return std::make_shared<BlockTopkRule>(g, in);
}

}  // namespace sattn
