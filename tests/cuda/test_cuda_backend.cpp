// The cuda backend plugin against the reference backend: random inputs of awkward shapes (Lq != Lk, lengths not a
// multiple of the 64 x 64 tiles, GQA, causal, BLHD strides, padded rows), every static pattern, f32/f16/bf16 tensors
// and fp32/bf16/fp16 precisions, O and LSE, with the tolerances of docs/patterns.md. The CUDA tensors are copies of
// the host tensors the reference reads. Without a GPU the test says why and passes without running.
#define CATCH_CONFIG_MAIN
#include <sattn.h>
#include <sattn_kernels.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.hpp"

using namespace cuda_test;

TEST_CASE("cuda backend matches the reference backend", "[cuda]") {
  const std::string why = why_no_gpu();
  sattn_backend_info info;
  const sattn_backend_info* cuda = find_backend("cuda", info);
  REQUIRE(cuda != nullptr);  // the plugin sits next to libsattn.so and loads without a GPU too
  if (!why.empty()) {
    CHECK(cuda->available == 0);
    WARN("cuda tests skipped: " << why);
    return;
  }
  REQUIRE(cuda->available == 1);

  std::vector<Case> cases;
  // The tensor-core path: f16/bf16, head dims 64 and 128, aligned rows.
  {
    Case c = base(SATTN_PATTERN_DENSE, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64);
    c.batch = 2, c.q_heads = 4, c.kv_heads = 2, c.q_len = 100, c.kv_len = 300, c.causal = true;
    cases.push_back(c);
    c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16, c.head_dim = c.head_dim_v = 128, c.blhd = true;
    c.causal = false, c.q_len = c.kv_len = 257;
    cases.push_back(c);
    c.causal = true, c.q_len = 300, c.kv_len = 77;  // Lq > Lk: the first rows see no key
    cases.push_back(c);
    c.broadcast_kv = true, c.kv_heads = 2, c.q_len = 200, c.kv_len = 333;  // no TMA: mma.sync on every GPU
    cases.push_back(c);
    c.broadcast_kv = false;
  }
  {
    Case c = base(SATTN_PATTERN_SLIDING_WINDOW, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 128);
    c.q_len = c.kv_len = 390, c.causal = true, c.params.window_size = 37;
    cases.push_back(c);
    c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16, c.head_dim = c.head_dim_v = 64;
    c.causal = false, c.q_len = 150, c.kv_len = 220, c.params.window_size = 20, c.params.dilation = 3;
    c.params.global_tokens = 5, c.q_heads = 6, c.kv_heads = 3, c.blhd = true;
    cases.push_back(c);
    c.q_len = c.kv_len = 130, c.params.wrap = 1, c.params.window_size = 10, c.params.dilation = 2;
    c.params.global_tokens = 0;
    cases.push_back(c);
    c.causal = true, c.params.global_tokens = 3;
    cases.push_back(c);
  }
  {
    Case c = base(SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 128);
    c.q_len = c.kv_len = 300, c.causal = true, c.params.block_size = 32, c.params.local_blocks = 1;
    c.params.global_tokens = 16;
    cases.push_back(c);
    c.causal = false, c.q_len = 200, c.kv_len = 333, c.params.block_size = 48, c.params.local_blocks = 2;
    c.head_dim = c.head_dim_v = 64, c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16;
    cases.push_back(c);
  }
  // More work items (query tiles x heads x batches) than SMs, so that blocks start in several waves: the global
  // tokens' first query tile attends to every key and is handed out first (the plan's work order on Hopper).
  {
    Case c = base(SATTN_PATTERN_SLIDING_WINDOW, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 128);
    c.batch = 2, c.q_heads = 16, c.kv_heads = 4, c.q_len = c.kv_len = 1100, c.lse = true;
    c.params.window_size = 100, c.params.global_tokens = 30;
    cases.push_back(c);
    c = base(SATTN_PATTERN_DENSE, SATTN_DTYPE_F16, SATTN_PRECISION_FP16, 64);
    c.batch = 3, c.q_heads = 12, c.kv_heads = 3, c.q_len = 1000, c.kv_len = 300, c.causal = true, c.blhd = true;
    c.lse = true;  // Lq > Lk under causal: empty rows among the items
    cases.push_back(c);
  }
  // D 64 on Hopper: 192-row tiles (three consumer warpgroups) for dense, causal and plain windows; lengths that are
  // not multiples of 192, GQA, Lq != Lk, and strides TMA cannot address (the generic kernel walks the same layout).
  {
    Case c = base(SATTN_PATTERN_SLIDING_WINDOW, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64);
    c.q_heads = 4, c.kv_heads = 2, c.q_len = c.kv_len = 700, c.params.window_size = 100, c.params.global_tokens = 7;
    c.blhd = true;
    cases.push_back(c);
    c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16, c.causal = true, c.q_len = c.kv_len = 390;
    c.params.window_size = 150, c.params.global_tokens = 0, c.blhd = false;
    cases.push_back(c);
    c = base(SATTN_PATTERN_DENSE, SATTN_DTYPE_F16, SATTN_PRECISION_FP16, 64);
    c.batch = 2, c.q_heads = 6, c.kv_heads = 2, c.q_len = 450, c.kv_len = 333;
    cases.push_back(c);
    c.dtype = SATTN_DTYPE_BF16, c.precision = SATTN_PRECISION_BF16, c.broadcast_kv = true, c.causal = true;
    cases.push_back(c);
    c.broadcast_kv = false;
  }
  // The generic path: fp32, other head dims, mixed dtype and precision, unaligned rows.
  {
    Case c = base(SATTN_PATTERN_DENSE, SATTN_DTYPE_F32, SATTN_PRECISION_FP32, 40);
    c.head_dim_v = 24, c.q_heads = 4, c.kv_heads = 2, c.q_len = 70, c.kv_len = 90, c.causal = true;
    cases.push_back(c);
    c.pattern = SATTN_PATTERN_SLIDING_WINDOW, c.params.window_size = 9, c.params.dilation = 2;
    c.params.global_tokens = 4, c.precision = SATTN_PRECISION_BF16, c.head_dim = c.head_dim_v = 64, c.blhd = true;
    cases.push_back(c);
    c.pattern = SATTN_PATTERN_DENSE, c.dtype = SATTN_DTYPE_BF16, c.head_dim = c.head_dim_v = 96;
    c.params = SATTN_PATTERN_PARAMS_INIT;
    cases.push_back(c);
    c.head_dim = c.head_dim_v = 64, c.pad = 3, c.blhd = false;  // rows not 16-byte aligned
    cases.push_back(c);
    c.dtype = SATTN_DTYPE_BF16, c.precision = SATTN_PRECISION_FP32, c.pad = 0;
    cases.push_back(c);
  }
  // Decode shapes (q_len <= 16): keys split across blocks and merged by their log-sum-exp, GQA heads sharing a block.
  {
    Case c = base(SATTN_PATTERN_DENSE, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 128);
    c.batch = 2, c.q_heads = 8, c.kv_heads = 2, c.q_len = 1, c.kv_len = 5000;
    cases.push_back(c);
    c.q_len = 5, c.causal = true, c.blhd = true;  // 4 heads x 5 rows: two blocks of 2 heads per kv head
    cases.push_back(c);
    c.q_len = 16, c.kv_len = 130, c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16, c.head_dim = 64;
    c.head_dim_v = 64, c.q_heads = 6, c.kv_heads = 3;
    cases.push_back(c);
    c.dtype = SATTN_DTYPE_F32, c.precision = SATTN_PRECISION_FP32, c.head_dim = 40, c.head_dim_v = 24;
    c.q_len = 3, c.kv_len = 2000, c.pad = 3;
    cases.push_back(c);
    c.pattern = SATTN_PATTERN_SLIDING_WINDOW, c.params.window_size = 300, c.params.global_tokens = 16;
    c.dtype = SATTN_DTYPE_BF16, c.precision = SATTN_PRECISION_BF16, c.head_dim = c.head_dim_v = 128, c.pad = 0;
    c.q_len = 7, c.kv_len = 3000;
    cases.push_back(c);
    c.q_len = 10, c.kv_len = 4;  // fewer keys than rows: the first rows see none (causal)
    cases.push_back(c);
    c.q_len = 16, c.kv_len = 1500, c.q_heads = 32, c.kv_heads = 2;  // 16 heads x 16 rows: two tensor-core blocks
    cases.push_back(c);
    c.q_heads = 6, c.kv_heads = 3, c.pad = 3;  // unaligned rows: the CUDA-core decode kernel instead
    cases.push_back(c);
    c.pad = 0;
    c.pattern = SATTN_PATTERN_DENSE, c.params = SATTN_PATTERN_PARAMS_INIT, c.head_dim = 37, c.head_dim_v = 32;
    c.q_len = 2, c.kv_len = 3001, c.causal = false, c.dtype = SATTN_DTYPE_F32, c.precision = SATTN_PRECISION_BF16;
    cases.push_back(c);
  }
  // int8 and int4: quantised on the device (smoothed K, per-row and per-channel scales), integer scores.
  {
    Case c = base(SATTN_PATTERN_DENSE, SATTN_DTYPE_F32, SATTN_PRECISION_INT8, 64);
    c.q_heads = 4, c.kv_heads = 2, c.q_len = 90, c.kv_len = 211, c.causal = true;
    cases.push_back(c);
    c.precision = SATTN_PRECISION_INT4, c.dtype = SATTN_DTYPE_BF16, c.head_dim = 37, c.head_dim_v = 29, c.blhd = true;
    c.q_len = 230, c.kv_len = 70;  // Lq > Lk under causal: the first rows see no key
    cases.push_back(c);
    c.pattern = SATTN_PATTERN_SLIDING_WINDOW, c.params.window_size = 25, c.params.global_tokens = 4;
    c.precision = SATTN_PRECISION_INT8, c.dtype = SATTN_DTYPE_F16, c.head_dim = c.head_dim_v = 128, c.blhd = false;
    c.q_len = c.kv_len = 300, c.causal = false, c.pad = 5;
    cases.push_back(c);
    c.pattern = SATTN_PATTERN_DENSE, c.params = SATTN_PATTERN_PARAMS_INIT, c.pad = 0;
    c.params.scale_q = 0.02f, c.params.scale_k = 0.03f, c.params.scale_v = 0.015f;  // given (static) scales
    c.q_len = 4, c.kv_len = 500;
    cases.push_back(c);
  }
  // Random shapes on the tensor-core path.
  std::mt19937 rng(2024);
  for (int n = 0; n < 8; ++n) {
    const int32_t patterns[] = {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_LOCAL_GLOBAL};
    Case c = base(patterns[n % 3], n % 2 ? SATTN_DTYPE_F16 : SATTN_DTYPE_BF16,
                  n % 2 ? SATTN_PRECISION_FP16 : SATTN_PRECISION_BF16, n % 4 < 2 ? 64 : 128);
    c.batch = 1 + static_cast<int64_t>(rng() % 2);
    c.kv_heads = 1 + static_cast<int64_t>(rng() % 2);
    c.q_heads = c.kv_heads * (1 + static_cast<int64_t>(rng() % 3));
    c.q_len = 1 + static_cast<int64_t>(rng() % 400);
    c.kv_len = c.pattern == SATTN_PATTERN_DENSE ? 1 + static_cast<int64_t>(rng() % 400) : c.q_len;
    c.causal = rng() % 2 == 0;
    c.blhd = rng() % 2 == 0;
    c.lse = rng() % 4 != 0;
    c.params.window_size = 1 + static_cast<int64_t>(rng() % 80);
    c.params.global_tokens = static_cast<int64_t>(rng() % 3) * 7;
    c.params.block_size = 16 * (1 + static_cast<int64_t>(rng() % 6));
    cases.push_back(c);
  }
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SECTION(describe(c)) { run_case(c, seed); }
    ++seed;
  }
}

