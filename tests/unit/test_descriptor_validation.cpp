// Every bad descriptor field gets a specific status and a message naming it; nothing crashes.
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>

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

TEST_CASE("every field has an upper bound, refused with the field, the bound and the value", "[validation]") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t two40 = int64_t{1} << 40;
  const std::vector<BadField> cases{
      {"batch 2^40 + 1", [&](auto& d) { d.batch = two40 + 1; }, kInvalid,
       "batch must be <= 2^40 (1099511627776), got 1099511627777"},
      {"num_q_heads INT64_MAX", [](auto& d) { d.num_q_heads = d.num_kv_heads = kMax; }, kInvalid,
       "num_q_heads must be <= 2^40"},
      {"num_kv_heads 2^40 + 1", [&](auto& d) { d.num_kv_heads = two40 + 1; }, kInvalid, "num_kv_heads must be <= 2^40"},
      {"q_len INT64_MAX", [](auto& d) { d.q_len = kMax; }, kInvalid,
       "q_len must be <= 2^40 (1099511627776), got 9223372036854775807"},
      {"kv_len 2^40 + 1", [&](auto& d) { d.kv_len = two40 + 1; }, kInvalid, "kv_len must be <= 2^40"},
      {"head_dim 2^16 + 1", [](auto& d) { d.head_dim = 65537; }, kInvalid,
       "head_dim must be <= 2^16 (65536), got 65537"},
      {"head_dim_v INT64_MAX", [](auto& d) { d.head_dim_v = kMax; }, kInvalid, "head_dim_v must be <= 2^16"},
      {"block_size INT64_MAX", [](auto& d) { d.params.block_size = kMax; }, kInvalid,
       "params.block_size must be <= 2^20 (1048576), got 9223372036854775807"},
      {"block_size 2^20 + 1 with block_local_global",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_BLOCK_LOCAL_GLOBAL;
         d.params.block_size = (1 << 20) + 1;
       },
       kInvalid, "params.block_size must be <= 2^20"},
      {"comp_block_size INT64_MAX", [](auto& d) { d.params.comp_block_size = kMax; }, kInvalid,
       "params.comp_block_size must be <= 2^40"},
      {"global_tokens INT64_MAX", [](auto& d) { d.params.global_tokens = kMax; }, kInvalid,
       "params.global_tokens must be <= 2^40"},
      {"local_blocks INT64_MAX",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_BLOCK_LOCAL_GLOBAL;
         d.params.block_size = 8;
         d.params.local_blocks = kMax;
       },
       kInvalid, "params.local_blocks must be <= 2^40 (1099511627776), got 9223372036854775807"},
      {"topk_blocks 2^40 + 1", [&](auto& d) { d.params.topk_blocks = two40 + 1; }, kInvalid,
       "params.topk_blocks must be <= 2^40"},
      {"topk_k INT64_MAX", [](auto& d) { d.params.topk_k = kMax; }, kInvalid, "params.topk_k must be <= 2^40"},
      {"nm_n INT64_MAX", [](auto& d) { d.params.nm_n = kMax; }, kInvalid, "params.nm_n must be <= 2^40"},
      {"nm_m INT64_MAX", [](auto& d) { d.params.nm_m = kMax; }, kInvalid, "params.nm_m must be <= 2^40"},
      {"num_landmarks INT64_MAX", [](auto& d) { d.params.num_landmarks = kMax; }, kInvalid,
       "params.num_landmarks must be <= 2^40"},
      {"landmark_iters 1025", [](auto& d) { d.params.landmark_iters = 1025; }, kInvalid,
       "params.landmark_iters must be <= 2^10 (1024), got 1025"},
      {"lsh_buckets 2^20 + 2", [](auto& d) { d.params.lsh_buckets = (1 << 20) + 2; }, kInvalid,
       "params.lsh_buckets must be <= 2^20"},
      {"window_size INT64_MAX", [](auto& d) { d.params.window_size = kMax; }, kInvalid,
       "params.window_size must be <= 2^60"},
      {"dilation INT64_MAX", [](auto& d) { d.params.dilation = kMax; }, kInvalid, "params.dilation must be <= 2^60"},
      // The selector's cost model reads window_size before any pattern-specific check.
      {"auto with a huge window",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_AUTO;
         d.params.window_size = int64_t{1} << 62;
         d.params.keep_ratio = 0.5f;
       },
       kInvalid, "params.window_size must be <= 2^60"},
      {"window * dilation > 2^60",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
         d.params.window_size = int64_t{1} << 30;
         d.params.dilation = (int64_t{1} << 30) + 1;
       },
       kInvalid, "params.window_size * params.dilation must be <= 2^60"},
      {"LSH projection too large",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_LSH;
         d.head_dim = 1024;
         d.params.lsh_buckets = 1 << 16;
       },
       kInvalid, "head_dim * params.lsh_buckets / 2 <= 2^24"},
  };
  for (const auto& bad : cases) expect_rejected(bad);
}

