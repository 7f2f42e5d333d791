#include "core/selector.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/checked_math.hpp"
#include "core/env.hpp"
#include "core/error.hpp"
#include "core/names.hpp"

namespace sattn {
namespace {

int64_t dtype_bytes(int32_t dtype) { return dtype == SATTN_DTYPE_F32 ? 4 : 2; }

// Costs are in "key visits per query", the work a kernel does for one query row, with penalties for access
// patterns that run below peak. Only their ratio matters.
double sliding_window_cost(const sattn_attention_desc& d) {
  const int64_t w = d.params.window_size;
  const bool causal = (d.flags & SATTN_FLAG_CAUSAL) != 0;
  const double keys = static_cast<double>(std::min<int64_t>(d.kv_len, causal ? w + 1 : 2 * w + 1));
  // A window slides per row, so the G query heads sharing a kv head cannot share key tiles as block kernels do.
  const double group = static_cast<double>(d.num_q_heads / d.num_kv_heads);
  const double gqa_penalty = 1.0 + 0.5 * (group - 1.0) / group;
  return (keys + static_cast<double>(d.params.global_tokens)) * gqa_penalty;
}

double block_topk_cost(const sattn_attention_desc& d, int64_t block) {
  const bool causal = (d.flags & SATTN_FLAG_CAUSAL) != 0;
  const int64_t blocks = ceil_div(d.kv_len, block);
  const double candidates = causal ? std::max(1.0, static_cast<double>(blocks) / 2.0) : static_cast<double>(blocks);
  const double kept = d.params.topk_blocks > 0
                          ? static_cast<double>(std::min<int64_t>(d.params.topk_blocks, blocks))
                          : std::max(1.0, std::ceil(static_cast<double>(d.params.keep_ratio) * candidates));
  const double forced = 1.0 + static_cast<double>(ceil_div(d.params.global_tokens, block));
  const double keys = std::min(static_cast<double>(d.kv_len), (kept + forced) * static_cast<double>(block));
  const double selection = static_cast<double>(blocks) / static_cast<double>(block);  // block scores, amortised
  double cost = keys + selection;
  // A key+value tile that does not fit L1 streams from L2 on every query tile.
  const int64_t l1 = env::positive_integer("SATTN_HW_L1_BYTES", 32768);
  const int64_t tile_bytes = block * (d.head_dim + d.head_dim_v) * dtype_bytes(d.dtype);
  if (tile_bytes > l1) cost *= 1.25;
  const int64_t c = d.params.comp_block_size;
  if (c > 0 && c < block) cost *= 0.9;  // finer compression blocks give sharper selection for the same work
  return cost;
}

void fill_block_size(sattn_attention_desc& d) {
  if (d.params.block_size == 0) d.params.block_size = kAutoBlockSize;
}

PatternChoice chosen(sattn_attention_desc d, int32_t pattern, const std::string& why) {
  d.pattern = pattern;
  if (pattern == SATTN_PATTERN_BLOCK_TOPK || pattern == SATTN_PATTERN_BLOCK_LOCAL_GLOBAL ||
      pattern == SATTN_PATTERN_BLOCK_MASK)
    fill_block_size(d);
  if (pattern == SATTN_PATTERN_BLOCK_TOPK && d.params.keep_ratio == 0.0f && d.params.topk_blocks == 0)
    d.params.keep_ratio = kAutoKeepRatio;
  return {d, std::string("auto: ") + pattern_name(pattern) + ": " + why};
}

}  // namespace

PatternChoice choose_pattern(const sattn_attention_desc& desc) {
  const sattn_pattern_params& p = desc.params;
  if (const auto forced = env::text("SATTN_FORCE_SPEC"); forced && !forced->empty()) {
    const auto pattern = pattern_from_name(*forced);
    require(pattern && *pattern != SATTN_PATTERN_AUTO, "SATTN_FORCE_SPEC='", *forced, "' is not a pattern name");
    return chosen(desc, *pattern, "forced by SATTN_FORCE_SPEC");
  }
  if (p.global_tokens > 0) return chosen(desc, SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, "global_tokens > 0 (rule 1)");
  if (p.nm_n > 0 && p.nm_m > 0 && !env::flag("SATTN_DISABLE_NM"))
    return chosen(desc, SATTN_PATTERN_NM_STRUCTURED, "nm_n and nm_m set (rule 2)");
  if (p.topk_k > 0 && !env::flag("SATTN_DISABLE_TOPK"))
    return chosen(desc, SATTN_PATTERN_TOPK_PER_QUERY, "topk_k set (rule 3)");
  if (p.lsh_buckets > 0 && !env::flag("SATTN_DISABLE_LSH"))
    return chosen(desc, SATTN_PATTERN_LSH, "lsh_buckets set (rule 4)");

  const bool sw_possible = p.window_size > 0 && !env::flag("SATTN_DISABLE_SW");
  const bool bsr_disabled = env::flag("SATTN_DISABLE_BSR");
  const bool bsr_possible = (p.keep_ratio > 0.0f || p.topk_blocks > 0) && !bsr_disabled;
  if (sw_possible && bsr_possible) {
    const int64_t block = p.block_size > 0 ? p.block_size : kAutoBlockSize;
    double sw = sliding_window_cost(desc);
    double bsr = block_topk_cost(desc, block);
    if (env::flag("SATTN_PREFER_BSR")) bsr *= 0.5;
    if (env::flag("SATTN_PREFER_SW")) sw *= 0.5;
    std::ostringstream why;
    why << "cost model (rule 5): sliding_window " << sw << " vs block_topk " << bsr << " key visits per query";
    return chosen(desc, sw <= bsr ? SATTN_PATTERN_SLIDING_WINDOW : SATTN_PATTERN_BLOCK_TOPK, why.str());
  }
  if (sw_possible) return chosen(desc, SATTN_PATTERN_SLIDING_WINDOW, "only window_size set (rule 5)");
  if (bsr_possible) return chosen(desc, SATTN_PATTERN_BLOCK_TOPK, "only keep_ratio/topk_blocks set (rule 5)");
  if (bsr_disabled) return chosen(desc, SATTN_PATTERN_DENSE, "no sparse candidate left (SATTN_DISABLE_BSR)");
  return chosen(desc, SATTN_PATTERN_BLOCK_TOPK, "no cost computable, default (rule 6)");
}

}  // namespace sattn
