// Plugin loading: a good plugin registers and runs through the core's layout; plugins of the wrong ABI version,
// without an entry point, with NULL ops, with missing functions or a taken name are refused with a message.
#include <cmath>
#include <cstdlib>
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

TEST_CASE("the built-in cpu backend is registered", "[plugins]") {
  const int32_t cpu = find_backend("cpu");
  REQUIRE(cpu >= 0);
  sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
  REQUIRE(sattn_backend_get_info(cpu, &info) == SATTN_OK);
  REQUIRE(info.available == 1);
  REQUIRE(info.is_plugin == 0);
  REQUIRE(info.device_type == SATTN_DEVICE_CPU);
  REQUIRE(info.pattern_mask == (1u << SATTN_PATTERN_COUNT) - 1u);
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
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-no_entry.so").c_str()),
                       SATTN_ERROR_BACKEND_UNAVAILABLE, "does not export sattn_backend_entry_v1");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-null_ops.so").c_str()),
                       SATTN_ERROR_BACKEND_UNAVAILABLE, "returned NULL");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-missing_fn.so").c_str()),
                       SATTN_ERROR_BACKEND_UNAVAILABLE, "leaves functions NULL");
  test::require_status(sattn_backend_load(plugin("libsattn-backend-test-duplicate_name.so").c_str()),
                       SATTN_ERROR_INVALID_ARGUMENT, "'cpu', a name already taken");
  test::require_status(sattn_backend_load(""), SATTN_ERROR_INVALID_ARGUMENT, "plugin path is empty");
  REQUIRE(sattn_backend_count() == before);
}

TEST_CASE("a good plugin registers, is chosen by name and computes through the layout", "[plugins]") {
  REQUIRE(sattn_backend_load(plugin("libsattn-backend-test-naive.so").c_str()) == SATTN_OK);
  REQUIRE(sattn_backend_load(plugin("libsattn-backend-test-naive.so").c_str()) ==
          SATTN_OK);  // loading twice is a no-op
  const int32_t index = find_backend("naive");
  REQUIRE(index >= 0);
  sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
  REQUIRE(sattn_backend_get_info(index, &info) == SATTN_OK);
  REQUIRE(info.is_plugin == 1);
  REQUIRE(std::string(info.path).find("libsattn-backend-test-naive.so") != std::string::npos);

  sattn_attention_desc d = test::valid_desc();
  d.flags = SATTN_FLAG_CAUSAL;
  test::Problem p(d);
  sattn_plan* automatic = nullptr;
  sattn_plan* named = nullptr;
  REQUIRE(test::create(d, &automatic) == SATTN_OK);
  REQUIRE(test::create(d, &named, "naive") == SATTN_OK);
  sattn_plan_info auto_info = SATTN_PLAN_INFO_INIT, named_info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(automatic, &auto_info) == SATTN_OK);
  REQUIRE(sattn_plan_get_info(named, &named_info) == SATTN_OK);
  REQUIRE(std::string(auto_info.backend) == "cpu");  // the plugin is far more expensive
  REQUIRE(std::string(named_info.backend) == "naive");
  REQUIRE(std::string(named_info.kernel) == "naive_dense_c");

  REQUIRE(test::run(automatic, p.args) == SATTN_OK);
  const std::vector<float> expected = p.o.data;
  std::fill(p.o.data.begin(), p.o.data.end(), 0.0f);
  REQUIRE(test::run(named, p.args) == SATTN_OK);
  float worst = 0.0f;
  for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::fabs(expected[i] - p.o.data[i]));
  REQUIRE(worst < 1e-4f);
  sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
  REQUIRE(sattn_plan_get_stats(named, &stats) == SATTN_OK);
  REQUIRE(stats.instructions == 42);

  // A pattern the plugin does not support: strict refuses, otherwise it falls back to a backend that can.
  d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
  d.params.window_size = 3;
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = "naive";
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  test::require_status(sattn_plan_create(&d, &prefs, &plan), SATTN_ERROR_NOT_SUPPORTED, "naive supports only dense");
  prefs.flags = 0;
  REQUIRE(sattn_plan_create(&d, &prefs, &plan) == SATTN_OK);
  sattn_plan_info fallback = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plan, &fallback) == SATTN_OK);
  REQUIRE(std::string(fallback.backend) == "cpu");
  REQUIRE(std::string(fallback.reason).find("fell back") != std::string::npos);
  sattn_plan_destroy(plan);
  sattn_plan_destroy(automatic);
  sattn_plan_destroy(named);
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
  REQUIRE(find_backend("cpu") >= 0);
  REQUIRE(sattn_backend_count() == 2);
}
