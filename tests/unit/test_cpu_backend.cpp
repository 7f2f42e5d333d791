// The built-in "cpu" backend: registered next to "reference", chosen automatically for every precision (int8 up to
// the head size whose integer dot products fp32 sums exactly, "reference" beyond; in riscv64 builds on a hart with V
// the "rvv" backend is preferred to it), its instruction-set path forced by SATTN_CPU_ISA.
#include <sattn.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

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

TEST_CASE("cpu is a built-in backend of every precision", "[cpu]") {
  bool found = false;
  for (int32_t n = 0; n < sattn_backend_count(); ++n) {
    sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
    REQUIRE(sattn_backend_get_info(n, &info) == SATTN_OK);
    if (std::string(info.name) != "cpu") continue;
    found = true;
    CHECK(info.available == 1);
    CHECK(info.is_plugin == 0);
    CHECK((info.precision_mask & (1u << SATTN_PRECISION_BF16)) != 0);
    CHECK((info.precision_mask & (1u << SATTN_PRECISION_INT8)) != 0);
    CHECK((info.precision_mask & (1u << SATTN_PRECISION_INT4)) != 0);
  }
  CHECK(found);
}

TEST_CASE("automatic selection takes cpu (or rvv) for fp32, bf16 and int8, not cpu beyond head_dim 1040", "[cpu]") {
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
  const Chosen int8 = choose(dense_desc(SATTN_PRECISION_INT8));
  REQUIRE(int8.status == SATTN_OK);
  CHECK(int8.backend == (fastest == "rvv" ? "rvv" : "cpu"));
  sattn_attention_desc wide = dense_desc(SATTN_PRECISION_INT8);
  wide.head_dim = wide.head_dim_v = 1041;  // 1041 * 127^2 > 2^24: fp32 could round an int8 dot product
  const Chosen wide_auto = choose(wide);
  REQUIRE(wide_auto.status == SATTN_OK);
  CHECK(wide_auto.backend != "cpu");
  const Chosen wide_cpu = choose(wide, "cpu", SATTN_PREF_STRICT);
  CHECK(wide_cpu.status == SATTN_ERROR_NOT_SUPPORTED);
  CHECK(wide_cpu.error.find("1040") != std::string::npos);
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

namespace {

struct RunResult {
  std::vector<float> out, lse;
  sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
};

// Runs d on the named backend (strict) over contiguous f32 inputs; returns O, LSE and the plan's statistics.
RunResult run_on(const char* backend, const sattn_attention_desc& d, const std::vector<float>& q,
                 const std::vector<float>& k, const std::vector<float>& v) {
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = backend;
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  REQUIRE(sattn_plan_create(&d, &prefs, &plan) == SATTN_OK);
  RunResult result;
  result.out.assign(static_cast<size_t>(d.batch * d.num_q_heads * d.q_len * d.head_dim_v), 0.0f);
  result.lse.assign(static_cast<size_t>(d.batch * d.num_q_heads * d.q_len), 0.0f);
  auto tensor = [](const float* data, int64_t b, int64_t h, int64_t l, int64_t dim) {
    sattn_tensor t{};
    t.device_type = SATTN_DEVICE_CPU;
    t.data = const_cast<float*>(data);
    t.dtype = SATTN_DTYPE_F32;
    t.ndim = 4;
    const int64_t shape[4] = {b, h, l, dim};
    int64_t stride = 1;
    for (int i = 3; i >= 0; --i) {
      t.shape[i] = shape[i];
      t.strides[i] = stride;
      stride *= shape[i];
    }
    return t;
  };
  const sattn_tensor tq = tensor(q.data(), d.batch, d.num_q_heads, d.q_len, d.head_dim);
  const sattn_tensor tk = tensor(k.data(), d.batch, d.num_kv_heads, d.kv_len, d.head_dim);
  const sattn_tensor tv = tensor(v.data(), d.batch, d.num_kv_heads, d.kv_len, d.head_dim_v);
  const sattn_tensor to = tensor(result.out.data(), d.batch, d.num_q_heads, d.q_len, d.head_dim_v);
  sattn_tensor tl = tensor(result.lse.data(), d.batch, d.num_q_heads, d.q_len, 1);
  tl.ndim = 3;
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &tq;
  args.k = &tk;
  args.v = &tv;
  args.o = &to;
  args.lse = &tl;
  size_t bytes = 0;
  REQUIRE(sattn_plan_workspace_size(plan, &bytes) == SATTN_OK);
  std::vector<unsigned char> workspace(bytes + 64);
  void* aligned = workspace.data();
  size_t space = workspace.size();
  std::align(64, bytes, aligned, space);
  REQUIRE(sattn_plan_run(plan, &args, aligned, bytes, nullptr) == SATTN_OK);
  REQUIRE(sattn_plan_get_stats(plan, &result.stats) == SATTN_OK);
  sattn_plan_destroy(plan);
  return result;
}

// Uniform values in [-2, 2) from a linear congruential generator: reproducible on every platform.
struct Uniform {
  uint32_t state;
  float operator()() {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 16777216.0f * 4.0f - 2.0f;
  }
};

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t n = 0; n < a.size(); ++n) worst = std::max(worst, static_cast<double>(std::fabs(a[n] - b[n])));
  return worst;
}

}  // namespace

