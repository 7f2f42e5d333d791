// Random problems: every pattern with parameters, sizes (down to one query or one key), storage types and layouts
// drawn from a fixed-seed generator, to reach the combinations the hand-written suites do not list.
#include "examples.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

using sattn_acc::Case;
using sattn_acc::Layout;

namespace {

class Draw {
 public:
  explicit Draw(uint32_t seed) : generator_(seed) {}
  int64_t integer(int64_t low, int64_t high) { return std::uniform_int_distribution<int64_t>(low, high)(generator_); }
  bool coin() { return integer(0, 1) == 1; }
  template <typename T>
  T pick(std::initializer_list<T> choices) {
    return *(choices.begin() + integer(0, static_cast<int64_t>(choices.size()) - 1));
  }

 private:
  std::mt19937 generator_;
};

void draw_parameters(Draw& draw, Case& c) {
  sattn_pattern_params& params = c.problem.params;
  const int64_t Lk = c.problem.Lk;
  switch (c.problem.pattern) {
    case SATTN_PATTERN_SLIDING_WINDOW:
      params.window_size = draw.integer(1, 20);  // 0 means "not set" and is refused
      params.dilation = draw.integer(1, 4);
      params.wrap = draw.integer(0, 1);
      params.global_tokens = draw.pick<int64_t>({0, 0, 1, 5, 10});
      break;
    case SATTN_PATTERN_BLOCK_TOPK:
      params.block_size = draw.pick<int64_t>({4, 8, 16, 32});
      if (draw.coin()) {
        params.topk_blocks = draw.integer(1, 6);
      } else {
        params.keep_ratio = draw.pick({0.1f, 0.25f, 0.3f, 0.5f, 0.7f, 1.0f});
      }
      params.global_tokens = draw.pick<int64_t>({0, 0, 3, 20});
      params.comp_block_size = draw.pick<int64_t>({0, 0, 2, 5, 8, 40});
      break;
    case SATTN_PATTERN_BLOCK_LOCAL_GLOBAL:
      params.block_size = draw.pick<int64_t>({4, 8, 16, 32});
      params.local_blocks = draw.integer(0, 3);
      params.global_tokens = draw.pick<int64_t>({0, 0, 3, 20});
      break;
    case SATTN_PATTERN_NM_STRUCTURED:
      params.nm_m = draw.integer(1, 8);
      params.nm_n = draw.integer(1, params.nm_m);
      break;
    case SATTN_PATTERN_TOPK_PER_QUERY: params.topk_k = draw.integer(1, 40); break;
    case SATTN_PATTERN_LSH:
      params.lsh_buckets = draw.pick<int64_t>({2, 4, 6, 8, 16});
      params.lsh_seed = static_cast<uint64_t>(draw.integer(0, 1'000'000'000));
      break;
    case SATTN_PATTERN_LANDMARK:
      params.num_landmarks = draw.integer(1, std::min<int64_t>(Lk, 20));
      params.landmark_iters = draw.integer(0, 3);
      break;
    case SATTN_PATTERN_BLOCK_MASK:
      params.block_size = draw.pick<int64_t>({4, 8, 16, 32});
      c.mask_heads = draw.coin() ? c.problem.Hq : 1;
      c.mask_keep_probability = draw.pick({0.1, 0.5, 0.9});
      break;
    default: break;
  }
}

}  // namespace

TEST_CASE("random problems of every pattern", "[random]") {
  Draw draw(20240601u);
  std::vector<Case> cases;
  for (int n = 0; n < 120; ++n) {
    const int pattern = static_cast<int>(draw.integer(SATTN_PATTERN_DENSE, SATTN_PATTERN_COUNT - 1));
    const auto [Hq, Hk] = draw.pick<std::pair<int64_t, int64_t>>({{1, 1}, {2, 2}, {4, 2}, {4, 1}, {3, 1}});
    const int64_t Lq = draw.pick<int64_t>({1, 2, 17, 33, 64, 97, 120});
    const int64_t Lk = draw.pick<int64_t>({1, 3, 16, 41, 64, 100, 119});
    const bool causal = pattern != SATTN_PATTERN_LANDMARK && draw.coin();
    Case c = sattn_acc::make_case(pattern, draw.integer(1, 2), Hq, Hk, Lq, Lk, draw.pick<int64_t>({16, 24, 64}), causal);
    c.problem.Dv = draw.pick<int64_t>({8, 16, 24, 64});
    draw_parameters(draw, c);
    c.dtype = draw.pick({SATTN_DTYPE_F32, SATTN_DTYPE_F32, SATTN_DTYPE_F16, SATTN_DTYPE_BF16});
    c.layout = draw.pick({Layout::bhld, Layout::blhd, Layout::padded});
    c.with_lse = draw.integer(0, 4) != 0;
    c.seed = 5000 + static_cast<uint32_t>(n);
    cases.push_back(c);
  }
  sattn_acc::check_cases(cases);
}
