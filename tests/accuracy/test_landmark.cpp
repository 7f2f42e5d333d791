// landmark: segment means (iters 0) and k-means refinement (iters 2), GQA, Lq != Lk, m from 1 up to Lk.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>

using sattn_acc::Case;
using sattn_acc::make_case;

TEST_CASE("landmark matches the reference", "[landmark]") {
  struct Sizes {
    int64_t B, Hq, Hk, Lq, Lk, D;
  };
  const std::array<Sizes, 3> sizes = {{{1, 4, 2, 61, 100, 24}, {2, 4, 1, 130, 77, 16}, {1, 1, 1, 43, 43, 64}}};
  std::vector<Case> cases;
  uint32_t seed = 700;
  for (int64_t iterations : {0, 2})
    for (int64_t landmarks : {1, 5, 16})
      for (const Sizes& s : sizes) {
        Case c = make_case(SATTN_PATTERN_LANDMARK, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, false);
        c.problem.params.num_landmarks = landmarks;
        c.problem.params.landmark_iters = iterations;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("landmark with one landmark per key is dense attention", "[landmark]") {
  for (int64_t iterations : {0, 2}) {
    Case c = make_case(SATTN_PATTERN_LANDMARK, 1, 4, 2, 30, 23, 16, false);
    c.problem.params.num_landmarks = 23;
    c.problem.params.landmark_iters = iterations;
    c.seed = 750 + static_cast<uint32_t>(iterations);
    sattn_acc::check_case(c);
  }
}
