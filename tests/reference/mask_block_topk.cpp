// block_topk: per (batch, kv head, query block) keep the best-scoring key blocks, plus the forced ones.
//
// As docs/patterns.md fixes it: n = topk_blocks if > 0 else max(1, ceil(r * candidates - 1e-6));
// kept = the n best candidates (ties to the lower block) UNION the block holding the query block's last position and
// the first ceil(g/b) blocks; query blocks starting before g keep all blocks. Scores are fp32 means and dots.
#include "detail.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sattn_ref::detail {
namespace {

// Mean of rows [begin, end) of K for one (batch, kv head), in fp32 (sum in row order, then one division).
std::vector<float> mean_key_rows(const InputRows& rows, int64_t b, int64_t hk, int64_t begin, int64_t end) {
  std::vector<float> mean(static_cast<size_t>(rows.shape.D), 0.0f);
  for (int64_t j = begin; j < end; ++j) {
    std::span<const float> key = rows.k(b, hk, j);
    for (size_t d = 0; d < mean.size(); ++d) mean[d] += key[d];
  }
  for (float& value : mean) value /= static_cast<float>(end - begin);
  return mean;
}

// qbar: mean over the block's query rows of all G query heads of kv head hk (heads outer, rows inner), fp32.
std::vector<float> mean_query_block(const InputRows& rows, int64_t b, int64_t hk, int64_t begin, int64_t end) {
  const Shape& shape = rows.shape;
  std::vector<float> mean(static_cast<size_t>(shape.D), 0.0f);
  for (int64_t hq = hk * shape.G; hq < (hk + 1) * shape.G; ++hq)
    for (int64_t i = begin; i < end; ++i) {
      std::span<const float> query = rows.q(b, hq, i);
      for (size_t d = 0; d < mean.size(); ++d) mean[d] += query[d];
    }
  for (float& value : mean) value /= static_cast<float>((end - begin) * shape.G);
  return mean;
}

// The score of every key block against qbar: qbar . kbar, or with compression blocks of c rows the max of qbar . kc
// over the compression blocks that overlap the key block.
std::vector<float> key_block_scores(const InputRows& rows, const sattn_pattern_params& params,
                                    const std::vector<std::vector<float>>& pooled_keys,
                                    const std::vector<float>& query_mean) {
  const int64_t block = params.block_size;
  const int64_t key_blocks = ceil_div(rows.shape.Lk, block);
  std::vector<float> scores(static_cast<size_t>(key_blocks));
  for (int64_t kb = 0; kb < key_blocks; ++kb) {
    if (params.comp_block_size <= 0) {
      scores[static_cast<size_t>(kb)] = dot_f32(query_mean, pooled_keys[static_cast<size_t>(kb)]);
      continue;
    }
    const int64_t c = params.comp_block_size;
    const int64_t first = kb * block;
    const int64_t end = std::min((kb + 1) * block, rows.shape.Lk);
    float best = -INFINITY;
    for (int64_t m = first / c; m * c < end; ++m)
      best = std::max(best, dot_f32(query_mean, pooled_keys[static_cast<size_t>(m)]));
    scores[static_cast<size_t>(kb)] = best;
  }
  return scores;
}

// max(1, ceil(r * candidates - 1e-6)) in double (docs/patterns.md): keep_ratio is a float, and without the 1e-6
// r = 0.3f (0.30000001) would keep 4 of 10 blocks instead of 3.
int64_t ratio_count(float keep_ratio, size_t candidates) {
  const double wanted = static_cast<double>(keep_ratio) * static_cast<double>(candidates) - 1e-6;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wanted)));
}

// Which key blocks query block qb of (b, hk) keeps.
std::vector<uint8_t> kept_key_blocks(const Problem& problem, const InputRows& rows,
                                     const std::vector<std::vector<float>>& pooled_keys, int64_t b, int64_t hk,
                                     int64_t qb) {
  const Shape& shape = rows.shape;
  const sattn_pattern_params& params = problem.params;
  const int64_t block = params.block_size;
  const int64_t g = params.global_tokens;
  const int64_t key_blocks = ceil_div(shape.Lk, block);
  const int64_t first_row = qb * block;
  const int64_t end_row = std::min((qb + 1) * block, shape.Lq);
  const int64_t last_position = shape.position(end_row - 1);
  std::vector<uint8_t> kept(static_cast<size_t>(key_blocks), 0);

  if (g > 0 && shape.position(first_row) < g) {
    std::fill(kept.begin(), kept.end(), 1);
    return kept;
  }

  std::vector<int64_t> candidates;
  for (int64_t kb = 0; kb < key_blocks; ++kb)
    if (!problem.causal || kb * block <= last_position) candidates.push_back(kb);
  if (!candidates.empty()) {
    const std::vector<float> query_mean = mean_query_block(rows, b, hk, first_row, end_row);
    const std::vector<float> scores = key_block_scores(rows, params, pooled_keys, query_mean);
    const int64_t n = params.topk_blocks > 0 ? params.topk_blocks : ratio_count(params.keep_ratio, candidates.size());
    for (int64_t kb : best_indices(candidates, scores, n)) kept[static_cast<size_t>(kb)] = 1;
  }

  if (last_position >= 0 && last_position < shape.Lk) kept[static_cast<size_t>(last_position / block)] = 1;
  for (int64_t kb = 0; kb < std::min(ceil_div(g, block), key_blocks); ++kb) kept[static_cast<size_t>(kb)] = 1;
  return kept;
}

}  // namespace

void mask_block_topk(const Problem& problem, const Inputs& inputs, const Shape& shape, std::vector<uint8_t>& mask) {
  const sattn_pattern_params& params = problem.params;
  const int64_t block = params.block_size;
  if (block <= 0) throw std::invalid_argument("sattn_ref: block_topk needs block_size > 0");
  if (params.topk_blocks <= 0 && !(params.keep_ratio > 0.0f && params.keep_ratio <= 1.0f))
    throw std::invalid_argument("sattn_ref: block_topk needs topk_blocks > 0 or keep_ratio in (0, 1]");
  const InputRows rows{shape, inputs};
  // Without compression the pooled keys are the key blocks' means; with it, the compression blocks' means.
  const int64_t pool = params.comp_block_size > 0 ? params.comp_block_size : block;
  const int64_t pooled_count = ceil_div(shape.Lk, pool);
  const int64_t query_blocks = ceil_div(shape.Lq, block);

  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hk = 0; hk < shape.Hk; ++hk) {
      std::vector<std::vector<float>> pooled_keys;
      for (int64_t m = 0; m < pooled_count; ++m)
        pooled_keys.push_back(mean_key_rows(rows, b, hk, m * pool, std::min((m + 1) * pool, shape.Lk)));
      for (int64_t qb = 0; qb < query_blocks; ++qb) {
        const std::vector<uint8_t> kept = kept_key_blocks(problem, rows, pooled_keys, b, hk, qb);
        for (int64_t hq = hk * shape.G; hq < (hk + 1) * shape.G; ++hq)
          for (int64_t i = qb * block; i < std::min((qb + 1) * block, shape.Lq); ++i) {
            std::span<uint8_t> row = mask_row(mask, shape, b, hq, i);
            for (int64_t j = 0; j < shape.Lk; ++j) row[static_cast<size_t>(j)] = kept[static_cast<size_t>(j / block)];
            apply_global_and_causal(row, shape.position(i), params.global_tokens, problem.causal);
          }
      }
    }
}

}  // namespace sattn_ref::detail