TEST_CASE("values at the bounds are accepted", "[validation]") {
  // Plans whose layout is built per run, so accepting them costs nothing.
  sattn_attention_desc d = test::valid_desc();
  d.pattern = SATTN_PATTERN_BLOCK_TOPK;
  d.params.block_size = 1 << 20;
  d.params.topk_blocks = int64_t{1} << 40;
  d.params.global_tokens = int64_t{1} << 40;
  d.params.comp_block_size = int64_t{1} << 40;
  d.params.local_blocks = int64_t{1} << 40;
  d.params.nm_n = d.params.nm_m = d.params.topk_k = d.params.num_landmarks = int64_t{1} << 40;
  d.params.window_size = d.params.dilation = int64_t{1} << 60;
  d.params.lsh_buckets = 1 << 20;
  d.params.landmark_iters = 1024;
  d.head_dim = d.head_dim_v = 1 << 16;
  sattn_plan* plan = nullptr;
  test::require_status(test::create(d, &plan), SATTN_OK, "");
  sattn_plan_destroy(plan);

  // With block_size 0 the backend picks tiles that keep the tile count within int32: 2^37 keys in tiles of 64 would
  // be 2^31 tiles, so the reference backend takes wider ones.
  d = test::valid_desc();
  d.batch = d.num_q_heads = d.num_kv_heads = d.q_len = d.head_dim = d.head_dim_v = 1;
  d.kv_len = int64_t{1} << 37;
  test::require_status(test::create(d, &plan), SATTN_OK, "");
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
  CHECK((d.kv_len + info.block_size_k - 1) / info.block_size_k <= INT32_MAX);
  sattn_plan_destroy(plan);

  // Each size at 2^40 in turn, the others 1 so that no product overflows.
  for (int64_t sattn_attention_desc::*field : {&sattn_attention_desc::batch, &sattn_attention_desc::num_q_heads,
                                               &sattn_attention_desc::q_len, &sattn_attention_desc::kv_len}) {
    d = test::valid_desc();
    d.pattern = SATTN_PATTERN_TOPK_PER_QUERY;
    d.params.topk_k = 4;
    d.params.block_size = 1 << 20;
    d.batch = d.num_q_heads = d.num_kv_heads = d.q_len = d.kv_len = d.head_dim = d.head_dim_v = 1;
    d.*field = int64_t{1} << 40;
    if (field == &sattn_attention_desc::num_q_heads) d.num_kv_heads = d.num_q_heads;
    test::require_status(test::create(d, &plan), SATTN_OK, "");
    sattn_plan_destroy(plan);
  }
}

