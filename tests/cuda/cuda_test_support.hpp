// Shared by the cuda backend's tests: tensors mirrored on host and device, the problem cases and the check of a
// cuda run against the reference backend on the host copies (tolerances of docs/patterns.md). Header-only: each test
// program includes it once.
#pragma once

#include <sattn.h>
#include <sattn_kernels.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace cuda_test {

// Why no case can run here, or empty.
inline std::string why_no_gpu() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) return std::string("no usable CUDA driver or device: ") + cudaGetErrorString(error);
  if (count == 0) return "no CUDA device";
  return {};
}

// True (with a warning naming why) where no case can run: the test then passes without running.
inline bool skip_without_gpu() {
  const std::string why = why_no_gpu();
  if (why.empty()) return false;
  WARN("cuda tests skipped: " << why);
  return true;
}

inline const sattn_backend_info* find_backend(const char* name, sattn_backend_info& info) {
  for (int32_t i = 0; i < sattn_backend_count(); ++i) {
    info = SATTN_BACKEND_INFO_INIT;
    if (sattn_backend_get_info(i, &info) == SATTN_OK && std::string(info.name) == name) return &info;
  }
  return nullptr;
}

inline size_t element_bytes(int32_t dtype) { return dtype == SATTN_DTYPE_F32 ? 4 : 2; }

inline float to_float(const unsigned char* p, int32_t dtype) {
  if (dtype == SATTN_DTYPE_F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == SATTN_DTYPE_BF16 ? sattn_bf16_to_float(h) : sattn_f16_to_float(h);
}

inline void from_float(unsigned char* p, int32_t dtype, float f) {
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
  unsigned char* element(int64_t b, int64_t h, int64_t l, int64_t d) {
    const int64_t index = b * strides[0] + h * strides[1] + l * strides[2] + d * strides[3];
    return host.data() + static_cast<size_t>(index) * element_bytes(dtype);
  }
  // Rows l with l % period == period - 1 copy row l - 1 (keys whose scores tie exactly with the previous key's), on
  // the host and on the device.
  void duplicate_rows(int64_t period) {
    for (int64_t b = 0; b < shape[0]; ++b)
      for (int64_t h = 0; h < shape[1]; ++h)
        for (int64_t l = period - 1; l < shape[2]; l += period)
          for (int64_t d = 0; d < shape[3]; ++d)
            std::memcpy(element(b, h, l, d), element(b, h, l - 1, d), element_bytes(dtype));
    REQUIRE(cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice) == cudaSuccess);
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
  // block_mask: the mask's batch and head dimensions (1 broadcasts) and the share of blocks it keeps.
  int64_t mask_batches = 1, mask_heads = 1;
  double mask_keep = 0.3;
  // K and V with head stride 0 (every kv head reads head 0): strides TMA cannot address, so Hopper takes the
  // mma.sync kernel instead of the warp-specialised one.
  bool broadcast_kv = false;
};

// A random u8 block mask [batches, heads, ceil(Lq/b), ceil(Lk/b)] on host and device.
struct BlockMask {
  std::vector<uint8_t> host;
  void* device = nullptr;
  sattn_tensor host_view{}, device_view{};

  BlockMask(const Case& c, std::mt19937& rng) {
    const int64_t b = c.params.block_size, rows = (c.q_len + b - 1) / b, cols = (c.kv_len + b - 1) / b;
    host.resize(static_cast<size_t>(c.mask_batches * c.mask_heads * rows * cols));
    std::bernoulli_distribution keep(c.mask_keep);
    for (uint8_t& m : host) m = keep(rng) ? static_cast<uint8_t>(1 + rng() % 255) : 0;  // any non-zero keeps
    REQUIRE(cudaMalloc(&device, std::max<size_t>(host.size(), 1)) == cudaSuccess);
    REQUIRE(cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    host_view = sattn_tensor{host.data(),
                             SATTN_DEVICE_CPU,
                             0,
                             SATTN_DTYPE_U8,
                             4,
                             {c.mask_batches, c.mask_heads, rows, cols},
                             {c.mask_heads * rows * cols, rows * cols, cols, 1}};
    device_view = host_view;
    device_view.data = device;
    device_view.device_type = SATTN_DEVICE_CUDA;
  }
  ~BlockMask() { cudaFree(device); }
  BlockMask(const BlockMask&) = delete;
  BlockMask& operator=(const BlockMask&) = delete;
};

inline std::string describe(const Case& c) {
  return std::string(sattn_pattern_name(c.pattern)) + " " + sattn_dtype_name(c.dtype) + "/" +
         sattn_precision_name(c.precision) + " B" + std::to_string(c.batch) + " Hq" + std::to_string(c.q_heads) +
         " Hk" + std::to_string(c.kv_heads) + " Lq" + std::to_string(c.q_len) + " Lk" + std::to_string(c.kv_len) +
         " D" + std::to_string(c.head_dim) + " Dv" + std::to_string(c.head_dim_v) + (c.causal ? " causal" : "") +
         (c.blhd ? " blhd" : " bhld") + " pad" + std::to_string(c.pad) + " w" + std::to_string(c.params.window_size) +
         " dil" + std::to_string(c.params.dilation) + " wrap" + std::to_string(c.params.wrap) + " g" +
         std::to_string(c.params.global_tokens) + " b" + std::to_string(c.params.block_size) + " l" +
         std::to_string(c.params.local_blocks) + " keep" + std::to_string(c.params.keep_ratio) + " n" +
         std::to_string(c.params.topk_blocks) + " comp" + std::to_string(c.params.comp_block_size) + " mask" +
         std::to_string(c.mask_batches) + "x" + std::to_string(c.mask_heads) + (c.broadcast_kv ? " kv-broadcast" : "");
}

inline sattn_plan* make_plan(const sattn_attention_desc& d, const char* backend) {
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = backend;
  prefs.flags = SATTN_PREF_STRICT;
  sattn_plan* plan = nullptr;
  const sattn_status status = sattn_plan_create(&d, &prefs, &plan);
  INFO(backend << ": " << sattn_status_string(status) << ": " << sattn_last_error());
  REQUIRE(status == SATTN_OK);
  return plan;
}

// The device run's O (and LSE, when given) against the reference's, which the host buffers hold: docs/patterns.md's
// tolerances, 1e-4 (fp32) or 2e-2 (bf16, fp16) of max |O_ref| plus O's own storage rounding; int8/int4, where both
// backends evaluate the same quantised computation (the integers agree), 2e-3 of it. LSE to 1e-5 (fp32) or 1e-3
// relative, -inf exactly where a row keeps no key.
// Device workspace of a plan (selection buffers, decode partials, the Hopper kernel's work counter), freed on scope
// exit. Every run passes one: which plans need it is the backend's business (sattn_plan_workspace_size).
struct DeviceWorkspace {
  void* data = nullptr;
  size_t bytes = 0;
  explicit DeviceWorkspace(sattn_plan* plan) {
    REQUIRE(sattn_plan_workspace_size(plan, &bytes) == SATTN_OK);
    if (bytes > 0) REQUIRE(cudaMalloc(&data, bytes) == cudaSuccess);
  }
  ~DeviceWorkspace() { cudaFree(data); }
  DeviceWorkspace(const DeviceWorkspace&) = delete;
  DeviceWorkspace& operator=(const DeviceWorkspace&) = delete;
};

inline void check_outputs(const Mirrored& o, const Mirrored* lse, int32_t precision) {
  const int64_t batch = o.shape[0], heads = o.shape[1], rows = o.shape[2], columns = o.shape[3];
  const std::vector<unsigned char> got = o.download();
  double max_error = 0.0, max_ref = 0.0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t x = 0; x < columns; ++x) {
          const double ref = o.at(o.host, b, h, i, x), out = o.at(got, b, h, i, x);
          REQUIRE(std::isfinite(out));
          max_error = std::max(max_error, std::fabs(out - ref));
          max_ref = std::max(max_ref, std::fabs(ref));
        }
  const double storage = o.dtype == SATTN_DTYPE_BF16 ? 1.0 / 256 : o.dtype == SATTN_DTYPE_F16 ? 1.0 / 2048 : 0.0;
  const bool quantized = precision == SATTN_PRECISION_INT8 || precision == SATTN_PRECISION_INT4;
  const double tolerance = (precision == SATTN_PRECISION_FP32 ? 1e-4 : quantized ? 2e-3 : 2e-2) + storage;
  INFO("max |O - O_ref| / max |O_ref| = " << max_error / std::max(max_ref, 1e-30));
  CHECK(max_ref > 0.0);  // the inputs are random: an all-zero reference would prove nothing
  CHECK(max_error <= tolerance * std::max(max_ref, 1e-30));
  if (lse == nullptr) return;
  const std::vector<unsigned char> got_lse = lse->download();
  double lse_error = 0.0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < rows; ++i) {
        const double ref = lse->at(lse->host, b, h, i, 0), out = lse->at(got_lse, b, h, i, 0);
        if (std::isinf(ref)) {
          CHECK(out == ref);
          continue;
        }
        lse_error = std::max(lse_error, std::fabs(out - ref) / std::max(1.0, std::fabs(ref)));
      }
  INFO("max LSE error " << lse_error);
  CHECK(lse_error <= (precision == SATTN_PRECISION_FP32 ? 1e-5 : 1e-3));
}

