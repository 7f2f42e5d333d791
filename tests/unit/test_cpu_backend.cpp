// The built-in "cpu" backend: registered next to "reference", chosen automatically for what it runs (fp32 and
// bf16 dense here; in riscv64 builds on a hart with V the "rvv" backend is preferred to it), never for int8 (left to
// "reference"), and its instruction-set path forced by SATTN_CPU_ISA.
#include <sattn.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "api_helpers.hpp"

namespace {

sattn_attention_desc dense_desc(int32_t precision) {
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = 1;
  d.num_q_heads = 4;
  d.num_kv_heads = 2;
  d.q_len = 100;
  d.kv_len = 130;
  d.head_dim = d.head_dim_v = 32;
  d.pattern = SATTN_PATTERN_DENSE;
  d.precision = precision;
  return d;
}

struct Chosen {
  sattn_status status;
  std::string backend, kernel, error;
};

Chosen choose(const sattn_attention_desc& d, const char* backend = nullptr, uint32_t flags = 0) {
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = backend;
  prefs.flags = flags;
  sattn_plan* plan = nullptr;
  Chosen chosen{sattn_plan_create(&d, &prefs, &plan), {}, {}, {}};
  if (chosen.status != SATTN_OK) {
    chosen.error = sattn_last_error();
    return chosen;
  }
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
  chosen.backend = info.backend;
  chosen.kernel = info.kernel;
  sattn_plan_destroy(plan);
  return chosen;
}

}  // namespace

TEST_CASE("cpu is a built-in backend without int8 and int4", "[cpu]") {
  bool found = false;
  for (int32_t n = 0; n < sattn_backend_count(); ++n) {
    sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
    REQUIRE(sattn_backend_get_info(n, &info) == SATTN_OK);
    if (std::string(info.name) != "cpu") continue;
    found = true;
    CHECK(info.available == 1);
    CHECK(info.is_plugin == 0);
    CHECK((info.precision_mask & (1u << SATTN_PRECISION_BF16)) != 0);
    CHECK((info.precision_mask & (1u << SATTN_PRECISION_INT8)) == 0);
    CHECK((info.precision_mask & (1u << SATTN_PRECISION_INT4)) == 0);
  }
  CHECK(found);
}

TEST_CASE("automatic selection takes cpu (or rvv) for fp32 and bf16 dense, reference (or rvv) for int8", "[cpu]") {
  const std::string fastest = test::fastest_builtin_backend();
  const Chosen fp32 = choose(dense_desc(SATTN_PRECISION_FP32));
  REQUIRE(fp32.status == SATTN_OK);
  CHECK(fp32.backend == fastest);
  CHECK(fp32.kernel.rfind(fastest + "_flash_", 0) == 0);
  const Chosen bf16 = choose(dense_desc(SATTN_PRECISION_BF16));
  REQUIRE(bf16.status == SATTN_OK);
  CHECK(bf16.backend == fastest);
  CHECK(bf16.kernel.size() > 5);
  CHECK(bf16.kernel.substr(bf16.kernel.size() - 5) == "_bf16");
  const Chosen int8 = choose(dense_desc(SATTN_PRECISION_INT8));  // rvv runs int8 too, cpu does not
  REQUIRE(int8.status == SATTN_OK);
  CHECK(int8.backend == (fastest == "rvv" ? "rvv" : "reference"));
  CHECK(choose(dense_desc(SATTN_PRECISION_INT8), "cpu", SATTN_PREF_STRICT).status != SATTN_OK);
}

TEST_CASE("SATTN_CPU_ISA forces a path the CPU has and refuses others with a reason", "[cpu]") {
  setenv("SATTN_CPU_ISA", "portable", 1);
  const Chosen portable = choose(dense_desc(SATTN_PRECISION_FP32), "cpu", SATTN_PREF_STRICT);
  CHECK(portable.status == SATTN_OK);
  CHECK(portable.kernel == "cpu_flash_portable_fp32");
  setenv("SATTN_CPU_ISA", "sse9", 1);
  const Chosen unknown = choose(dense_desc(SATTN_PRECISION_FP32), "cpu", SATTN_PREF_STRICT);
  CHECK(unknown.status == SATTN_ERROR_NOT_SUPPORTED);
  CHECK(unknown.error.find("SATTN_CPU_ISA=sse9") != std::string::npos);
  const Chosen fallback = choose(dense_desc(SATTN_PRECISION_FP32));  // not strict: another backend takes over
  CHECK(fallback.status == SATTN_OK);
  CHECK(fallback.backend == (test::backend_available("rvv") ? "rvv" : "reference"));
  unsetenv("SATTN_CPU_ISA");
}

TEST_CASE("the cpu workspace stays a few tiles per core whatever prefs.num_threads asks", "[cpu]") {
  // Found by the fuzzer: one slot per requested thread made INT32_MAX threads ask for hundreds of gigabytes.
  sattn_attention_desc d = dense_desc(SATTN_PRECISION_FP32);
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = "cpu";
  prefs.flags = SATTN_PREF_STRICT;
  size_t modest = 0, greedy = 0;
  sattn_plan* plan = nullptr;
  prefs.num_threads = 1;
  REQUIRE(sattn_plan_create(&d, &prefs, &plan) == SATTN_OK);
  REQUIRE(sattn_plan_workspace_size(plan, &modest) == SATTN_OK);
  sattn_plan_destroy(plan);
  prefs.num_threads = 2147483647;
  REQUIRE(sattn_plan_create(&d, &prefs, &plan) == SATTN_OK);
  REQUIRE(sattn_plan_workspace_size(plan, &greedy) == SATTN_OK);
  sattn_plan_destroy(plan);
  CHECK(greedy <= modest * 1024);  // at most one slot per core of any real machine
}
