// The cuda backend's data-dependent patterns, selected on the device, against the reference backend (which selects on
// the host): block_mask with the caller's mask on the device (batch and head dimensions of 1 or full), block_topk with
// keep ratios, fixed counts, compression blocks and global tokens; block sizes that are multiples of the kernels'
// 128 x 64 tiles and ones that are not, causal, Lq != Lk both ways, GQA, BLHD strides, f32/f16/bf16. Selections are
// exact in both backends (the same fp32 rounding), so the outputs agree to the precision's tolerance.
#define CATCH_CONFIG_MAIN
#include "cuda_test_support.hpp"

using namespace cuda_test;

TEST_CASE("cuda backend runs block_mask with the caller's device mask", "[cuda]") {
  if (skip_without_gpu()) return;
  std::vector<Case> cases;
  Case c = base(SATTN_PATTERN_BLOCK_MASK, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 128);
  c.batch = 2, c.q_heads = 4, c.kv_heads = 2, c.q_len = 300, c.kv_len = 520, c.params.block_size = 128;
  c.mask_batches = 1, c.mask_heads = 1, c.causal = true;
  cases.push_back(c);
  c.mask_batches = 2, c.mask_heads = 4, c.causal = false, c.params.block_size = 64;  // per batch and head
  cases.push_back(c);
  c.params.block_size = 48, c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16, c.head_dim = 64;
  c.head_dim_v = 64, c.blhd = true, c.causal = true, c.q_len = 333, c.kv_len = 200;  // mixed tiles; Lq > Lk
  cases.push_back(c);
  c.params.block_size = 16, c.dtype = SATTN_DTYPE_F32, c.precision = SATTN_PRECISION_FP32, c.head_dim = 40;
  c.head_dim_v = 24, c.mask_keep = 0.05, c.q_len = 150, c.kv_len = 400;  // sparse: rows without keys
  cases.push_back(c);
  c.mask_keep = 1.0, c.params.block_size = 256, c.dtype = SATTN_DTYPE_BF16, c.precision = SATTN_PRECISION_BF16;
  c.head_dim = c.head_dim_v = 64, c.q_len = c.kv_len = 700, c.blhd = false;  // everything kept
  cases.push_back(c);
  uint32_t seed = 100;
  for (const Case& each : cases) {
    SECTION(describe(each)) { run_case(each, seed); }
    ++seed;
  }
}

TEST_CASE("cuda backend selects block_topk on the device like the core", "[cuda]") {
  if (skip_without_gpu()) return;
  std::vector<Case> cases;
  Case c = base(SATTN_PATTERN_BLOCK_TOPK, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 128);
  c.batch = 2, c.q_heads = 4, c.kv_heads = 2, c.q_len = c.kv_len = 900, c.causal = true;
  c.params.block_size = 128, c.params.keep_ratio = 0.25f;
  cases.push_back(c);
  c.params.global_tokens = 40, c.params.keep_ratio = 0.0f, c.params.topk_blocks = 2;
  cases.push_back(c);
  c.params.block_size = 64, c.params.comp_block_size = 32, c.params.topk_blocks = 3, c.blhd = true;
  c.dtype = SATTN_DTYPE_F16, c.precision = SATTN_PRECISION_FP16, c.head_dim = c.head_dim_v = 64;
  cases.push_back(c);
  c.params.block_size = 96, c.params.comp_block_size = 40, c.q_len = 500, c.kv_len = 777, c.causal = false;
  c.params.global_tokens = 0;  // blocks not aligned to the tiles, Lq < Lk, overlapping compression blocks
  cases.push_back(c);
  c.causal = true, c.q_len = 640, c.kv_len = 300, c.params.comp_block_size = 0, c.params.topk_blocks = 0;
  c.params.keep_ratio = 0.5f, c.dtype = SATTN_DTYPE_F32, c.precision = SATTN_PRECISION_FP32, c.head_dim = 40;
  c.head_dim_v = 24;  // Lq > Lk under causal: the first query blocks have no candidates
  cases.push_back(c);
  c.q_heads = 6, c.kv_heads = 2, c.dtype = SATTN_DTYPE_BF16, c.precision = SATTN_PRECISION_BF16, c.head_dim = 128;
  c.head_dim_v = 128, c.params.block_size = 128, c.params.keep_ratio = 0.12f, c.q_len = c.kv_len = 2100;
  c.params.global_tokens = 130;
  cases.push_back(c);
  // Many key blocks: scores in the workspace instead of shared memory, several passes of scoring columns; odd row
  // padding (means read element by element).
  c.q_heads = 2, c.kv_heads = 1, c.head_dim = c.head_dim_v = 64, c.params.block_size = 16, c.params.global_tokens = 0;
  c.params.keep_ratio = 0.05f, c.q_len = 150, c.kv_len = 9000, c.causal = false, c.pad = 1;
  cases.push_back(c);
  c.pad = 0, c.causal = true, c.params.comp_block_size = 24, c.params.keep_ratio = 0.0f, c.params.topk_blocks = 7;
  cases.push_back(c);
  uint32_t seed = 200;
  for (const Case& each : cases) {
    SECTION(describe(each)) { run_case(each, seed); }
    ++seed;
  }
}

