// The row-selecting data-dependent patterns the cuda backend selects on the device (topk_per_query, nm_structured,
// lsh, landmark) against the reference backend, which selects on the host: random inputs of awkward shapes (Lq != Lk
// both ways, lengths not a multiple of the 128 x 64 tiles, GQA, causal, BLHD strides, odd head dims), f32/f16/bf16
// tensors, O and LSE, with the tolerances of docs/patterns.md. Keys with exactly tied scores (duplicated key rows with
// different values) check that the device breaks ties to the lower index as the core does. Without a GPU the test
// says why and passes without running. A hidden case ([timing]) times L = 4096 against dense.
#define CATCH_CONFIG_MAIN
#include "cuda_test_support.hpp"

#include <cstdio>
#include <cstdlib>

namespace {

// This program's own cases (pattern parameters, tied keys); the tensors, the plan and the skip are the shared ones.
using cuda_test::check_outputs;
using cuda_test::DeviceWorkspace;
using cuda_test::make_plan;
using cuda_test::Mirrored;
using cuda_test::skip_without_gpu;

struct Case {
  int32_t pattern;
  int64_t batch, q_heads, kv_heads, q_len, kv_len, head_dim, head_dim_v;
  int32_t dtype, precision;
  bool causal, blhd;
  int64_t tie_period;  // 0: no duplicated keys
  sattn_pattern_params params;
};

std::string describe(const Case& c) {
  return std::string(sattn_pattern_name(c.pattern)) + " " + sattn_dtype_name(c.dtype) + "/" +
         sattn_precision_name(c.precision) + " B" + std::to_string(c.batch) + " Hq" + std::to_string(c.q_heads) +
         " Hk" + std::to_string(c.kv_heads) + " Lq" + std::to_string(c.q_len) + " Lk" + std::to_string(c.kv_len) +
         " D" + std::to_string(c.head_dim) + " Dv" + std::to_string(c.head_dim_v) + (c.causal ? " causal" : "") +
         (c.blhd ? " blhd" : " bhld") + " ties" + std::to_string(c.tie_period) + " k" +
         std::to_string(c.params.topk_k) + " N" + std::to_string(c.params.nm_n) + " M" + std::to_string(c.params.nm_m) +
         " nb" + std::to_string(c.params.lsh_buckets) + " m" + std::to_string(c.params.num_landmarks) + " t" +
         std::to_string(c.params.landmark_iters);
}

sattn_attention_desc descriptor(const Case& c) {
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = c.batch, d.num_q_heads = c.q_heads, d.num_kv_heads = c.kv_heads, d.q_len = c.q_len, d.kv_len = c.kv_len;
  d.head_dim = c.head_dim, d.head_dim_v = c.head_dim_v;
  d.dtype = c.dtype, d.precision = c.precision, d.pattern = c.pattern, d.params = c.params;
  d.flags = c.causal ? SATTN_FLAG_CAUSAL : 0u;
  return d;
}

void run_case(const Case& c, uint32_t seed) {
  INFO(describe(c));
  const sattn_attention_desc d = descriptor(c);
  std::mt19937 rng(seed);
  Mirrored q(c.batch, c.q_heads, c.q_len, c.head_dim, c.dtype, c.blhd, 0, rng);
  Mirrored k(c.batch, c.kv_heads, c.kv_len, c.head_dim, c.dtype, c.blhd, 0, rng);
  Mirrored v(c.batch, c.kv_heads, c.kv_len, c.head_dim_v, c.dtype, c.blhd, 0, rng);
  Mirrored o(c.batch, c.q_heads, c.q_len, c.head_dim_v, c.dtype, c.blhd, 0, rng);
  Mirrored lse(c.batch, c.q_heads, c.q_len, 1, SATTN_DTYPE_F32, false, 0, rng);
  lse.strides[0] = c.q_heads * c.q_len, lse.strides[1] = c.q_len, lse.strides[2] = 1, lse.strides[3] = 1;
  if (c.tie_period > 0) k.duplicate_rows(c.tie_period);

  // Host reference first: its outputs are the host buffers (their random contents are overwritten).
  sattn_plan* reference = make_plan(d, "reference");
  sattn_tensor tq = q.view(false), tk = k.view(false), tv = v.view(false), to = o.view(false), tl = lse.view(false, 3);
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &tq, args.k = &tk, args.v = &tv, args.o = &to, args.lse = &tl;
  size_t bytes = 0;
  REQUIRE(sattn_plan_workspace_size(reference, &bytes) == SATTN_OK);
  std::vector<unsigned char> host_workspace(bytes);
  REQUIRE(sattn_plan_run(reference, &args, host_workspace.data(), bytes, nullptr) == SATTN_OK);
  sattn_plan_destroy(reference);

  sattn_plan* plan = make_plan(d, "cuda");
  {
    DeviceWorkspace workspace(plan);
    INFO("workspace " << workspace.bytes << " bytes");
    sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), dout = o.view(true), dl = lse.view(true, 3);
    sattn_run_args device_args = SATTN_RUN_ARGS_INIT;
    device_args.q = &dq, device_args.k = &dk, device_args.v = &dv, device_args.o = &dout, device_args.lse = &dl;
    cudaStream_t stream = nullptr;
    REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
    const sattn_status status = sattn_plan_run(plan, &device_args, workspace.data, workspace.bytes, stream);
    INFO(sattn_status_string(status) << ": " << sattn_last_error());
    REQUIRE(status == SATTN_OK);
    const cudaError_t synchronized = cudaStreamSynchronize(stream);
    INFO("after the run: " << cudaGetErrorString(synchronized));
    REQUIRE(synchronized == cudaSuccess);
    cudaStreamDestroy(stream);
  }
  sattn_plan_destroy(plan);

