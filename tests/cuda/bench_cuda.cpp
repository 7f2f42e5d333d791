// Times the cuda backend on device-resident tensors (CUDA events around back-to-back runs on one stream), for
// tools/compare_cuda.py, which times torch SDPA and FlexAttention on the same problems in the same run and prints the
// table with ratios. A test-only helper, so that libsattn and sattn-bench stay free of CUDA.
//   sattn_bench_cuda [B H L D [problem]]   prefill, bf16: dense, causal, sliding window |i - j| <= 512 plus 64 global
//   tokens,
//                                the user block mask of block_mask_keeps (12% of 128 x 128 blocks plus the diagonal)
//                                and data-dependent block_topk (block 128, keep 12%, its selection timed in)
//   sattn_bench_cuda --decode    B1 Hq32 Hk8 D128 bf16, Lq 1/4/16 against Lk 8192 and 131072
// Output: one line per problem, "problem ms kept_pairs kernel" (kept_pairs -1 where the selection is on the device).
#include <sattn.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void check(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(error));
  std::exit(1);
}

void check(sattn_status status, const char* what) {
  if (status == SATTN_OK) return;
  std::fprintf(stderr, "%s: %s: %s\n", what, sattn_status_string(status), sattn_last_error());
  std::exit(1);
}

// The user block mask of the block-sparse problems; tools/compare_cuda.py builds the same one for FlexAttention.
bool block_mask_keeps(int64_t qb, int64_t kb) {
  uint32_t h = static_cast<uint32_t>(qb) * 73856093u ^ static_cast<uint32_t>(kb) * 19349663u;
  h *= 0x9E3779B1u;
  return qb == kb || (h >> 8) % 1000u < 120u;
}

struct DeviceTensor {
  void* data = nullptr;
  sattn_tensor view{};
  DeviceTensor(int64_t b, int64_t h, int64_t l, int64_t d, int32_t dtype, size_t element) {
    check(cudaMalloc(&data, static_cast<size_t>(b * h * l * d) * element), "cudaMalloc");
    view = sattn_tensor{data, SATTN_DEVICE_CUDA, 0, dtype, 4, {b, h, l, d}, {h * l * d, l * d, d, 1}};
  }
  ~DeviceTensor() { cudaFree(data); }
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;

