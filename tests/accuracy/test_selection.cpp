// Per-query data-dependent selections: nm_structured, topk_per_query and lsh.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>

using sattn_acc::Case;

namespace {

const std::vector<sattn_acc::Sizes> sizes = {{1, 4, 2, 61, 100, 24}, {2, 4, 1, 130, 77, 16}, {1, 1, 1, 43, 43, 64}};

}  // namespace

TEST_CASE("nm_structured matches the reference", "[nm_structured]") {
  // 2:4 divides neither length; 1:3 and 3:7 leave a short last group; 5:5 keeps every allowed key.
  const std::array<std::array<int64_t, 2>, 4> ratios = {{{2, 4}, {1, 3}, {3, 7}, {5, 5}}};
  std::vector<std::function<void(Case&)>> variants;
  for (const auto& ratio : ratios)
    variants.emplace_back([ratio](Case& c) {
      c.problem.params.nm_n = ratio[0];
      c.problem.params.nm_m = ratio[1];
    });
  sattn_acc::check_cases(sattn_acc::sweep(SATTN_PATTERN_NM_STRUCTURED, sizes, variants, 500));
}

TEST_CASE("topk_per_query matches the reference", "[topk_per_query]") {
  // k = 150 exceeds every key count: all allowed keys are kept.
  std::vector<std::function<void(Case&)>> variants;
  for (int64_t k : {1, 7, 32, 150}) variants.emplace_back([k](Case& c) { c.problem.params.topk_k = k; });
  sattn_acc::check_cases(sattn_acc::sweep(SATTN_PATTERN_TOPK_PER_QUERY, sizes, variants, 550));
}

TEST_CASE("lsh matches the reference", "[lsh]") {
  std::vector<std::function<void(Case&)>> variants;
  for (int64_t buckets : {2, 4, 8})
    variants.emplace_back([buckets](Case& c) {
      c.problem.params.lsh_buckets = buckets;
      c.problem.params.lsh_seed = 0x5EED0000u + c.seed;
    });
  sattn_acc::check_cases(sattn_acc::sweep(SATTN_PATTERN_LSH, sizes, variants, 600));
}
