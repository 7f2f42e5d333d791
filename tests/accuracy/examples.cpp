#include "examples.hpp"

namespace sattn_acc {

std::vector<int> all_patterns() {
  std::vector<int> patterns;
  for (int pattern = SATTN_PATTERN_DENSE; pattern < SATTN_PATTERN_COUNT; ++pattern) patterns.push_back(pattern);
  return patterns;
}

Case example_case(int pattern, int64_t B, int64_t Hq, int64_t Hk, int64_t Lq, int64_t Lk, int64_t D, bool causal) {
  Case c = make_case(pattern, B, Hq, Hk, Lq, Lk, D, causal && pattern != SATTN_PATTERN_LANDMARK);
  sattn_pattern_params& params = c.problem.params;
  switch (pattern) {
    case SATTN_PATTERN_SLIDING_WINDOW:
      params.window_size = 7;
      params.dilation = 2;
      params.global_tokens = 3;
      break;
    case SATTN_PATTERN_BLOCK_TOPK:
      params.block_size = 16;
      params.keep_ratio = 0.375f;
      params.comp_block_size = 8;
      break;
    case SATTN_PATTERN_BLOCK_LOCAL_GLOBAL:
      params.block_size = 16;
      params.local_blocks = 1;
      params.global_tokens = 4;
      break;
    case SATTN_PATTERN_NM_STRUCTURED:
      params.nm_n = 2;
      params.nm_m = 4;
      break;
    case SATTN_PATTERN_TOPK_PER_QUERY: params.topk_k = 9; break;
    case SATTN_PATTERN_LSH:
      params.lsh_buckets = 4;
      params.lsh_seed = 42;
      break;
    case SATTN_PATTERN_LANDMARK:
      params.num_landmarks = 6;
      params.landmark_iters = 1;
      break;
    case SATTN_PATTERN_BLOCK_MASK:
      params.block_size = 16;
      c.mask_heads = Hq;
      break;
    default: break;
  }
  return c;
}

}  // namespace sattn_acc
