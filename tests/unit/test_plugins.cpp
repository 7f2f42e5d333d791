// Plugin loading: a good plugin registers and runs through the core's layout; plugins of the wrong ABI version,
// without an entry point, with NULL ops, with missing functions or a taken name are refused with a message.
#include <cmath>
#include <cstdlib>
#include <utility>
#include <string>

#include "api_helpers.hpp"

namespace {

std::string plugin(const char* name) { return std::string(SATTN_TEST_PLUGIN_DIR) + "/" + name; }

int32_t find_backend(const char* name) {
  for (int32_t i = 0; i < sattn_backend_count(); ++i) {
    sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
    REQUIRE(sattn_backend_get_info(i, &info) == SATTN_OK);
    if (std::string(info.name) == name) return i;
  }
  return -1;
}

}  // namespace

TEST_CASE("the built-in reference backend is registered", "[plugins]") {
  const int32_t reference = find_backend("reference");
  REQUIRE(reference >= 0);
  sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
  REQUIRE(sattn_backend_get_info(reference, &info) == SATTN_OK);
  REQUIRE(info.available == 1);
  REQUIRE(info.is_plugin == 0);
  REQUIRE(info.device_type == SATTN_DEVICE_CPU);
  REQUIRE(info.pattern_mask == ((1u << SATTN_PATTERN_COUNT) - 1u & ~(1u << SATTN_PATTERN_AUTO)));
  REQUIRE(info.precision_mask == 0x1fu);
  test::require_status(sattn_backend_get_info(sattn_backend_count(), &info), SATTN_ERROR_INVALID_ARGUMENT,
                       "out of range");
  test::require_status(sattn_backend_get_info(-1, &info), SATTN_ERROR_INVALID_ARGUMENT, "out of range");
}

TEST_CASE("broken plugins are refused with a message", "[plugins]") {
  const int32_t before = sattn_backend_count();
  test::require_status(sattn_backend_load(plugin("does-not-exist.so").c_str()), SATTN_ERROR_BACKEND_UNAVAILABLE,
                       "cannot load plugin");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-wrong_abi.so").c_str()),
                       SATTN_ERROR_VERSION_MISMATCH, "implements backend ABI version 999");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-small_ops.so").c_str()),
                       SATTN_ERROR_VERSION_MISMATCH, "fewer than the");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-no_entry.so").c_str()),
                       SATTN_ERROR_BACKEND_UNAVAILABLE, "does not export sattn_backend_entry_v2");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-null_ops.so").c_str()),
                       SATTN_ERROR_BACKEND_UNAVAILABLE, "returned NULL");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-missing_fn.so").c_str()),
                       SATTN_ERROR_BACKEND_UNAVAILABLE, "leaves functions NULL");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-duplicate_name.so").c_str()),
                       SATTN_ERROR_INVALID_ARGUMENT, "'reference', a name already taken");
  test::require_status(sattn_backend_load(""), SATTN_ERROR_INVALID_ARGUMENT, "plugin path is empty");
  REQUIRE(sattn_backend_count() == before);
}

namespace {

// Runs d on the reference backend and on the named plugin and returns the largest difference of O and of LSE.
std::pair<float, float> plugin_vs_reference(const sattn_attention_desc& d, const char* backend,
                                            const sattn_tensor* block_mask = nullptr) {
  test::Problem p(d, 7);
  test::OwnedTensor lse(1, d.batch, d.num_q_heads, d.q_len, 11);
  lse.view.ndim = 3;
  for (int k = 0; k < 3; ++k) {
    lse.view.shape[k] = lse.view.shape[k + 1];
    lse.view.strides[k] = lse.view.strides[k + 1];
  }
  p.args.lse = &lse.view;
  p.args.block_mask = block_mask;
  sattn_plan* reference = nullptr;
  sattn_plan* plugin_plan = nullptr;
  REQUIRE(test::create(d, &reference, "reference") == SATTN_OK);
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = backend;
  prefs.flags = SATTN_PREF_STRICT;
  test::require_status(sattn_plan_create(&d, &prefs, &plugin_plan), SATTN_OK, "");
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plugin_plan, &info) == SATTN_OK);
  CHECK(info.block_size_q == 16);  // the plugin's tile shape, whatever the pattern's block size
  CHECK(info.block_size_k == 24);
  REQUIRE(test::run(reference, p.args) == SATTN_OK);
  const std::vector<float> o = p.o.data, l = lse.data;
  test::require_status(test::run(plugin_plan, p.args), SATTN_OK, "");
  sattn_plan_stats a = SATTN_PLAN_STATS_INIT, b = SATTN_PLAN_STATS_INIT;
  REQUIRE(sattn_plan_get_stats(reference, &a) == SATTN_OK);
  REQUIRE(sattn_plan_get_stats(plugin_plan, &b) == SATTN_OK);
  CHECK(a.kept_pairs == b.kept_pairs);  // the same kept sets, whatever the tile shape
  CHECK(b.instructions == 42);
  sattn_plan_destroy(reference);
  sattn_plan_destroy(plugin_plan);
  float worst_o = 0.0f, worst_lse = 0.0f;
  for (size_t i = 0; i < o.size(); ++i) worst_o = std::max(worst_o, std::fabs(o[i] - p.o.data[i]));
  for (size_t i = 0; i < l.size(); ++i)
    worst_lse =
        std::isinf(l[i]) && l[i] == lse.data[i] ? worst_lse : std::max(worst_lse, std::fabs(l[i] - lse.data[i]));
  return {worst_o, worst_lse};
}

}  // namespace

