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
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

// Why no case can run here, or empty.
std::string why_no_gpu() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) return std::string("no usable CUDA driver or device: ") + cudaGetErrorString(error);
  if (count == 0) return "no CUDA device";
  return {};
}

const sattn_backend_info* find_backend(const char* name, sattn_backend_info& info) {
  for (int32_t i = 0; i < sattn_backend_count(); ++i) {
    info = SATTN_BACKEND_INFO_INIT;
    if (sattn_backend_get_info(i, &info) == SATTN_OK && std::string(info.name) == name) return &info;
  }
  return nullptr;
}

size_t element_bytes(int32_t dtype) { return dtype == SATTN_DTYPE_F32 ? 4 : 2; }

float to_float(const unsigned char* p, int32_t dtype) {
  if (dtype == SATTN_DTYPE_F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == SATTN_DTYPE_BF16 ? sattn_bf16_to_float(h) : sattn_f16_to_float(h);
}

void from_float(unsigned char* p, int32_t dtype, float f) {
  if (dtype == SATTN_DTYPE_F32) {
    std::memcpy(p, &f, 4);
    return;
  }
  const uint16_t h = dtype == SATTN_DTYPE_BF16 ? sattn_float_to_bf16(f) : sattn_float_to_f16(f);
  std::memcpy(p, &h, 2);
}

// A 4-D tensor held on the host and mirrored on the device: [B, H, L, D] viewed as BHLD or BLHD memory, each row
// padded by `pad` elements (a pad that is not a multiple of 8 makes rows unaligned for 16-byte copies).
struct Mirrored {
  int64_t shape[4];
  int64_t strides[4];
  int32_t dtype;
  std::vector<unsigned char> host;
  void* device = nullptr;

  Mirrored(int64_t b, int64_t h, int64_t l, int64_t d, int32_t type, bool blhd, int64_t pad, std::mt19937& rng)
      : shape{b, h, l, d}, dtype(type) {
    const int64_t row = d + pad;
    if (blhd) {
      strides[0] = l * h * row, strides[1] = row, strides[2] = h * row, strides[3] = 1;
    } else {
      strides[0] = h * l * row, strides[1] = l * row, strides[2] = row, strides[3] = 1;
    }
    host.resize(static_cast<size_t>(b * h * l * row) * element_bytes(dtype));
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    for (size_t i = 0; i < host.size() / element_bytes(dtype); ++i)
      from_float(host.data() + i * element_bytes(dtype), dtype, dist(rng));
    REQUIRE(cudaMalloc(&device, std::max<size_t>(host.size(), 16)) == cudaSuccess);
    REQUIRE(cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  ~Mirrored() { cudaFree(device); }
  Mirrored(const Mirrored&) = delete;
  Mirrored& operator=(const Mirrored&) = delete;

  sattn_tensor view(bool on_device, int ndim = 4) {
    sattn_tensor t{};
    t.data = on_device ? device : host.data();
    t.device_type = on_device ? SATTN_DEVICE_CUDA : SATTN_DEVICE_CPU;
    t.dtype = dtype;
    t.ndim = ndim;
    for (int a = 0; a < 4; ++a) t.shape[a] = shape[a], t.strides[a] = strides[a];
    return t;
  }
  float at(const std::vector<unsigned char>& bytes, int64_t b, int64_t h, int64_t l, int64_t d) const {
    const int64_t index = b * strides[0] + h * strides[1] + l * strides[2] + d * strides[3];
    return to_float(bytes.data() + static_cast<size_t>(index) * element_bytes(dtype), dtype);
  }
  std::vector<unsigned char> download() const {
    std::vector<unsigned char> bytes(host.size());
    REQUIRE(cudaMemcpy(bytes.data(), device, bytes.size(), cudaMemcpyDeviceToHost) == cudaSuccess);
    return bytes;
  }
};

struct Case {
  int64_t batch, q_heads, kv_heads, q_len, kv_len, head_dim, head_dim_v;
  int32_t dtype, precision, pattern;
  bool causal, blhd, lse;
  int64_t pad;  // row padding in elements
  sattn_pattern_params params;
};

std::string describe(const Case& c) {
  return std::string(sattn_pattern_name(c.pattern)) + " " + sattn_dtype_name(c.dtype) + "/" +
         sattn_precision_name(c.precision) + " B" + std::to_string(c.batch) + " Hq" + std::to_string(c.q_heads) +
         " Hk" + std::to_string(c.kv_heads) + " Lq" + std::to_string(c.q_len) + " Lk" + std::to_string(c.kv_len) +
         " D" + std::to_string(c.head_dim) + " Dv" + std::to_string(c.head_dim_v) + (c.causal ? " causal" : "") +
         (c.blhd ? " blhd" : " bhld") + " pad" + std::to_string(c.pad) + " w" + std::to_string(c.params.window_size) +
         " dil" + std::to_string(c.params.dilation) + " wrap" + std::to_string(c.params.wrap) + " g" +
         std::to_string(c.params.global_tokens) + " b" + std::to_string(c.params.block_size) + " l" +
         std::to_string(c.params.local_blocks);
}

sattn_plan* make_plan(const sattn_attention_desc& d, const char* backend) {
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = backend;
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  const sattn_status status = sattn_plan_create(&d, &prefs, &plan);
  INFO(backend << ": " << sattn_status_string(status) << ": " << sattn_last_error());
  REQUIRE(status == SATTN_OK);
  return plan;
}

void run_case(const Case& c, uint32_t seed) {
  INFO(describe(c));
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = c.batch, d.num_q_heads = c.q_heads, d.num_kv_heads = c.kv_heads, d.q_len = c.q_len, d.kv_len = c.kv_len,
  d.head_dim = c.head_dim, d.head_dim_v = c.head_dim_v;
  d.dtype = c.dtype, d.precision = c.precision, d.pattern = c.pattern, d.params = c.params;
  d.flags = c.causal ? SATTN_FLAG_CAUSAL : 0u;
  std::mt19937 rng(seed);
  Mirrored q(c.batch, c.q_heads, c.q_len, c.head_dim, c.dtype, c.blhd, c.pad, rng);
  Mirrored k(c.batch, c.kv_heads, c.kv_len, c.head_dim, c.dtype, c.blhd, c.pad, rng);
  Mirrored v(c.batch, c.kv_heads, c.kv_len, c.head_dim_v, c.dtype, c.blhd, c.pad, rng);
  Mirrored o(c.batch, c.q_heads, c.q_len, c.head_dim_v, c.dtype, c.blhd, c.pad, rng);
  Mirrored lse(c.batch, c.q_heads, c.q_len, 1, SATTN_DTYPE_F32, false, 0, rng);
  lse.strides[0] = c.q_heads * c.q_len, lse.strides[1] = c.q_len, lse.strides[2] = 1, lse.strides[3] = 1;

  // Host reference first: its outputs are the host buffers (their random contents are overwritten).
  sattn_plan* reference = make_plan(d, "reference");
  sattn_tensor tq = q.view(false), tk = k.view(false), tv = v.view(false), to = o.view(false), tl = lse.view(false, 3);
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &tq, args.k = &tk, args.v = &tv, args.o = &to, args.lse = c.lse ? &tl : nullptr;
  size_t bytes = 0;
  REQUIRE(sattn_plan_workspace_size(reference, &bytes) == SATTN_OK);
  std::vector<unsigned char> workspace(bytes);
  REQUIRE(sattn_plan_run(reference, &args, workspace.data(), bytes, nullptr) == SATTN_OK);
  sattn_plan_destroy(reference);

  sattn_plan* plan = make_plan(d, "cuda");
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  REQUIRE(sattn_plan_get_info(plan, &info) == SATTN_OK);
  INFO("kernel " << info.kernel);
  sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), dout = o.view(true), dl = lse.view(true, 3);
  sattn_run_args device_args = SATTN_RUN_ARGS_INIT;
  device_args.q = &dq, device_args.k = &dk, device_args.v = &dv, device_args.o = &dout;
  device_args.lse = c.lse ? &dl : nullptr;
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  size_t device_bytes = 0;  // decode shapes keep their partial results here
  REQUIRE(sattn_plan_workspace_size(plan, &device_bytes) == SATTN_OK);
  void* device_workspace = nullptr;
  if (device_bytes > 0) REQUIRE(cudaMalloc(&device_workspace, device_bytes) == cudaSuccess);
  const sattn_status status = sattn_plan_run(plan, &device_args, device_workspace, device_bytes, stream);
  INFO(sattn_status_string(status) << ": " << sattn_last_error());
  REQUIRE(status == SATTN_OK);
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  cudaStreamDestroy(stream);
  cudaFree(device_workspace);
  sattn_plan_destroy(plan);

  const std::vector<unsigned char> got = o.download();
  double max_error = 0.0, max_ref = 0.0;
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.q_heads; ++h)
      for (int64_t i = 0; i < c.q_len; ++i)
        for (int64_t x = 0; x < c.head_dim_v; ++x) {
          const double ref = o.at(o.host, b, h, i, x), out = o.at(got, b, h, i, x);
          REQUIRE(std::isfinite(out));
          max_error = std::max(max_error, std::fabs(out - ref));
          max_ref = std::max(max_ref, std::fabs(ref));
        }
  // docs/patterns.md: 1e-4 (fp32) or 2e-2 (bf16, fp16) against the exact result, plus O's own storage rounding.
  const double storage = c.dtype == SATTN_DTYPE_BF16 ? 1.0 / 256 : c.dtype == SATTN_DTYPE_F16 ? 1.0 / 2048 : 0.0;
  // int8/int4: both backends evaluate the same quantised computation (the integers agree), to 2e-3 of it.
  const bool quantized = c.precision == SATTN_PRECISION_INT8 || c.precision == SATTN_PRECISION_INT4;
  const double tolerance = (c.precision == SATTN_PRECISION_FP32 ? 1e-4 : quantized ? 2e-3 : 2e-2) + storage;
  INFO("max |O - O_ref| / max |O_ref| = " << max_error / std::max(max_ref, 1e-30));
  CHECK(max_error <= tolerance * std::max(max_ref, 1e-30));

  if (c.lse) {
    const std::vector<unsigned char> got_lse = lse.download();
    double lse_error = 0.0;
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t h = 0; h < c.q_heads; ++h)
        for (int64_t i = 0; i < c.q_len; ++i) {
          const double ref = lse.at(lse.host, b, h, i, 0), out = lse.at(got_lse, b, h, i, 0);
          if (std::isinf(ref)) {
            CHECK(out == ref);
            continue;
          }
          lse_error = std::max(lse_error, std::fabs(out - ref) / std::max(1.0, std::fabs(ref)));
        }
    INFO("max LSE error " << lse_error);
    CHECK(lse_error <= (c.precision == SATTN_PRECISION_FP32 ? 1e-5 : 1e-3));
  }
}