inline void run_case(const Case& c, uint32_t seed) {
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
  if (c.broadcast_kv) k.strides[1] = v.strides[1] = 0;
  Mirrored lse(c.batch, c.q_heads, c.q_len, 1, SATTN_DTYPE_F32, false, 0, rng);
  lse.strides[0] = c.q_heads * c.q_len, lse.strides[1] = c.q_len, lse.strides[2] = 1, lse.strides[3] = 1;

  std::unique_ptr<BlockMask> mask;
  if (c.pattern == SATTN_PATTERN_BLOCK_MASK) mask = std::make_unique<BlockMask>(c, rng);

  // Host reference first: its outputs are the host buffers (their random contents are overwritten).
  sattn_plan* reference = make_plan(d, "reference");
  sattn_tensor tq = q.view(false), tk = k.view(false), tv = v.view(false), to = o.view(false), tl = lse.view(false, 3);
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &tq, args.k = &tk, args.v = &tv, args.o = &to, args.lse = c.lse ? &tl : nullptr;
  if (mask) args.block_mask = &mask->host_view;
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
  if (mask) device_args.block_mask = &mask->device_view;
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  {
    const DeviceWorkspace device_workspace(plan);
    const sattn_status status =
        sattn_plan_run(plan, &device_args, device_workspace.data, device_workspace.bytes, stream);
    INFO(sattn_status_string(status) << ": " << sattn_last_error());
    REQUIRE(status == SATTN_OK);
    REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  }
  cudaStreamDestroy(stream);
  sattn_plan_destroy(plan);

  check_outputs(o, c.lse ? &lse : nullptr, c.precision);
}

inline Case base(int32_t pattern, int32_t dtype, int32_t precision, int64_t head_dim) {
  Case c{1,        2,        1,     100,       150,
         head_dim, head_dim, dtype, precision, pattern,
         false,    false,    true,  0,         SATTN_PATTERN_PARAMS_INIT};
  return c;
}

}  // namespace cuda_test