  check_outputs(o, &lse, c.precision);
}

Case make(int32_t pattern, int32_t dtype, int32_t precision, int64_t head_dim) {
  return Case{pattern,  1,     2,         1,     100,   150, head_dim,
              head_dim, dtype, precision, false, false, 0,   SATTN_PATTERN_PARAMS_INIT};
}

// The shape variations every pattern goes through: Lq < Lk, Lq > Lk, GQA with BLHD strides, causal where defined.
std::vector<Case> shapes(Case c, bool causal_defined) {
  std::vector<Case> out;
  for (const bool causal : {false, true}) {
    if (causal && !causal_defined) continue;
    c.causal = causal;
    c.batch = 1, c.q_heads = 2, c.kv_heads = 1, c.q_len = 100, c.kv_len = 333, c.blhd = false;
    out.push_back(c);
    c.batch = 2, c.q_heads = 4, c.kv_heads = 2, c.q_len = 300, c.kv_len = 130, c.blhd = true;  // Lq > Lk, GQA
    out.push_back(c);
  }
  return out;
}

void append(std::vector<Case>& cases, const std::vector<Case>& more) {
  cases.insert(cases.end(), more.begin(), more.end());
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  // Tensor-core attention (bf16/f16, D 64 and 128) and the generic kernel (f32, an odd head dim, Dv != D).
  const struct {
    int32_t dtype, precision;
    int64_t head_dim, head_dim_v;
  } kinds[] = {{SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64, 64},
               {SATTN_DTYPE_F16, SATTN_PRECISION_FP16, 128, 128},
               {SATTN_DTYPE_F32, SATTN_PRECISION_FP32, 40, 24},
               {SATTN_DTYPE_BF16, SATTN_PRECISION_FP32, 37, 37}};
  for (const auto& kind : kinds) {
    Case c = make(SATTN_PATTERN_TOPK_PER_QUERY, kind.dtype, kind.precision, kind.head_dim);
    c.head_dim_v = kind.head_dim_v;
    c.params.topk_k = 17;
    append(cases, shapes(c, true));

    c = make(SATTN_PATTERN_NM_STRUCTURED, kind.dtype, kind.precision, kind.head_dim);
    c.head_dim_v = kind.head_dim_v;
    c.params.nm_n = 2, c.params.nm_m = 7;  // Lk is no multiple of M: the last group is short
    append(cases, shapes(c, true));

    c = make(SATTN_PATTERN_LSH, kind.dtype, kind.precision, kind.head_dim);
    c.head_dim_v = kind.head_dim_v;
    c.params.lsh_buckets = 8, c.params.lsh_seed = 12345;
    append(cases, shapes(c, true));

    c = make(SATTN_PATTERN_LANDMARK, kind.dtype, kind.precision, kind.head_dim);
    c.head_dim_v = kind.head_dim_v;
    c.params.num_landmarks = 70, c.params.landmark_iters = 2;
    append(cases, shapes(c, false));
  }
  // topk: k larger than the allowed keys (causal rows near the start, and k > Lk), exact ties, k = 1.
  {
    Case c = make(SATTN_PATTERN_TOPK_PER_QUERY, SATTN_DTYPE_F32, SATTN_PRECISION_FP32, 64);
    c.q_len = c.kv_len = 200, c.causal = true, c.params.topk_k = 90;
    cases.push_back(c);
    c.causal = false, c.params.topk_k = 500;
    cases.push_back(c);
    c.params.topk_k = 1, c.tie_period = 2, c.q_len = 90, c.kv_len = 257;  // every odd key ties with its predecessor
    cases.push_back(c);
    c.params.topk_k = 40, c.tie_period = 3, c.causal = true;
    cases.push_back(c);
    c.dtype = SATTN_DTYPE_BF16, c.precision = SATTN_PRECISION_BF16, c.tie_period = 2;  // bf16 inputs tie too
    cases.push_back(c);
  }
  // N:M: N = M (every allowed key), N = 1 with ties, M larger than Lk, M = 4 with causal.
  {
    Case c = make(SATTN_PATTERN_NM_STRUCTURED, SATTN_DTYPE_F32, SATTN_PRECISION_FP32, 64);
    c.q_len = 77, c.kv_len = 301, c.params.nm_n = 1, c.params.nm_m = 4, c.tie_period = 2;
    cases.push_back(c);
    c.causal = true, c.q_len = c.kv_len = 201, c.params.nm_n = 3, c.params.nm_m = 3;
    cases.push_back(c);
    c.causal = false, c.params.nm_n = 5, c.params.nm_m = 1000, c.tie_period = 3;
    cases.push_back(c);
    c.causal = true, c.params.nm_n = 2, c.params.nm_m = 4, c.dtype = SATTN_DTYPE_BF16;
    c.precision = SATTN_PRECISION_BF16, c.head_dim = c.head_dim_v = 128, c.q_heads = 4, c.kv_heads = 2;
    cases.push_back(c);
  }
  // lsh: several bucket counts and seeds, from 2 buckets (half the keys) to more buckets than keys.
  for (const int64_t buckets : {2, 4, 16, 64, 1024}) {
    Case c = make(SATTN_PATTERN_LSH, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64);
    c.q_len = 260, c.kv_len = 390, c.q_heads = 4, c.kv_heads = 2, c.causal = buckets % 3 == 1;
    c.params.lsh_buckets = buckets, c.params.lsh_seed = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(buckets);
    cases.push_back(c);
  }
  {
    Case c = make(SATTN_PATTERN_LSH, SATTN_DTYPE_F32, SATTN_PRECISION_FP32, 33);
    c.q_len = 500, c.kv_len = 129, c.params.lsh_buckets = 6, c.params.lsh_seed = 7, c.causal = true;
    cases.push_back(c);
  }
  // landmark: iters 0 and 2, m = 1, m = Lk, m not dividing Lk, more iterations.
  for (const int64_t iters : {0, 2, 5}) {
    Case c = make(SATTN_PATTERN_LANDMARK, SATTN_DTYPE_F32, SATTN_PRECISION_FP32, 48);
    c.q_len = 130, c.kv_len = 211, c.params.num_landmarks = 17, c.params.landmark_iters = iters;
    cases.push_back(c);
    c.params.num_landmarks = 1;
    cases.push_back(c);
    c.params.num_landmarks = c.kv_len, c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16;
    c.head_dim = c.head_dim_v = 128, c.q_heads = 4, c.kv_heads = 2, c.blhd = true;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace

TEST_CASE("cuda row-selecting patterns match the reference backend", "[cuda]") {
  if (skip_without_gpu()) return;
  // SATTN_TEST_ROWS_PATTERN=<pattern name> runs one pattern's cases only (a process per pattern on a GPU machine, so
  // that a fault in one cannot poison the CUDA context of the others).
  const char* only = std::getenv("SATTN_TEST_ROWS_PATTERN");
  uint32_t seed = 100;
  for (const Case& c : all_cases()) {
    if (only == nullptr || std::string(sattn_pattern_name(c.pattern)) == only) {
      SECTION(describe(c)) { run_case(c, seed); }
    }
    ++seed;
  }
}

TEST_CASE("cuda row-selecting patterns refuse what they do not define, naming the field", "[cuda]") {
  if (skip_without_gpu()) return;
  Case c = make(SATTN_PATTERN_LANDMARK, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64);
  c.params.num_landmarks = 8, c.causal = true;
  const sattn_attention_desc d = descriptor(c);
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = "cuda";
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  const sattn_status status = sattn_plan_create(&d, &prefs, &plan);
  INFO(sattn_status_string(status) << ": " << sattn_last_error());
  CHECK(status != SATTN_OK);
  CHECK(plan == nullptr);
  CHECK(std::string(sattn_last_error()).find("causal") != std::string::npos);
}

TEST_CASE("cuda row-selecting patterns reject a workspace that is too small", "[cuda]") {
  if (skip_without_gpu()) return;
  Case c = make(SATTN_PATTERN_TOPK_PER_QUERY, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64);
  c.params.topk_k = 8;
  std::mt19937 rng(3);
  Mirrored q(1, 2, c.q_len, 64, c.dtype, false, 0, rng), k(1, 1, c.kv_len, 64, c.dtype, false, 0, rng),
      v(1, 1, c.kv_len, 64, c.dtype, false, 0, rng), o(1, 2, c.q_len, 64, c.dtype, false, 0, rng);
  sattn_plan* plan = make_plan(descriptor(c), "cuda");
  DeviceWorkspace workspace(plan);
  REQUIRE(workspace.bytes > 0);
  sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), dout = o.view(true);
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &dq, args.k = &dk, args.v = &dv, args.o = &dout;
  const sattn_status status = sattn_plan_run(plan, &args, workspace.data, workspace.bytes - 1, nullptr);
  CHECK(status == SATTN_ERROR_WORKSPACE_TOO_SMALL);
  CHECK(std::string(sattn_last_error()).find("workspace") != std::string::npos);
  // A run captured into a CUDA graph: the selection must neither synchronise nor allocate.
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  const sattn_status captured = sattn_plan_run(plan, &args, workspace.data, workspace.bytes, stream);
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
  INFO(sattn_last_error());
  CHECK(captured == SATTN_OK);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  CHECK(cudaGraphLaunch(exec, stream) == cudaSuccess);
  CHECK(cudaStreamSynchronize(stream) == cudaSuccess);
  const std::vector<unsigned char> out = o.download();
  float largest = 0.0f;
  for (int64_t i = 0; i < c.q_len; ++i) largest = std::max(largest, std::fabs(o.at(out, 0, 0, i, 0)));
  CHECK(largest > 0.0f);  // the graph wrote the output
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  sattn_plan_destroy(plan);
}

// Hidden (run with "[timing]"): L = 4096, B1 Hq 16 Hk 16 D128 bf16, each pattern against dense, CUDA events around
// back-to-back runs (selection included).
TEST_CASE("cuda row-selecting patterns: L = 4096 timings", "[.][timing]") {
  if (skip_without_gpu()) return;
  const int64_t L = 4096, H = 16, D = 128;
  std::mt19937 rng(11);
  Mirrored q(1, H, L, D, SATTN_DTYPE_BF16, false, 0, rng), k(1, H, L, D, SATTN_DTYPE_BF16, false, 0, rng),
      v(1, H, L, D, SATTN_DTYPE_BF16, false, 0, rng), o(1, H, L, D, SATTN_DTYPE_BF16, false, 0, rng);
  sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), dout = o.view(true);
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &dq, args.k = &dk, args.v = &dv, args.o = &dout;
  struct Timed {
    const char* name;
    int32_t pattern;
    bool causal;
  };
  for (const Timed& t :
       {Timed{"dense", SATTN_PATTERN_DENSE, false}, Timed{"dense causal", SATTN_PATTERN_DENSE, true},
        Timed{"topk_per_query k=256", SATTN_PATTERN_TOPK_PER_QUERY, false},
        Timed{"topk_per_query k=256 causal", SATTN_PATTERN_TOPK_PER_QUERY, true},
        Timed{"nm_structured 2:8", SATTN_PATTERN_NM_STRUCTURED, false}, Timed{"lsh nb=16", SATTN_PATTERN_LSH, false},
        Timed{"lsh nb=16 causal", SATTN_PATTERN_LSH, true}, Timed{"landmark m=256 t=0", SATTN_PATTERN_LANDMARK, false},
        Timed{"landmark m=256 t=2", SATTN_PATTERN_LANDMARK, false}}) {
    Case c = make(t.pattern, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, D);
    c.q_heads = c.kv_heads = H, c.q_len = c.kv_len = L, c.causal = t.causal;
    c.params.topk_k = 256, c.params.nm_n = 2, c.params.nm_m = 8, c.params.lsh_buckets = 16, c.params.lsh_seed = 5;
    c.params.num_landmarks = 256,
    c.params.landmark_iters = std::string(t.name).find("t=2") != std::string::npos ? 2 : 0;
    sattn_plan* plan = make_plan(descriptor(c), "cuda");
    DeviceWorkspace workspace(plan);
    cudaEvent_t start, stop;
    REQUIRE(cudaEventCreate(&start) == cudaSuccess);
    REQUIRE(cudaEventCreate(&stop) == cudaSuccess);
    REQUIRE(sattn_plan_run(plan, &args, workspace.data, workspace.bytes, nullptr) == SATTN_OK);  // warm-up
    const int repeats = 10;
    REQUIRE(cudaEventRecord(start) == cudaSuccess);
    for (int r = 0; r < repeats; ++r)
      REQUIRE(sattn_plan_run(plan, &args, workspace.data, workspace.bytes, nullptr) == SATTN_OK);
    REQUIRE(cudaEventRecord(stop) == cudaSuccess);
    REQUIRE(cudaEventSynchronize(stop) == cudaSuccess);
    float ms = 0.0f;
    REQUIRE(cudaEventElapsedTime(&ms, start, stop) == cudaSuccess);
    std::printf("TIMING B1 H%lld L%lld D%lld bf16 %-28s %9.3f ms  workspace %zu bytes\n", static_cast<long long>(H),
                static_cast<long long>(L), static_cast<long long>(D), t.name, ms / repeats, workspace.bytes);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    sattn_plan_destroy(plan);
  }
}