  // bf16 values in about [-1, 1] from a hash of the index.
  void fill_bf16(uint32_t seed) {
    const size_t count = static_cast<size_t>(view.shape[0] * view.shape[1] * view.shape[2] * view.shape[3]);
    std::vector<uint16_t> host(count);
    for (size_t i = 0; i < count; ++i) {
      uint32_t x = static_cast<uint32_t>(i) * 2654435761u + seed;
      x ^= x >> 15, x *= 2246822519u, x ^= x >> 13;
      const float f = static_cast<float>(x & 0xffffu) / 32768.0f - 1.0f;
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      host[i] = static_cast<uint16_t>(bits >> 16);
    }
    check(cudaMemcpy(data, host.data(), count * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
  }
};

struct Problem {
  std::string name;
  int32_t pattern;
  bool causal;
  sattn_pattern_params params;
};

// Median ms of 20 timed runs after 3 warm-up runs.
double time_plan(sattn_plan* plan, const sattn_run_args& args, void* workspace, size_t bytes, cudaStream_t stream) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < 3; ++i) check(sattn_plan_run(plan, &args, workspace, bytes, stream), "sattn_plan_run");
  std::vector<float> times;
  for (int i = 0; i < 20; ++i) {
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    check(sattn_plan_run(plan, &args, workspace, bytes, stream), "sattn_plan_run");
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void run(const Problem& problem, int64_t B, int64_t Hq, int64_t Hk, int64_t Lq, int64_t Lk, int64_t D,
         cudaStream_t stream) {
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = B, d.num_q_heads = Hq, d.num_kv_heads = Hk, d.q_len = Lq, d.kv_len = Lk, d.head_dim = D, d.head_dim_v = D;
  d.dtype = SATTN_DTYPE_BF16, d.precision = SATTN_PRECISION_BF16, d.pattern = problem.pattern;
  d.flags = problem.causal ? SATTN_FLAG_CAUSAL : 0u;
  d.params = problem.params;
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = "cuda";
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  if (const sattn_status status = sattn_plan_create(&d, &prefs, &plan); status != SATTN_OK) {
    std::printf("%s n/a -1 %s\n", problem.name.c_str(), sattn_last_error());
    return;
  }
  DeviceTensor q(B, Hq, Lq, D, SATTN_DTYPE_BF16, 2), k(B, Hk, Lk, D, SATTN_DTYPE_BF16, 2),
      v(B, Hk, Lk, D, SATTN_DTYPE_BF16, 2), o(B, Hq, Lq, D, SATTN_DTYPE_BF16, 2);
  q.fill_bf16(1), k.fill_bf16(2), v.fill_bf16(3);
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &q.view, args.k = &k.view, args.v = &v.view, args.o = &o.view;

  int64_t kept_pairs = -1;
  std::vector<uint8_t> mask;
  void* mask_device = nullptr;
  sattn_tensor mask_view{};
  if (problem.pattern == SATTN_PATTERN_BLOCK_MASK) {  // one mask for every batch and head
    const int64_t b = problem.params.block_size, rows = (Lq + b - 1) / b, cols = (Lk + b - 1) / b;
    mask.resize(static_cast<size_t>(rows * cols));
    kept_pairs = 0;
    for (int64_t qb = 0; qb < rows; ++qb)
      for (int64_t kb = 0; kb < cols; ++kb) {
        const bool keep = block_mask_keeps(qb, kb);
        mask[static_cast<size_t>(qb * cols + kb)] = keep ? 1 : 0;
        if (keep) kept_pairs += (std::min(Lq, (qb + 1) * b) - qb * b) * (std::min(Lk, (kb + 1) * b) - kb * b);
      }
    kept_pairs *= B * Hq;
    check(cudaMalloc(&mask_device, mask.size()), "cudaMalloc");
    check(cudaMemcpy(mask_device, mask.data(), mask.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
    mask_view = sattn_tensor{
        mask_device, SATTN_DEVICE_CUDA, 0, SATTN_DTYPE_U8, 4, {1, 1, rows, cols}, {rows * cols, rows * cols, cols, 1}};
    args.block_mask = &mask_view;
  }
  size_t bytes = 0;
  check(sattn_plan_workspace_size(plan, &bytes), "sattn_plan_workspace_size");
  void* workspace = nullptr;
  if (bytes > 0) check(cudaMalloc(&workspace, bytes), "cudaMalloc");
  const double ms = time_plan(plan, args, workspace, bytes, stream);
  sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
  check(sattn_plan_get_stats(plan, &stats), "sattn_plan_get_stats");
  // Static patterns: the core's layout counted them; block_topk selects on the device, which does not count.
  if (problem.pattern != SATTN_PATTERN_BLOCK_MASK && problem.pattern != SATTN_PATTERN_BLOCK_TOPK)
    kept_pairs = stats.kept_pairs;
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  check(sattn_plan_get_info(plan, &info), "sattn_plan_get_info");
  std::printf("%s %.4f %lld %s\n", problem.name.c_str(), ms, static_cast<long long>(kept_pairs), info.kernel);
  std::fflush(stdout);
  cudaFree(workspace);
  cudaFree(mask_device);
  sattn_plan_destroy(plan);
}

}  // namespace

int main(int argc, char** argv) {
  cudaStream_t stream;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  if (argc > 1 && std::string(argv[1]) == "--decode") {
    for (const int64_t lk : {8192, 131072})
      for (const int64_t lq : {1, 4, 16}) {
        const Problem problem{"decode_lq" + std::to_string(lq) + "_lk" + std::to_string(lk), SATTN_PATTERN_DENSE, true,
                              SATTN_PATTERN_PARAMS_INIT};
        run(problem, 1, 32, 8, lq, lk, 128, stream);
      }
    return 0;
  }
  const int64_t B = argc > 1 ? std::atoll(argv[1]) : 4, H = argc > 2 ? std::atoll(argv[2]) : 16;
  const int64_t L = argc > 3 ? std::atoll(argv[3]) : 8192, D = argc > 4 ? std::atoll(argv[4]) : 128;
  std::vector<Problem> problems = {{"dense", SATTN_PATTERN_DENSE, false, SATTN_PATTERN_PARAMS_INIT},
                                   {"causal", SATTN_PATTERN_DENSE, true, SATTN_PATTERN_PARAMS_INIT}};
  Problem window{"window_512_global_64", SATTN_PATTERN_SLIDING_WINDOW, false, SATTN_PATTERN_PARAMS_INIT};
  window.params.window_size = 512, window.params.global_tokens = 64;
  Problem mask{"block_mask_12", SATTN_PATTERN_BLOCK_MASK, false, SATTN_PATTERN_PARAMS_INIT};
  mask.params.block_size = 128;
  Problem topk{"block_topk_12", SATTN_PATTERN_BLOCK_TOPK, false, SATTN_PATTERN_PARAMS_INIT};
  topk.params.block_size = 128, topk.params.keep_ratio = 0.12f;
  problems.push_back(window), problems.push_back(mask), problems.push_back(topk);
  const std::string only = argc > 5 ? argv[5] : "";  // one problem by name (for profilers)
  for (const Problem& problem : problems)
    if (only.empty() || only == problem.name) run(problem, B, H, H, L, L, D, stream);
  cudaStreamDestroy(stream);
  return 0;
}