TEST_CASE("cuda backend refuses a host-memory block mask", "[cuda]") {
  if (skip_without_gpu()) return;
  Case c = base(SATTN_PATTERN_BLOCK_MASK, SATTN_DTYPE_BF16, SATTN_PRECISION_BF16, 64);
  c.params.block_size = 64;
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = 1, d.num_q_heads = 2, d.num_kv_heads = 1, d.q_len = c.q_len, d.kv_len = c.kv_len, d.head_dim = 64;
  d.head_dim_v = 64, d.dtype = c.dtype, d.precision = c.precision, d.pattern = c.pattern, d.params = c.params;
  std::mt19937 rng(3);
  Mirrored q(1, 2, c.q_len, 64, d.dtype, false, 0, rng), k(1, 1, c.kv_len, 64, d.dtype, false, 0, rng),
      v(1, 1, c.kv_len, 64, d.dtype, false, 0, rng), o(1, 2, c.q_len, 64, d.dtype, false, 0, rng);
  BlockMask mask(c, rng);
  sattn_plan* plan = make_plan(d, "cuda");
  const DeviceWorkspace workspace(plan);
  sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), dout = o.view(true);
  sattn_tensor lying = mask.device_view;
  lying.data = mask.host.data();  // claims CUDA but is host memory
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &dq, args.k = &dk, args.v = &dv, args.o = &dout, args.block_mask = &lying;
  const sattn_status status = sattn_plan_run(plan, &args, workspace.data, workspace.bytes, nullptr);
  INFO(sattn_last_error());
  CHECK(status == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(sattn_last_error()).find("block_mask.data is host memory") != std::string::npos);
  args.block_mask = &mask.device_view;
  CHECK(sattn_plan_run(plan, &args, workspace.data, workspace.bytes, nullptr) == SATTN_OK);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  sattn_plan_destroy(plan);
}

TEST_CASE("cuda backend runs int8 and int4 on every data-dependent pattern", "[cuda]") {
  if (skip_without_gpu()) return;
  std::vector<Case> cases;
  Case c = base(SATTN_PATTERN_BLOCK_TOPK, SATTN_DTYPE_F32, SATTN_PRECISION_INT8, 64);
  c.q_heads = 4, c.kv_heads = 2, c.q_len = 300, c.kv_len = 420, c.causal = true, c.params.block_size = 64;
  c.params.keep_ratio = 0.3f, c.params.global_tokens = 10;
  cases.push_back(c);
  c.pattern = SATTN_PATTERN_BLOCK_MASK, c.precision = SATTN_PRECISION_INT4, c.dtype = SATTN_DTYPE_BF16;
  c.params = SATTN_PATTERN_PARAMS_INIT, c.params.block_size = 32, c.mask_heads = 4, c.blhd = true;
  cases.push_back(c);
  c.pattern = SATTN_PATTERN_TOPK_PER_QUERY, c.params = SATTN_PATTERN_PARAMS_INIT, c.params.topk_k = 20;
  c.precision = SATTN_PRECISION_INT8, c.dtype = SATTN_DTYPE_F16, c.head_dim = c.head_dim_v = 40;
  cases.push_back(c);
  c.pattern = SATTN_PATTERN_NM_STRUCTURED, c.params = SATTN_PATTERN_PARAMS_INIT, c.params.nm_n = 2, c.params.nm_m = 4;
  c.precision = SATTN_PRECISION_INT4, c.causal = false;
  cases.push_back(c);
  c.pattern = SATTN_PATTERN_LSH, c.params = SATTN_PATTERN_PARAMS_INIT, c.params.lsh_buckets = 8;
  c.params.lsh_seed = 77, c.precision = SATTN_PRECISION_INT8, c.dtype = SATTN_DTYPE_BF16, c.head_dim = 64;
  c.head_dim_v = 64, c.causal = true;
  cases.push_back(c);
  c.pattern = SATTN_PATTERN_LANDMARK, c.params = SATTN_PATTERN_PARAMS_INIT, c.params.num_landmarks = 24;
  c.params.landmark_iters = 2, c.causal = false, c.dtype = SATTN_DTYPE_F32;  // the landmarks are what is quantised
  cases.push_back(c);
  uint32_t seed = 300;
  for (const Case& each : cases) {
    SECTION(describe(each)) { run_case(each, seed); }
    ++seed;
  }
}

TEST_CASE("cuda block patterns refuse keys past 2^31 - 1, naming kv_len", "[cuda]") {
  if (skip_without_gpu()) return;
  for (const int32_t pattern : {SATTN_PATTERN_BLOCK_MASK, SATTN_PATTERN_BLOCK_TOPK}) {
    sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
    d.q_len = 128, d.kv_len = int64_t{1} << 31, d.head_dim = d.head_dim_v = 64, d.pattern = pattern;
    d.dtype = SATTN_DTYPE_BF16, d.precision = SATTN_PRECISION_BF16;
    d.params.block_size = 128, d.params.keep_ratio = 0.1f;
    sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
    prefs.backend = "cuda";
    prefs.flags = SATTN_PREF_STRICT;
    sattn_plan* plan = nullptr;
    const sattn_status status = sattn_plan_create(&d, &prefs, &plan);
    INFO("pattern " << pattern << ": " << sattn_status_string(status) << ": " << sattn_last_error());
    CHECK(status != SATTN_OK);
    CHECK(plan == nullptr);
    CHECK(std::string(sattn_last_error()).find("kv_len") != std::string::npos);
  }
}