TEST_CASE("sliding_window needs a window and rings are bounded", "[validation]") {
  const std::vector<BadField> cases{
      {"sliding_window without window_size", [](auto& d) { d.pattern = SATTN_PATTERN_SLIDING_WINDOW; }, kInvalid,
       "sliding_window needs params.window_size >= 1 (0 = not set), got 0"},
      {"forced sliding_window with global tokens but no window",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
         d.params.global_tokens = 4;
       },
       kInvalid, "params.window_size >= 1"},
      {"ring longer than 2^31",
       [](auto& d) {
         d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
         d.params.window_size = 4;
         d.params.wrap = 1;
         d.batch = d.num_q_heads = d.num_kv_heads = d.q_len = d.head_dim = d.head_dim_v = 1;
         d.kv_len = (int64_t{1} << 31) + 1;
       },
       kInvalid, "sliding_window with params.wrap = 1 needs kv_len <= 2^31 (2147483648), got 2147483649"},
      {"too many blocks of the given size",
       [](auto& d) {
         d.batch = d.num_q_heads = d.num_kv_heads = d.kv_len = d.head_dim = d.head_dim_v = 1;
         d.q_len = int64_t{1} << 33;
         d.params.block_size = 2;
       },
       kInvalid, "q_len (8589934592) in blocks of 2 gives more than 2^31 - 1 blocks"},
  };
  for (const auto& bad : cases) expect_rejected(bad);

  sattn_attention_desc d = test::valid_desc();
  d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
  d.params.window_size = 1;
  d.params.wrap = 1;
  sattn_plan* plan = nullptr;
  test::require_status(test::create(d, &plan), SATTN_OK, "");
  sattn_plan_destroy(plan);
}

TEST_CASE("unknown flags, enums and reserved words are refused with the value", "[validation]") {
  std::vector<BadField> cases{
      {"flag bit 31", [](auto& d) { d.flags = SATTN_FLAG_CAUSAL | 0x80000000u; }, kInvalid,
       "flags 0x80000000 are not known"},
      {"flag bit 2", [](auto& d) { d.flags = 0x4u; }, kInvalid, "flags 0x4 are not known"},
      {"precision -1", [](auto& d) { d.precision = -1; }, kInvalid, "precision -1 is not a sattn_precision"},
      {"precision 5", [](auto& d) { d.precision = 5; }, kInvalid, "precision 5 is not a sattn_precision"},
      {"dtype 0", [](auto& d) { d.dtype = 0; }, kInvalid, "dtype 0 is not a tensor dtype"},
      {"pattern 10", [](auto& d) { d.pattern = SATTN_PATTERN_COUNT; }, kInvalid, "pattern 10 is not a sattn_pattern"},
  };
  for (int i = 0; i < 16; ++i) {
    const std::string message = "params.reserved[" + std::to_string(i) + "] is " + std::to_string(-1 - i);
    sattn_attention_desc d = test::valid_desc();
    d.params.reserved[i] = -1 - i;
    sattn_plan* plan = nullptr;
    INFO("reserved[" << i << "]");
    test::require_status(test::create(d, &plan), kInvalid, message + " but must be zero");
  }
  for (const auto& bad : cases) expect_rejected(bad);

  const sattn_attention_desc d = test::valid_desc();
  sattn_plan* plan = nullptr;
  for (const uint32_t flags : {0x2u, 0x3u, 0x80000000u}) {
    sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
    prefs.flags = flags;
    std::ostringstream expected;
    expected << "prefs.flags 0x" << std::hex << (flags & ~SATTN_PREF_STRICT) << " are not known";
    INFO("prefs.flags " << flags);
    test::require_status(sattn_plan_create(&d, &prefs, &plan), kInvalid, expected.str());
    REQUIRE(plan == nullptr);
  }
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.flags = SATTN_PREF_STRICT;
  test::require_status(sattn_plan_create(&d, &prefs, &plan), SATTN_OK, "");
  sattn_plan_destroy(plan);
  prefs.num_threads = -1;
  test::require_status(sattn_plan_create(&d, &prefs, &plan), kInvalid,
                       "prefs.num_threads must be >= 0 (0 = all cores), got -1");
  prefs.num_threads = 0;
  prefs.device_id = -2;
  test::require_status(sattn_plan_create(&d, &prefs, &plan), kInvalid, "prefs.device_id must be >= 0, got -2");
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
  REQUIRE(std::string(sattn_version_string()) == std::to_string(SATTN_VERSION_MAJOR) + "." +
                                                     std::to_string(SATTN_VERSION_MINOR) + "." +
                                                     std::to_string(SATTN_VERSION_PATCH));
}
