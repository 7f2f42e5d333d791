// Per-query data-dependent selections: nm_structured, topk_per_query and lsh.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>

using sattn_acc::Case;
using sattn_acc::make_case;

namespace {

struct Sizes {
  int64_t B, Hq, Hk, Lq, Lk, D;
};

const std::array<Sizes, 3> sizes = {{{1, 4, 2, 61, 100, 24}, {2, 4, 1, 130, 77, 16}, {1, 1, 1, 43, 43, 64}}};

}  // namespace

TEST_CASE("nm_structured matches the reference", "[nm_structured]") {
  // 2:4 divides neither length; 1:3 and 3:7 leave a short last group; 5:5 keeps every allowed key.
  const std::array<std::array<int64_t, 2>, 4> ratios = {{{2, 4}, {1, 3}, {3, 7}, {5, 5}}};
  std::vector<Case> cases;
  uint32_t seed = 500;
  for (bool causal : {false, true})
    for (const auto& [n, m] : ratios)
      for (const Sizes& s : sizes) {
        Case c = make_case(SATTN_PATTERN_NM_STRUCTURED, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, causal);
        c.problem.params.nm_n = n;
        c.problem.params.nm_m = m;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("topk_per_query matches the reference", "[topk_per_query]") {
  // k = 150 exceeds every key count: all allowed keys are kept.
  std::vector<Case> cases;
  uint32_t seed = 550;
  for (bool causal : {false, true})
    for (int64_t k : {1, 7, 32, 150})
      for (const Sizes& s : sizes) {
        Case c = make_case(SATTN_PATTERN_TOPK_PER_QUERY, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, causal);
        c.problem.params.topk_k = k;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("lsh matches the reference", "[lsh]") {
  std::vector<Case> cases;
  uint32_t seed = 600;
  for (bool causal : {false, true})
    for (int64_t buckets : {2, 4, 8})
      for (const Sizes& s : sizes) {
        Case c = make_case(SATTN_PATTERN_LSH, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, causal);
        c.problem.params.lsh_buckets = buckets;
        c.problem.params.lsh_seed = 0x5EED0000u + seed;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}