TEST_CASE("a good plugin registers, is chosen by name and computes every pattern through the layout", "[plugins]") {
  REQUIRE(sattn_backend_load(plugin("libsattn-backend-test-naive.so").c_str()) == SATTN_OK);
  REQUIRE(sattn_backend_load(plugin("libsattn-backend-test-naive.so").c_str()) ==
          SATTN_OK);  // loading twice is a no-op
  const int32_t index = find_backend("naive");
  REQUIRE(index >= 0);
  sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
  REQUIRE(sattn_backend_get_info(index, &info) == SATTN_OK);
  REQUIRE(info.is_plugin == 1);
  REQUIRE(std::string(info.path).find("libsattn-backend-test-naive.so") != std::string::npos);

  sattn_attention_desc d = test::valid_desc();  // GQA 4:2, Lq 37 != Lk 53, awkward for 16 x 24 tiles
  d.flags = SATTN_FLAG_CAUSAL;
  sattn_plan* automatic = nullptr;
  REQUIRE(test::create(d, &automatic) == SATTN_OK);
  sattn_plan_info auto_info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(automatic, &auto_info) == SATTN_OK);
  REQUIRE(std::string(auto_info.backend) == "cpu");  // the plugin is far more expensive than the built-in ones
  sattn_plan_destroy(automatic);

  struct Variant {
    const char* name;
    int32_t pattern;
    bool causal;
    void (*set)(sattn_pattern_params&);
  };
  const Variant variants[] = {
      {"dense causal", SATTN_PATTERN_DENSE, true, [](sattn_pattern_params&) {}},
      {"window 5 dilation 2 global 3", SATTN_PATTERN_SLIDING_WINDOW, false,
       [](sattn_pattern_params& p) { p.window_size = 5, p.dilation = 2, p.global_tokens = 3; }},
      {"causal ring window 7", SATTN_PATTERN_SLIDING_WINDOW, true,
       [](sattn_pattern_params& p) { p.window_size = 7, p.wrap = 1; }},
      {"block local global b 8", SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, true,
       [](sattn_pattern_params& p) { p.block_size = 8, p.global_tokens = 5; }},
      {"block top-k b 8", SATTN_PATTERN_BLOCK_TOPK, true,
       [](sattn_pattern_params& p) { p.block_size = 8, p.keep_ratio = 0.3f; }},
      {"2:4", SATTN_PATTERN_NM_STRUCTURED, false, [](sattn_pattern_params& p) { p.nm_n = 2, p.nm_m = 4; }},
      {"top-k 5", SATTN_PATTERN_TOPK_PER_QUERY, true, [](sattn_pattern_params& p) { p.topk_k = 5; }},
      {"lsh 4", SATTN_PATTERN_LSH, false, [](sattn_pattern_params& p) { p.lsh_buckets = 4, p.lsh_seed = 3; }},
      {"landmark 6", SATTN_PATTERN_LANDMARK, false, [](sattn_pattern_params& p) { p.num_landmarks = 6; }},
  };
  for (const Variant& v : variants) {
    INFO(v.name);
    sattn_attention_desc vd = test::valid_desc();
    vd.pattern = v.pattern;
    vd.flags = v.causal ? SATTN_FLAG_CAUSAL : 0u;
    v.set(vd.params);
    const auto [o, lse] = plugin_vs_reference(vd, "naive");
    CHECK(o < 1e-4f);
    CHECK(lse < 1e-4f);
  }
  // A user block mask of batch 1, broadcast over both batches.
  sattn_attention_desc md = test::valid_desc();
  md.pattern = SATTN_PATTERN_BLOCK_MASK;
  md.params.block_size = 8;
  md.flags = SATTN_FLAG_CAUSAL;
  std::vector<uint8_t> blocks(static_cast<size_t>(4 * 5 * 7));
  for (size_t n = 0; n < blocks.size(); ++n) blocks[n] = static_cast<uint8_t>((n * 7 + 3) % 5 < 2);
  const sattn_tensor mask{blocks.data(), SATTN_DEVICE_CPU, 0, SATTN_DTYPE_U8, 4, {1, 4, 5, 7}, {140, 35, 7, 1}};
  const auto [o, lse] = plugin_vs_reference(md, "naive", &mask);
  CHECK(o < 1e-4f);
  CHECK(lse < 1e-4f);

  // A precision the plugin's mask leaves out is refused before its supports() is asked.
  d.precision = SATTN_PRECISION_BF16;
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = "naive";
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  test::require_status(sattn_plan_create(&d, &prefs, &plan), SATTN_ERROR_NOT_SUPPORTED,
                       "naive: does not implement precision bf16");
  // Without strict it falls back to a backend that can.
  prefs.flags = 0;
  REQUIRE(sattn_plan_create(&d, &prefs, &plan) == SATTN_OK);
  sattn_plan_info fallback = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plan, &fallback) == SATTN_OK);
  REQUIRE(std::string(fallback.backend) == "cpu");  // the cheapest built-in backend that runs bf16
  REQUIRE(std::string(fallback.reason).find("fell back") != std::string::npos);
  sattn_plan_destroy(plan);
}

