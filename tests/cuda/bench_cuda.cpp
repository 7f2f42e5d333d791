// Times the cuda backend on device-resident tensors (CUDA events around back-to-back runs on one stream) for the
// problems tools/compare_cuda.py times with torch SDPA and FlexAttention: B4 H16 L8192 D128 bf16, dense, causal and
// a causal sliding window of 512 keys plus 64 global tokens. A test-only helper, so that libsattn and sattn-bench
// stay free of CUDA. Usage: sattn_bench_cuda [batch heads length head_dim]
#include <sattn.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
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

sattn_tensor tensor(void* data, int64_t b, int64_t h, int64_t l, int64_t d) {
  return sattn_tensor{data, SATTN_DEVICE_CUDA, 0, SATTN_DTYPE_BF16, 4, {b, h, l, d}, {h * l * d, l * d, d, 1}};
}

// Fills bf16 values in about [-1, 1] from a hash of the index (device-side init would need a kernel here).
void fill(void* device, size_t count, uint32_t seed) {
  std::vector<uint16_t> host(count);
  for (size_t i = 0; i < count; ++i) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u + seed;
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    const float f = static_cast<float>(x & 0xffffu) / 32768.0f - 1.0f;
    uint32_t bits;
    __builtin_memcpy(&bits, &f, 4);
    host[i] = static_cast<uint16_t>(bits >> 16);
  }
  check(cudaMemcpy(device, host.data(), count * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t B = argc > 1 ? std::atoll(argv[1]) : 4, H = argc > 2 ? std::atoll(argv[2]) : 16;
  const int64_t L = argc > 3 ? std::atoll(argv[3]) : 8192, D = argc > 4 ? std::atoll(argv[4]) : 128;
  const size_t elements = static_cast<size_t>(B * H * L * D);
  void *q, *k, *v, *o;
  float* lse;
  check(cudaMalloc(&q, elements * 2), "cudaMalloc");
  check(cudaMalloc(&k, elements * 2), "cudaMalloc");
  check(cudaMalloc(&v, elements * 2), "cudaMalloc");
  check(cudaMalloc(&o, elements * 2), "cudaMalloc");
  check(cudaMalloc(reinterpret_cast<void**>(&lse), static_cast<size_t>(B * H * L) * 4), "cudaMalloc");
  fill(q, elements, 1), fill(k, elements, 2), fill(v, elements, 3);
  sattn_tensor tq = tensor(q, B, H, L, D), tk = tensor(k, B, H, L, D), tv = tensor(v, B, H, L, D),
               to = tensor(o, B, H, L, D);
  sattn_tensor tl{lse, SATTN_DEVICE_CUDA, 0, SATTN_DTYPE_F32, 3, {B, H, L, 0}, {H * L, L, 1, 0}};
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &tq, args.k = &tk, args.v = &tv, args.o = &to, args.lse = &tl;
  cudaStream_t stream;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");

  struct Problem {
    const char* name;
    int32_t pattern;
    bool causal;
    int64_t window, global;
  };
  const Problem problems[] = {{"dense", SATTN_PATTERN_DENSE, false, 0, 0},
                              {"causal", SATTN_PATTERN_DENSE, true, 0, 0},
                              {"sliding_window_512_global_64", SATTN_PATTERN_SLIDING_WINDOW, true, 512, 64}};
  std::printf("| problem | kernel | ms (median of 20) | TFLOP/s (kept pairs) |\n|---|---|---|---|\n");
  for (const Problem& p : problems) {
    sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
    d.batch = B, d.num_q_heads = H, d.num_kv_heads = H, d.q_len = L, d.kv_len = L, d.head_dim = D, d.head_dim_v = D;
    d.dtype = SATTN_DTYPE_BF16, d.precision = SATTN_PRECISION_BF16, d.pattern = p.pattern;
    d.flags = p.causal ? SATTN_FLAG_CAUSAL : 0u;
    d.params.window_size = p.window, d.params.global_tokens = p.global;
    sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
    prefs.backend = "cuda";
    prefs.flags = SATTN_PREF_STRICT;
    sattn_plan* plan = nullptr;
    check(sattn_plan_create(&d, &prefs, &plan), "sattn_plan_create");
    for (int i = 0; i < 3; ++i) check(sattn_plan_run(plan, &args, nullptr, 0, stream), "sattn_plan_run");
    std::vector<float> times;
    for (int i = 0; i < 20; ++i) {
      check(cudaEventRecord(start, stream), "cudaEventRecord");
      check(sattn_plan_run(plan, &args, nullptr, 0, stream), "sattn_plan_run");
      check(cudaEventRecord(stop, stream), "cudaEventRecord");
      check(cudaEventSynchronize(stop), "cudaEventSynchronize");
      float ms = 0.0f;
      check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
      times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
    check(sattn_plan_get_stats(plan, &stats), "sattn_plan_get_stats");
    sattn_plan_info info = SATTN_PLAN_INFO_INIT;
    check(sattn_plan_get_info(plan, &info), "sattn_plan_get_info");
    const double ms = times[times.size() / 2];
    const double flops = 4.0 * static_cast<double>(D) * static_cast<double>(stats.kept_pairs);
    std::printf("| %s | %s | %.3f | %.1f |\n", p.name, info.kernel, ms, flops / (ms * 1e-3) / 1e12);
    sattn_plan_destroy(plan);
  }
  cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o), cudaFree(lse);
  return 0;
}
