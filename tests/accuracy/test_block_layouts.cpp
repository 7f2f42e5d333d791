// Block patterns without a data-dependent choice: block_local_global (local band, global tokens, negative query
// block positions when Lq > Lk) and block_mask (one mask for all heads or one per query head).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>

using sattn_acc::Case;
using sattn_acc::make_case;

namespace {

struct Sizes {
  int64_t B, Hq, Hk, Lq, Lk, D;
};

const std::array<Sizes, 3> sizes = {{{1, 4, 2, 61, 100, 24}, {2, 4, 1, 130, 77, 16}, {1, 2, 2, 75, 75, 64}}};

}  // namespace

TEST_CASE("block_local_global matches the reference", "[block_local_global]") {
  struct Band {
    int64_t block, local_blocks, global_tokens;
  };
  const std::array<Band, 5> bands = {{{16, 1, 0}, {16, 0, 0}, {8, 2, 0}, {16, 1, 5}, {32, 1, 40}}};
  std::vector<Case> cases;
  uint32_t seed = 400;
  for (bool causal : {false, true})
    for (const Band& band : bands)
      for (const Sizes& s : sizes) {
        Case c = make_case(SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, causal);
        c.problem.params.block_size = band.block;
        c.problem.params.local_blocks = band.local_blocks;
        c.problem.params.global_tokens = band.global_tokens;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("block_mask matches the reference", "[block_mask]") {
  std::vector<Case> cases;
  uint32_t seed = 450;
  for (bool causal : {false, true})
    for (bool per_head : {false, true})
      for (int64_t block : {8, 16, 32})
        for (const Sizes& s : sizes) {
          Case c = make_case(SATTN_PATTERN_BLOCK_MASK, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, causal);
          c.problem.params.block_size = block;
          c.mask_heads = per_head ? s.Hq : 1;
          c.seed = seed++;
          cases.push_back(c);
        }
  sattn_acc::check_cases(cases);
}