TEST_CASE("a plugin built with a newer header's larger ops table is accepted", "[plugins]") {
  REQUIRE(sattn_backend_load(plugin("libsattn-backend-test-newer_ops.so").c_str()) == SATTN_OK);
  sattn_attention_desc d = test::valid_desc();
  const auto [o, lse] = plugin_vs_reference(d, "naive_newer");
  CHECK(o < 1e-4f);
  CHECK(lse < 1e-4f);
}

TEST_CASE("a device backend without device-side selection is not offered data-dependent patterns", "[plugins]") {
  REQUIRE(sattn_backend_load(plugin("libsattn-backend-test-naive_gpu.so").c_str()) == SATTN_OK);
  sattn_attention_desc d = test::valid_desc();
  d.pattern = SATTN_PATTERN_TOPK_PER_QUERY;
  d.params.topk_k = 4;
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = "naive_gpu";
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  test::require_status(sattn_plan_create(&d, &prefs, &plan), SATTN_ERROR_NOT_SUPPORTED,
                       "selects from the tensors, which live on its device");
  // A static pattern is fine: its layout comes from the descriptor alone. Host tensors are then refused.
  d.pattern = SATTN_PATTERN_DENSE;
  REQUIRE(sattn_plan_create(&d, &prefs, &plan) == SATTN_OK);
  test::Problem p(d);
  test::require_status(sattn_plan_can_implement(plan, &p.args), SATTN_ERROR_INVALID_ARGUMENT,
                       "but the plan's backend reads device type 2");
  sattn_plan_destroy(plan);
}

TEST_CASE("an unknown backend name is refused", "[plugins]") {
  sattn_plan* plan = nullptr;
  test::require_status(test::create(test::valid_desc(), &plan, "tpu"), SATTN_ERROR_BACKEND_UNAVAILABLE,
                       "names backend 'tpu', which is not registered");
}

// Run by ctest with SATTN_PLUGIN_PATH naming the plugin folder (good and broken plugins mixed) and a missing entry.
TEST_CASE("plugins on SATTN_PLUGIN_PATH load by themselves; broken ones are skipped", "[.scan]") {
  REQUIRE(std::getenv("SATTN_PLUGIN_PATH") != nullptr);
  REQUIRE(find_backend("naive") >= 0);
  REQUIRE(find_backend("reference") >= 0);
  REQUIRE(find_backend("cpu") >= 0);
  REQUIRE(find_backend("naive_gpu") >= 0);
  REQUIRE(find_backend("naive_newer") >= 0);
  // The built-ins, the three good test plugins and, where it was built, the cuda plugin next to libsattn.so (loaded
  // by the library folder's scan, not from SATTN_PLUGIN_PATH).
  REQUIRE(sattn_backend_count() == 5 + (find_backend("cuda") >= 0 ? 1 : 0));
}
