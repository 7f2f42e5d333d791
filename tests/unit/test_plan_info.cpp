// What a plan reports (backend, kernel, pattern, reason, tiles, density, estimates) and its run statistics, the
// backend override through SATTN_BACKEND, and one plan run concurrently from several threads.
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <thread>

#include "api_helpers.hpp"

TEST_CASE("plan info describes the plan", "[plan]") {
  sattn_attention_desc d = test::valid_desc();
  d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
  d.params.window_size = 4;
  d.flags = SATTN_FLAG_CAUSAL;
  sattn_plan* plan = nullptr;
  REQUIRE(test::create(d, &plan, "reference") == SATTN_OK);  // named: its kernel name is checked below
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
  CHECK(std::string(info.backend) == "reference");
  CHECK(std::string(info.kernel) == "reference_rowwise_fp32");
  CHECK(info.pattern == SATTN_PATTERN_SLIDING_WINDOW);
  CHECK(std::string(info.reason).find("given in the descriptor") != std::string::npos);
  CHECK(info.block_size_q == 64);
  // Exact for a static pattern: 37 queries at positions 16..52 keep 5 keys each.
  CHECK(info.density == Approx(5.0 / 53.0));
  CHECK(info.estimated_flops == Approx(2.0 * 2 * 4 * 37 * 5 * (16 + 8)));
  size_t bytes = 0;
  REQUIRE(sattn_plan_workspace_size(plan, &bytes) == SATTN_OK);
  CHECK(info.workspace_size == bytes);

  test::Problem p(d);
  sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
  REQUIRE(sattn_plan_get_stats(plan, &stats) == SATTN_OK);
  CHECK(stats.runs == 0);
  REQUIRE(test::run(plan, p.args) == SATTN_OK);
  REQUIRE(test::run(plan, p.args) == SATTN_OK);
  REQUIRE(sattn_plan_get_stats(plan, &stats) == SATTN_OK);
  CHECK(stats.runs == 2);
  CHECK(stats.kept_pairs == 2 * 4 * 37 * 5);
  CHECK(stats.simulated_cycles == -1);
  sattn_plan_destroy(plan);
}

TEST_CASE("SATTN_BACKEND overrides the preference", "[plan]") {
  setenv("SATTN_BACKEND", "nonexistent", 1);
  sattn_plan* plan = nullptr;
  test::require_status(test::create(test::valid_desc(), &plan, "reference"), SATTN_ERROR_BACKEND_UNAVAILABLE,
                       "SATTN_BACKEND names backend 'nonexistent'");
  setenv("SATTN_BACKEND", "reference", 1);
  REQUIRE(test::create(test::valid_desc(), &plan) == SATTN_OK);
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
  CHECK(std::string(info.reason).find("named by SATTN_BACKEND") != std::string::npos);
  sattn_plan_destroy(plan);
  unsetenv("SATTN_BACKEND");
}

TEST_CASE("one plan runs from several threads at once", "[plan][threads]") {
  sattn_attention_desc d = test::valid_desc();
  d.pattern = SATTN_PATTERN_TOPK_PER_QUERY;  // data-dependent: each run builds its own layout
  d.params.topk_k = 7;
  d.flags = SATTN_FLAG_CAUSAL;
  sattn_plan* plan = nullptr;
  REQUIRE(test::create(d, &plan) == SATTN_OK);
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<test::Problem>> problems;
  for (int t = 0; t < kThreads; ++t)
    problems.push_back(std::make_unique<test::Problem>(d, 100u + 10u * static_cast<uint32_t>(t)));
  std::vector<std::vector<float>> serial;
  for (auto& p : problems) {
    REQUIRE(test::run(plan, p->args) == SATTN_OK);
    serial.push_back(p->o.data);
    std::fill(p->o.data.begin(), p->o.data.end(), 0.0f);
  }
  std::vector<sattn_status> statuses(kThreads, SATTN_ERROR_INTERNAL);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 3; ++repeat)
        statuses[static_cast<size_t>(t)] = test::run(plan, problems[static_cast<size_t>(t)]->args);
    });
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    REQUIRE(statuses[static_cast<size_t>(t)] == SATTN_OK);
    REQUIRE(problems[static_cast<size_t>(t)]->o.data == serial[static_cast<size_t>(t)]);  // bit-identical
  }
  sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
  REQUIRE(sattn_plan_get_stats(plan, &stats) == SATTN_OK);
  CHECK(stats.runs == kThreads + 3 * kThreads);
  sattn_plan_destroy(plan);
}

