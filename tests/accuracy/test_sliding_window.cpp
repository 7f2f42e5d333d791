// sliding_window: window, dilation, ring wrap and global tokens, causal or not, with GQA and unequal lengths.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <array>

using sattn_acc::Case;
using sattn_acc::make_case;

namespace {

struct WindowParams {
  int64_t window, dilation, wrap, global_tokens;
};

}  // namespace

TEST_CASE("sliding_window matches the reference", "[sliding_window]") {
  // The narrowest window is w = 1: w = 0 means "not set" and is refused.
  const std::array<WindowParams, 8> windows = {{{1, 1, 0, 0},
                                                {3, 1, 0, 0},
                                                {17, 1, 0, 0},
                                                {5, 2, 0, 0},
                                                {4, 3, 1, 0},
                                                {30, 2, 1, 0},
                                                {6, 1, 0, 5},
                                                {3, 2, 1, 9}}};
  const std::vector<sattn_acc::Sizes> sizes = {{1, 4, 2, 61, 100, 24}, {2, 4, 1, 130, 77, 16}, {1, 1, 1, 59, 59, 64}};
  std::vector<std::function<void(Case&)>> variants;
  for (const WindowParams& w : windows)
    variants.emplace_back([w](Case& c) {
      c.problem.params.window_size = w.window;
      c.problem.params.dilation = w.dilation;
      c.problem.params.wrap = w.wrap;
      c.problem.params.global_tokens = w.global_tokens;
    });
  sattn_acc::check_cases(sattn_acc::sweep(SATTN_PATTERN_SLIDING_WINDOW, sizes, variants, 200));
}

TEST_CASE("sliding_window whose ring wraps more than once counts each key once", "[sliding_window]") {
  // 2w+1 = 41 positions on a ring of 23 keys: every key is reached, some twice.
  Case c = make_case(SATTN_PATTERN_SLIDING_WINDOW, 1, 2, 2, 23, 23, 16, false);
  c.problem.params.window_size = 20;
  c.problem.params.wrap = 1;
  c.seed = 250;
  sattn_acc::check_case(c);
  c.problem.params.dilation = 4;
  c.seed = 251;
  sattn_acc::check_case(c);
}