TEST_CASE("cuda backend takes 192-row tiles at D 64 on Hopper, 128-row ones elsewhere", "[cuda]") {
  const std::string why = why_no_gpu();
  if (!why.empty()) {
    WARN("cuda tests skipped: " << why);
    return;
  }
  int major = 0;
  REQUIRE(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) == cudaSuccess);
  const char* wgmma = std::getenv("SATTN_CUDA_WGMMA");
  const bool hopper = major == 9 && (wgmma == nullptr || std::string(wgmma) != "0");
  struct Expectation {
    int32_t pattern, dtype, precision;
    int64_t head_dim, q_len, dilation;
    bool causal, wide;
  };
  const Expectation expectations[] = {
      {SATTN_PATTERN_DENSE, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64, 1000, 1, false, hopper},
      {SATTN_PATTERN_DENSE, SATTN_DTYPE_F16, SATTN_PRECISION_FP16, 64, 300, 1, true, hopper},
      {SATTN_PATTERN_SLIDING_WINDOW, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64, 1000, 1, false, hopper},
      {SATTN_PATTERN_SLIDING_WINDOW, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64, 1000, 2, false, false},  // dilated
      {SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64, 1000, 1, false, false},
      {SATTN_PATTERN_DENSE, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 128, 1000, 1, false, false},
      {SATTN_PATTERN_DENSE, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64, 16, 1, false, false},  // decode
      {SATTN_PATTERN_DENSE, SATTN_DTYPE_F32, SATTN_PRECISION_FP32, 64, 1000, 1, false, false},
      {SATTN_PATTERN_DENSE, SATTN_DTYPE_BF16, SATTN_PRECISION_INT8, 64, 1000, 1, false, false},
  };
  for (const Expectation& e : expectations) {
    sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
    d.batch = 1, d.num_q_heads = d.num_kv_heads = 2, d.q_len = e.q_len, d.kv_len = 1000;
    d.head_dim = d.head_dim_v = e.head_dim, d.dtype = e.dtype, d.precision = e.precision, d.pattern = e.pattern;
    d.flags = e.causal ? SATTN_FLAG_CAUSAL : 0u;
    d.params.window_size = 100, d.params.dilation = e.dilation, d.params.block_size = 64;
    sattn_plan* plan = make_plan(d, "cuda");
    sattn_plan_info info = SATTN_PLAN_INFO_INIT;
    REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
    INFO(sattn_pattern_name(e.pattern) << " " << sattn_precision_name(e.precision) << " D " << e.head_dim << " Lq "
                                       << e.q_len << ": kernel " << info.kernel);
    CHECK((std::string(info.kernel).find("192-row tiles") != std::string::npos) == e.wide);
    sattn_plan_destroy(plan);
  }
}

