// dense: the base case every other pattern builds on, over heads, GQA, unequal lengths both ways and odd sizes.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <utility>

using sattn_acc::Case;
using sattn_acc::make_case;

TEST_CASE("dense matches the reference over heads, GQA and lengths", "[dense]") {
  const std::array<std::pair<int64_t, int64_t>, 3> heads = {{{1, 1}, {4, 2}, {4, 1}}};
  const std::array<std::pair<int64_t, int64_t>, 4> lengths = {{{37, 37}, {61, 100}, {130, 77}, {1, 45}}};
  const std::array<int64_t, 3> head_dims = {16, 24, 64};
  std::vector<Case> cases;
  uint32_t seed = 100;
  for (bool causal : {false, true})
    for (const auto& [Hq, Hk] : heads)
      for (const auto& [Lq, Lk] : lengths) {
        const int64_t D = head_dims[seed % head_dims.size()];
        Case c = make_case(SATTN_PATTERN_DENSE, 1 + seed % 2, Hq, Hk, Lq, Lk, D, causal);
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("dense with Dv != D, an explicit scale and no LSE", "[dense]") {
  Case c = make_case(SATTN_PATTERN_DENSE, 2, 4, 2, 53, 71, 24, false);
  c.problem.Dv = 16;
  c.seed = 7;
  sattn_acc::check_case(c);

  c.problem.Dv = 40;
  c.problem.scale = 0.3;
  c.problem.causal = true;
  c.seed = 8;
  sattn_acc::check_case(c);

  c.with_lse = false;
  c.problem.scale = 0;
  c.seed = 9;
  sattn_acc::check_case(c);
}
