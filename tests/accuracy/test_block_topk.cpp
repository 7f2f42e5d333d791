// block_topk: keep ratio or fixed count, global tokens, NSA-style compression blocks (dividing the block size, not
// dividing it, larger than it), causal, GQA, unequal lengths both ways and lengths that are not block multiples.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>

using sattn_acc::Case;
using sattn_acc::make_case;

namespace {

struct TopkParams {
  int64_t block;
  float keep_ratio;
  int64_t topk_blocks;
  int64_t global_tokens;
  int64_t comp_block;
};

}  // namespace

TEST_CASE("block_topk matches the reference", "[block_topk]") {
  const std::array<TopkParams, 9> selections = {{{16, 0.25f, 0, 0, 0},
                                                 {16, 0.375f, 0, 0, 0},
                                                 {32, 0.5f, 0, 0, 0},
                                                 {16, 0.0f, 1, 0, 0},
                                                 {16, 0.0f, 3, 20, 0},
                                                 {16, 0.25f, 0, 7, 8},
                                                 {16, 0.0f, 2, 0, 12},
                                                 {8, 0.0f, 2, 0, 24},
                                                 {16, 0.0f, 50, 0, 0}}};
  const std::vector<sattn_acc::Sizes> sizes = {{1, 4, 2, 61, 100, 24}, {2, 4, 1, 130, 77, 16}, {1, 2, 2, 97, 97, 64}};
  std::vector<std::function<void(Case&)>> variants;
  for (const TopkParams& t : selections)
    variants.emplace_back([t](Case& c) {
      c.problem.params.block_size = t.block;
      c.problem.params.keep_ratio = t.keep_ratio;
      c.problem.params.topk_blocks = t.topk_blocks;
      c.problem.params.global_tokens = t.global_tokens;
      c.problem.params.comp_block_size = t.comp_block;
    });
  sattn_acc::check_cases(sattn_acc::sweep(SATTN_PATTERN_BLOCK_TOPK, sizes, variants, 300));
}

TEST_CASE("block_topk with one key block and with a single short query block", "[block_topk]") {
  Case c = make_case(SATTN_PATTERN_BLOCK_TOPK, 1, 4, 2, 40, 13, 16, false);
  c.problem.params.block_size = 16;
  c.problem.params.keep_ratio = 0.25f;
  c.seed = 390;
  sattn_acc::check_case(c);

  c = make_case(SATTN_PATTERN_BLOCK_TOPK, 1, 4, 4, 5, 90, 24, true);
  c.problem.params.block_size = 16;
  c.problem.params.topk_blocks = 2;
  c.problem.params.comp_block_size = 10;
  c.seed = 391;
  sattn_acc::check_case(c);
}

TEST_CASE("block_topk keep ratios that are not binary fractions", "[block_topk]") {
  // Lk = 160 with b = 16: ten key blocks, so r * candidates hits whole numbers that fp32 ratios overshoot
  // (0.3f * 10 = 3.0000001): docs/patterns.md fixes n = max(1, ceil(r * candidates - 1e-6)).
  std::vector<Case> cases;
  uint32_t seed = 380;
  for (bool causal : {false, true})
    for (float keep_ratio : {0.1f, 0.3f, 0.7f}) {
      Case c = make_case(SATTN_PATTERN_BLOCK_TOPK, 1, 2, 1, 150, 160, 16, causal);
      c.problem.params.block_size = 16;
      c.problem.params.keep_ratio = keep_ratio;
      c.seed = seed++;
      cases.push_back(c);
    }
  sattn_acc::check_cases(cases);
}
