// Every bad descriptor field gets a specific status and a message naming it; nothing crashes.
#include <cmath>
#include <functional>
#include <limits>

#include "api_helpers.hpp"

namespace {

struct BadField {
  const char* what;
  std::function<void(sattn_attention_desc&)> mutate;
  sattn_status status;
  const char* message;
};

void expect_rejected(const BadField& bad) {
  sattn_attention_desc d = test::valid_desc();
  bad.mutate(d);
  sattn_plan* plan = reinterpret_cast<sattn_plan*>(0x1);
  INFO(bad.what);
  test::require_status(test::create(d, &plan), bad.status, bad.message);
  REQUIRE(plan == nullptr);
}

constexpr sattn_status kInvalid = SATTN_ERROR_INVALID_ARGUMENT;
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("the valid descriptor the other cases mutate is accepted", "[validation]") {
  sattn_plan* plan = nullptr;
  test::require_status(test::create(test::valid_desc(), &plan), SATTN_OK, "");
  sattn_plan_destroy(plan);
}

TEST_CASE("non-positive sizes are rejected with the field's name", "[validation]") {
  const std::vector<BadField> cases{
      {"batch 0", [](auto& d) { d.batch = 0; }, kInvalid, "batch must be > 0, got 0"},
      {"num_q_heads -1", [](auto& d) { d.num_q_heads = -1; }, kInvalid, "num_q_heads must be > 0, got -1"},
      {"num_kv_heads 0", [](auto& d) { d.num_kv_heads = 0; }, kInvalid, "num_kv_heads must be > 0"},
      {"q_len -3", [](auto& d) { d.q_len = -3; }, kInvalid, "q_len must be > 0, got -3"},
      {"kv_len 0", [](auto& d) { d.kv_len = 0; }, kInvalid, "kv_len must be > 0"},
      {"head_dim 0", [](auto& d) { d.head_dim = 0; }, kInvalid, "head_dim must be > 0"},
      {"head_dim_v -8", [](auto& d) { d.head_dim_v = -8; }, kInvalid, "head_dim_v must be > 0"},
  };
  for (const auto& bad : cases) expect_rejected(bad);
}

TEST_CASE("heads, overflow, enums, flags and scales are checked", "[validation]") {
  const std::vector<BadField> cases{
      {"GQA mismatch",
       [](auto& d) {
         d.num_q_heads = 6;
         d.num_kv_heads = 4;
       },
       kInvalid, "multiple of num_kv_heads"},
      {"overflowing sizes",
       [](auto& d) {
         d.batch = int64_t{1} << 40;
         d.q_len = int64_t{1} << 30;
       },
       kInvalid, "overflows 64 bits"},
      {"huge but not overflowing",
       [](auto& d) {
         d.q_len = int64_t{1} << 40;
         d.kv_len = int64_t{1} << 40;
       },
       kInvalid, "overflows"},
      {"unknown dtype", [](auto& d) { d.dtype = 77; }, kInvalid, "dtype 77"},
      {"u8 is no attention dtype", [](auto& d) { d.dtype = SATTN_DTYPE_U8; }, kInvalid, "dtype"},
      {"unknown precision", [](auto& d) { d.precision = 9; }, kInvalid, "precision 9"},
      {"unknown pattern", [](auto& d) { d.pattern = 42; }, kInvalid, "pattern 42"},
      {"negative pattern", [](auto& d) { d.pattern = -1; }, kInvalid, "pattern -1"},
      {"unknown flags", [](auto& d) { d.flags = 0x80u; }, kInvalid, "flags 0x80"},
      {"NaN scale", [](auto& d) { d.scale = kNaN; }, kInvalid, "scale must be a finite number"},
      {"negative scale", [](auto& d) { d.scale = -0.5f; }, kInvalid, "scale must be"},
      {"infinite scale", [](auto& d) { d.scale = kInf; }, kInvalid, "scale must be"},
      {"NaN scale_q", [](auto& d) { d.params.scale_q = kNaN; }, kInvalid, "params.scale_q"},
      {"negative scale_v", [](auto& d) { d.params.scale_v = -1.0f; }, kInvalid, "params.scale_v"},
      {"reserved word set", [](auto& d) { d.params.reserved[3] = 1; }, kInvalid, "params.reserved"},
  };
  for (const auto& bad : cases) expect_rejected(bad);
}

TEST_CASE("pattern parameters are checked for the pattern that uses them", "[validation]") {
  const std::vector<BadField> cases{
      {"keep_ratio > 1",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_BLOCK_TOPK;
         d.params.block_size = 16;
         d.params.keep_ratio = 1.5f;
       },
       kInvalid, "keep_ratio must be in (0, 1]"},
      {"keep_ratio NaN",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_BLOCK_TOPK;
         d.params.block_size = 16;
         d.params.keep_ratio = kNaN;
       },
       kInvalid, "keep_ratio"},
      {"keep_ratio negative", [](auto& d) { d.params.keep_ratio = -0.1f; }, kInvalid, "keep_ratio"},
      {"block_topk without ratio",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_BLOCK_TOPK;
         d.params.block_size = 16;
       },
       kInvalid, "keep_ratio in (0, 1] or params.topk_blocks"},
      {"block_topk block 0",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_BLOCK_TOPK;
         d.params.keep_ratio = 0.5f;
       },
       kInvalid, "block_topk needs params.block_size > 0, got 0"},
      {"block_local_global block 0", [](auto& d) { d.pattern = SATTN_PATTERN_BLOCK_LOCAL_GLOBAL; }, kInvalid,
       "block_local_global needs params.block_size > 0"},
      {"block_mask block 0", [](auto& d) { d.pattern = SATTN_PATTERN_BLOCK_MASK; }, kInvalid,
       "block_mask needs params.block_size"},
      {"negative block", [](auto& d) { d.params.block_size = -4; }, kInvalid, "params.block_size must be >= 0"},
      {"N > M",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_NM_STRUCTURED;
         d.params.nm_n = 5;
         d.params.nm_m = 4;
       },
       kInvalid, "nm_n <= nm_m, got N = 5 > M = 4"},
      {"M 0",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_NM_STRUCTURED;
         d.params.nm_n = 1;
       },
       kInvalid, "nm_m >= 1"},
      {"topk 0", [](auto& d) { d.pattern = SATTN_PATTERN_TOPK_PER_QUERY; }, kInvalid, "topk_k >= 1"},
      {"odd buckets",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_LSH;
         d.params.lsh_buckets = 7;
       },
       kInvalid, "even params.lsh_buckets"},
      {"no buckets", [](auto& d) { d.pattern = SATTN_PATTERN_LSH; }, kInvalid, "lsh_buckets >= 2"},
      {"landmark causal",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_LANDMARK;
         d.params.num_landmarks = 4;
         d.flags = SATTN_FLAG_CAUSAL;
       },
       SATTN_ERROR_NOT_SUPPORTED, "not defined with causal"},
      {"landmarks > kv_len",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_LANDMARK;
         d.params.num_landmarks = 54;
       },
       kInvalid, "num_landmarks <= kv_len"},
      {"dilation 0",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
         d.params.window_size = 2;
         d.params.dilation = 0;
       },
       kInvalid, "dilation >= 1"},
      {"wrap 2", [](auto& d) { d.params.wrap = 2; }, kInvalid, "params.wrap must be 0 or 1"},
      {"negative window", [](auto& d) { d.params.window_size = -1; }, kInvalid, "params.window_size must be >= 0"},
      {"negative global", [](auto& d) { d.params.global_tokens = -1; }, kInvalid, "params.global_tokens"},
      {"negative landmark iters", [](auto& d) { d.params.landmark_iters = -1; }, kInvalid, "params.landmark_iters"},
  };
  for (const auto& bad : cases) expect_rejected(bad);
}