TEST_CASE("plans of analytic patterns hold memory in proportion to the query tiles, not their square", "[plan]") {
  // At 2^22 positions the (query tile, key tile) pairs of a dense causal layout number 2^31; the plan holds a few
  // spans per query tile instead.
  for (const int32_t pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW}) {
    sattn_attention_desc d = test::valid_desc();
    d.q_len = d.kv_len = int64_t{1} << 22;
    d.flags = SATTN_FLAG_CAUSAL;
    d.pattern = pattern;
    d.params.window_size = 256;
    sattn_plan* plan = nullptr;
    REQUIRE(test::create(d, &plan, "reference") == SATTN_OK);
    sattn_plan_info info = SATTN_PLAN_INFO_INIT;
    REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
    const int64_t q_tiles = d.q_len / info.block_size_q;
    INFO("pattern " << sattn_pattern_name(pattern) << ": " << info.num_spans << " spans, " << info.plan_bytes
                    << " bytes");
    CHECK(info.num_spans <= 3 * q_tiles);
    CHECK(info.plan_bytes < size_t{8} << 20);
    CHECK(info.density > 0.0);
    sattn_plan_destroy(plan);
  }
}

TEST_CASE("plan_info of an older, smaller size is accepted and filled up to its size", "[plan]") {
  sattn_plan* plan = nullptr;
  REQUIRE(test::create(test::valid_desc(), &plan) == SATTN_OK);
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  info.struct_size = static_cast<uint32_t>(offsetof(sattn_plan_info, plan_bytes));  // as built against 0.1
  info.plan_bytes = 12345;
  REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
  CHECK(info.workspace_size > 0);
  CHECK(info.plan_bytes == 12345);  // beyond the caller's size: untouched
  info.struct_size = static_cast<uint32_t>(offsetof(sattn_plan_info, plan_bytes) + 4);  // no version has this size
  test::require_status(sattn_plan_get_info(plan, &info), SATTN_ERROR_INVALID_ARGUMENT, "not the size of any version");
  sattn_plan_destroy(plan);
}

TEST_CASE("the library names its enums and reads names back, aliases and any case included", "[names]") {
  CHECK(std::string(sattn_pattern_name(SATTN_PATTERN_BLOCK_TOPK)) == "block_topk");
  CHECK(std::string(sattn_precision_name(SATTN_PRECISION_INT4)) == "int4");
  CHECK(std::string(sattn_dtype_name(SATTN_DTYPE_BF16)) == "bf16");
  CHECK(std::string(sattn_device_type_name(SATTN_DEVICE_CUDA_MANAGED)) == "cuda_managed");
  CHECK(sattn_pattern_name(SATTN_PATTERN_COUNT) == nullptr);
  CHECK(sattn_precision_name(-1) == nullptr);
  CHECK(sattn_pattern_from_name("BSR") == SATTN_PATTERN_BLOCK_TOPK);
  CHECK(sattn_pattern_from_name("sliding_global") == SATTN_PATTERN_SLIDING_WINDOW);
  CHECK(sattn_precision_from_name("bfloat16") == SATTN_PRECISION_BF16);
  CHECK(sattn_dtype_from_name("half") == SATTN_DTYPE_F16);
  CHECK(sattn_pattern_from_name("no_such_pattern") == -1);
  CHECK(sattn_dtype_from_name(nullptr) == -1);
  for (int32_t p = 0; p < SATTN_PATTERN_COUNT; ++p) CHECK(sattn_pattern_from_name(sattn_pattern_name(p)) == p);
}

TEST_CASE("static layouts beyond 2^30 query rows are refused instead of stalling plan creation", "[plan]") {
  sattn_attention_desc d = test::valid_desc();
  d.batch = d.num_q_heads = d.num_kv_heads = d.head_dim = d.head_dim_v = 1;
  d.q_len = d.kv_len = (int64_t{1} << 30) + 1;
  sattn_plan* plan = nullptr;
  test::require_status(test::create(d, &plan), SATTN_ERROR_NOT_SUPPORTED, "for q_len up to 2^30; got q_len 1073741825");
  d.pattern = SATTN_PATTERN_TOPK_PER_QUERY;  // built per run: planning stays cheap
  d.params.topk_k = 8;
  REQUIRE(test::create(d, &plan) == SATTN_OK);
  sattn_plan_destroy(plan);
}
