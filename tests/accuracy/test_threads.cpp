// One plan run concurrently from four threads on different inputs, each with its own workspace: the header promises
// a plan is immutable and thread safe. Each thread's result is checked against the reference afterwards (Catch2's
// assertions are not thread safe, so the threads only compute verdicts).
#include "examples.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <thread>

using sattn_acc::Case;

TEST_CASE("one plan run from four threads at once", "[threads]") {
  constexpr int thread_count = 4;
  constexpr int runs_per_thread = 3;
  for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_BLOCK_TOPK, SATTN_PATTERN_TOPK_PER_QUERY,
                      SATTN_PATTERN_LANDMARK}) {
    const Case base = sattn_acc::example_case(pattern, 2, 4, 2, 67, 83, 24, true);
    const sattn_acc::Plan plan(base);
    INFO(sattn_acc::describe(base));
    REQUIRE(plan.status() == SATTN_OK);

    std::vector<std::unique_ptr<sattn_acc::Prepared>> prepared;
    for (int t = 0; t < thread_count; ++t) {
      Case c = base;
      c.seed = 1200 + static_cast<uint32_t>(10 * pattern + t);
      prepared.push_back(std::make_unique<sattn_acc::Prepared>(c));
    }
    std::vector<std::vector<sattn_acc::Verdict>> verdicts(thread_count);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t)
      threads.emplace_back([&, t] {
        for (int run = 0; run < runs_per_thread; ++run)
          verdicts[static_cast<size_t>(t)].push_back(sattn_acc::run_and_compare(plan.get(), *prepared[static_cast<size_t>(t)]));
      });
    for (std::thread& thread : threads) thread.join();

    for (int t = 0; t < thread_count; ++t)
      for (const sattn_acc::Verdict& verdict : verdicts[static_cast<size_t>(t)]) {
        INFO("thread " << t << ": " << verdict.summary());
        CHECK(verdict.passed());
      }
  }
}