TEST_CASE("struct_size must be one this library knows", "[validation]") {
  const std::vector<BadField> cases{
      {"struct_size 0", [](auto& d) { d.struct_size = 0; }, kInvalid, "struct_size is 0"},
      {"larger than known", [](auto& d) { d.struct_size = sizeof(sattn_attention_desc) + 8; },
       SATTN_ERROR_VERSION_MISMATCH, "newer header"},
      {"not a version's size", [](auto& d) { d.struct_size = 12; }, kInvalid, "not the size of any version"},
  };
  for (const auto& bad : cases) expect_rejected(bad);
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.struct_size = 0;
  const sattn_attention_desc d = test::valid_desc();
  sattn_plan* plan = nullptr;
  test::require_status(sattn_plan_create(&d, &prefs, &plan), kInvalid, "sattn_plan_prefs.struct_size is 0");
}

TEST_CASE("NULL pointers are refused at every entry point", "[validation]") {
  const sattn_attention_desc d = test::valid_desc();
  sattn_plan* plan = nullptr;
  test::require_status(sattn_plan_create(nullptr, nullptr, &plan), kInvalid, "sattn_attention_desc pointer is NULL");
  test::require_status(sattn_plan_create(&d, nullptr, nullptr), kInvalid, "out_plan is NULL");
  size_t bytes = 0;
  test::require_status(sattn_plan_workspace_size(nullptr, &bytes), kInvalid, "plan is NULL");
  test::require_status(sattn_plan_can_implement(nullptr, nullptr), kInvalid, "plan is NULL");
  test::require_status(sattn_plan_run(nullptr, nullptr, nullptr, 0, nullptr), kInvalid, "plan is NULL");
  test::require_status(sattn_plan_get_info(nullptr, nullptr), kInvalid, "plan is NULL");
  test::require_status(sattn_plan_get_stats(nullptr, nullptr), kInvalid, "plan is NULL");
  test::require_status(sattn_backend_get_info(0, nullptr), kInvalid, "sattn_backend_info pointer is NULL");
  test::require_status(sattn_backend_load(nullptr), kInvalid, "path is NULL");
  sattn_plan_destroy(nullptr);

  REQUIRE(test::create(d, &plan) == SATTN_OK);
  test::require_status(sattn_plan_workspace_size(plan, nullptr), kInvalid, "out_bytes is NULL");
  test::require_status(sattn_plan_can_implement(plan, nullptr), kInvalid, "sattn_run_args pointer is NULL");
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  info.struct_size = 3;
  test::require_status(sattn_plan_get_info(plan, &info), kInvalid, "sattn_plan_info.struct_size");
  sattn_plan_destroy(plan);
}

TEST_CASE("status strings and the last error", "[validation]") {
  REQUIRE(std::string(sattn_status_string(SATTN_OK)) == "SATTN_OK");
  REQUIRE(std::string(sattn_status_string(SATTN_ERROR_WORKSPACE_TOO_SMALL)) == "SATTN_ERROR_WORKSPACE_TOO_SMALL");
  REQUIRE(std::string(sattn_status_string(static_cast<sattn_status>(15))) == "SATTN_STATUS_UNKNOWN");
  sattn_plan* plan = nullptr;
  sattn_attention_desc d = test::valid_desc();
  d.q_len = -3;
  REQUIRE(test::create(d, &plan) == kInvalid);
  REQUIRE(std::string(sattn_last_error()) == "q_len must be > 0, got -3");
  REQUIRE(test::create(test::valid_desc(), &plan) == SATTN_OK);
  REQUIRE(std::string(sattn_last_error()).empty());
  sattn_plan_destroy(plan);
  REQUIRE(sattn_version() == SATTN_VERSION);
  REQUIRE(std::string(sattn_version_string()) == std::to_string(SATTN_VERSION_MAJOR) + "." + std::to_string(SATTN_VERSION_MINOR) + "." + std::to_string(SATTN_VERSION_PATCH));
}