Case base(int32_t pattern, int32_t dtype, int32_t precision, int64_t head_dim) {
  Case c{1,        2,        1,     100,       150,
         head_dim, head_dim, dtype, precision, pattern,
         false,    false,    true,  0,         SATTN_PATTERN_PARAMS_INIT};
  return c;
}

}  // namespace

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
  const sattn_status status = sattn_plan_run(plan, &args, nullptr, 0, nullptr);
  INFO(sattn_last_error());
  CHECK(status == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(sattn_last_error()).find("k.data is host memory") != std::string::npos);
  dk.data = k.device;
  CHECK(sattn_plan_run(plan, &args, nullptr, 0, nullptr) == SATTN_OK);
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
    size_t bytes = 0;
    REQUIRE(sattn_plan_workspace_size(plan, &bytes) == SATTN_OK);
    void* workspace = nullptr;
    if (bytes > 0) REQUIRE(cudaMalloc(&workspace, bytes) == cudaSuccess);
    sattn_tensor dq = q.view(true), dk = k.view(true), dv = v.view(true), de = eager.view(true),
                 dg = graphed.view(true);
    sattn_run_args args = SATTN_RUN_ARGS_INIT;
    args.q = &dq, args.k = &dk, args.v = &dv, args.o = &de;
    cudaStream_t stream = nullptr;
    REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
    REQUIRE(sattn_plan_run(plan, &args, workspace, bytes, stream) == SATTN_OK);

    args.o = &dg;
    cudaGraph_t graph = nullptr;
    REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
    const sattn_status captured = sattn_plan_run(plan, &args, workspace, bytes, stream);
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
    cudaFree(workspace);
    sattn_plan_destroy(plan);
  }
}