TEST_CASE("cpu selects top-k, N:M and lsh itself: same keys as reference, ties to the lower index, kept pairs counted",
          "[cpu]") {
  // Keys in identical pairs (2j, 2j + 1) make every score tie with its neighbour's: the lower index must win, in
  // top-k across tiles and in N:M groups. Lq > Lk with causal leaves the first rows empty.
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = 1;
  d.num_q_heads = 3;
  d.num_kv_heads = 1;
  d.q_len = 150;
  d.kv_len = 140;
  d.head_dim = d.head_dim_v = 16;
  std::vector<float> q(static_cast<size_t>(3 * 150 * 16)), k(static_cast<size_t>(140 * 16)), v(k.size());
  Uniform uniform{12345u};
  for (float& x : q) x = uniform();
  for (float& x : v) x = uniform();
  for (size_t j = 0; j < 140; j += 2)
    for (size_t c = 0; c < 16; ++c) k[j * 16 + c] = k[(j + 1) * 16 + c] = uniform();
  for (const bool causal : {false, true})
    for (const int pattern : {SATTN_PATTERN_TOPK_PER_QUERY, SATTN_PATTERN_NM_STRUCTURED, SATTN_PATTERN_LSH}) {
      d.flags = causal ? SATTN_FLAG_CAUSAL : 0u;
      d.pattern = pattern;
      d.params = SATTN_PATTERN_PARAMS_INIT;
      d.params.topk_k = 9;  // odd: one of a tied pair is in, the other out
      d.params.nm_n = 1;    // 1:2 groups hold exactly one tied pair each (kept: the lower one)
      d.params.nm_m = 2;
      d.params.lsh_buckets = 6;  // lsh: own positions in other buckets, and with Lq > Lk rows without one
      d.params.lsh_seed = 11;
      INFO("pattern " << sattn_pattern_name(pattern) << (causal ? " causal" : ""));
      const RunResult cpu = run_on("cpu", d, q, k, v), reference = run_on("reference", d, q, k, v);
      CHECK(cpu.stats.kept_pairs == reference.stats.kept_pairs);
      CHECK(cpu.stats.density == Approx(reference.stats.density));
      CHECK(max_abs_difference(cpu.out, reference.out) < 1e-4);
      for (size_t n = 0; n < cpu.lse.size(); ++n) {
        if (std::isinf(reference.lse[n])) {
          CHECK(std::isinf(cpu.lse[n]));
        } else {
          CHECK(cpu.lse[n] == Approx(reference.lse[n]).margin(1e-4));
        }
      }
    }
}

TEST_CASE("cpu top-k keeps the lowest keys among many equal scores, across cuts of its candidates", "[cpu]") {
  // Five distinct key vectors repeated over 333 keys: each row has five distinct scores, so the k-th best ties with
  // dozens of keys and every cut (k = 40 keeps 40 of its 128 candidates; 333 keys make several) must keep the lowest
  // indices among them, as reference does.
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = 1;
  d.num_q_heads = 2;
  d.num_kv_heads = 1;
  d.q_len = 70;
  d.kv_len = 333;
  d.head_dim = d.head_dim_v = 8;
  d.pattern = SATTN_PATTERN_TOPK_PER_QUERY;
  d.params.topk_k = 40;
  std::vector<float> q(static_cast<size_t>(2 * 70 * 8)), k(static_cast<size_t>(333 * 8)), v(k.size());
  Uniform uniform{777u};
  for (float& x : q) x = uniform();
  for (float& x : v) x = uniform();
  for (size_t j = 0; j < 333; ++j)
    for (size_t c = 0; c < 8; ++c) k[j * 8 + c] = j < 5 ? uniform() : k[(j % 5) * 8 + c];
  for (const bool causal : {false, true}) {
    d.flags = causal ? SATTN_FLAG_CAUSAL : 0u;
    INFO((causal ? "causal" : "not causal"));
    const RunResult cpu = run_on("cpu", d, q, k, v), reference = run_on("reference", d, q, k, v);
    CHECK(cpu.stats.kept_pairs == reference.stats.kept_pairs);
    CHECK(max_abs_difference(cpu.out, reference.out) < 1e-4);
  }
}