TEST_CASE("cuda backend refuses host memory and names the tensor", "[cuda]") {
  const std::string why = why_no_gpu();
  if (!why.empty()) {
    WARN("cuda tests skipped: " << why);
    return;
  }
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.q_len = d.kv_len = 64, d.head_dim = d.head_dim_v = 64, d.pattern = SATTN_PATTERN_DENSE;
  d.dtype = SATTN_DTYPE_BF16, d.precision = SATTN_PRECISION_BF16;
  std::mt19937 rng(7);
  Mirrored q(1, 1, 64, 64, d.dtype, false, 0, rng), k(1, 1, 64, 64, d.dtype, false, 0, rng),
      v(1, 1, 64, 64, d.dtype, false, 0, rng), o(1, 1, 64, 64, d.dtype, false, 0, rng);
  sattn_plan* plan = make_plan(d, "cuda");
  sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), dout = o.view(true);
  dk.data = k.host.data();  // claims CUDA but is host memory
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &dq, args.k = &dk, args.v = &dv, args.o = &dout;
  const DeviceWorkspace workspace(plan);
  const sattn_status status = sattn_plan_run(plan, &args, workspace.data, workspace.bytes, nullptr);
  INFO(sattn_last_error());
  CHECK(status == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(sattn_last_error()).find("k.data is host memory") != std::string::npos);
  dk.data = k.device;
  CHECK(sattn_plan_run(plan, &args, workspace.data, workspace.bytes, nullptr) == SATTN_OK);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  sattn_plan_destroy(plan);
}

