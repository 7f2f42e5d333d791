// Block patterns without a data-dependent choice: block_local_global (local band, global tokens, negative query
// block positions when Lq > Lk) and block_mask (one mask for all heads or one per query head).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>

using sattn_acc::Case;

namespace {

const std::vector<sattn_acc::Sizes> sizes = {{1, 4, 2, 61, 100, 24}, {2, 4, 1, 130, 77, 16}, {1, 2, 2, 75, 75, 64}};

}  // namespace

TEST_CASE("block_local_global matches the reference", "[block_local_global]") {
  struct Band {
    int64_t block, local_blocks, global_tokens;
  };
  const std::array<Band, 5> bands = {{{16, 1, 0}, {16, 0, 0}, {8, 2, 0}, {16, 1, 5}, {32, 1, 40}}};
  std::vector<std::function<void(Case&)>> variants;
  for (const Band& band : bands)
    variants.emplace_back([band](Case& c) {
      c.problem.params.block_size = band.block;
      c.problem.params.local_blocks = band.local_blocks;
      c.problem.params.global_tokens = band.global_tokens;
    });
  sattn_acc::check_cases(sattn_acc::sweep(SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, sizes, variants, 400));
}

TEST_CASE("block_mask matches the reference", "[block_mask]") {
  std::vector<std::function<void(Case&)>> variants;
  for (bool per_head : {false, true})
    for (int64_t block : {8, 16, 32})
      variants.emplace_back([per_head, block](Case& c) {
        c.problem.params.block_size = block;
        c.mask_heads = per_head ? c.problem.Hq : 1;
      });
  sattn_acc::check_cases(sattn_acc::sweep(SATTN_PATTERN_BLOCK_MASK, sizes, variants, 450));
}