TEST_CASE("cuda backend runs can be captured in a CUDA graph", "[cuda]") {
  const std::string why = why_no_gpu();
  if (!why.empty()) {
    WARN("cuda tests skipped: " << why);
    return;
  }
  // A tensor-core shape, a decode shape (two kernels and a workspace) and int8 (five kernels and a workspace).
  struct Shape {
    int64_t q_len, kv_len, head_dim;
    int32_t dtype, precision;
  };
  const Shape shapes[] = {{200, 300, 64, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16},
                          {3, 2000, 128, SATTN_DTYPE_F16, SATTN_PRECISION_FP16},
                          {90, 150, 40, SATTN_DTYPE_F32, SATTN_PRECISION_INT8}};
  for (const Shape& shape : shapes) {
    INFO("Lq " << shape.q_len << " Lk " << shape.kv_len << " D " << shape.head_dim << " "
               << sattn_precision_name(shape.precision));
    sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
    d.batch = 2, d.num_q_heads = 4, d.num_kv_heads = 2, d.q_len = shape.q_len, d.kv_len = shape.kv_len;
    d.head_dim = d.head_dim_v = shape.head_dim, d.dtype = shape.dtype, d.precision = shape.precision;
    d.pattern = SATTN_PATTERN_DENSE, d.flags = SATTN_FLAG_CAUSAL;
    std::mt19937 rng(11);
    Mirrored q(2, 4, shape.q_len, shape.head_dim, d.dtype, false, 0, rng);
    Mirrored k(2, 2, shape.kv_len, shape.head_dim, d.dtype, false, 0, rng);
    Mirrored v(2, 2, shape.kv_len, shape.head_dim, d.dtype, false, 0, rng);
    Mirrored eager(2, 4, shape.q_len, shape.head_dim, d.dtype, false, 0, rng);
    Mirrored graphed(2, 4, shape.q_len, shape.head_dim, d.dtype, false, 0, rng);
    sattn_plan* plan = make_plan(d, "cuda");
    const DeviceWorkspace space(plan);
    sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), de = eager.view(true),
                 dg = graphed.view(true);
    sattn_run_args args = SATTN_RUN_ARGS_INIT;
    args.q = &dq, args.k = &dk, args.v = &dv, args.o = &de;
    cudaStream_t stream = nullptr;
    REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
    REQUIRE(sattn_plan_run(plan, &args, space.data, space.bytes, stream) == SATTN_OK);

    args.o = &dg;
    cudaGraph_t graph = nullptr;
    REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
    const sattn_status captured = sattn_plan_run(plan, &args, space.data, space.bytes, stream);
    REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
    INFO(sattn_last_error());
    REQUIRE(captured == SATTN_OK);
    cudaGraphExec_t exec = nullptr;
    REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
    for (int replay = 0; replay < 2; ++replay) REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
    REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
    CHECK(eager.download() == graphed.download());  // the same kernels on the same inputs: bit for bit
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    sattn_plan_destroy(plan);
  }
}
