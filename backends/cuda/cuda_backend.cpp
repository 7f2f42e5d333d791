// The cuda backend plugin (libsattn-backend-cuda.so): block-sparse flash attention on NVIDIA GPUs over the core's
// static layouts. This file is its registration: what it claims (patterns, precisions, shapes) and the ops table;
// cuda_plan.cpp and cuda_run.cpp do the work, cuda_flash.cu and cuda_generic.cu are the kernels.
#include <sattn_backend.h>
#include <sattn_kernels.h>

#include <cuda_runtime.h>

#include <string>

#include "backend_host.hpp"
#include "cuda_kernels.hpp"
#include "cuda_plan.hpp"
#include "cuda_select.hpp"

namespace sattn_cuda {

const sattn_host_api* host = nullptr;
void check_pointers(const Plan& plan, const sattn_run_args* args);

namespace {

int probe() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count <= 0) {
    host->set_error(error != cudaSuccess
                        ? (std::string("cuda backend: no usable GPU: ") + cudaGetErrorString(error)).c_str()
                        : "cuda backend: no CUDA device found");
    (void)cudaGetLastError();
    return 0;
  }
  return 1;
}

sattn_status refuse(const std::string& why) {
  host->set_error(("cuda backend: " + why).c_str());
  return SATTN_ERROR_NOT_SUPPORTED;
}

sattn_status supports(const sattn_problem* problem) {
  const sattn_attention_desc& d = *problem->desc;
  if (d.dtype != SATTN_DTYPE_F32 && d.dtype != SATTN_DTYPE_F16 && d.dtype != SATTN_DTYPE_BF16)
    return refuse("tensors of f32, f16 or bf16 only");
  if (d.head_dim > kMaxGenericHeadDim || d.head_dim_v > kMaxGenericHeadDim)
    return refuse("head dims up to " + std::to_string(kMaxGenericHeadDim) + " only");
  // The generic kernel's blocks: 4 query rows of one (batch, head) each, on a one-dimensional grid.
  if (d.batch * d.num_q_heads > 0x7fffffff / ((d.q_len + 3) / 4 + 1)) return refuse("too many query rows for one grid");
  if (is_quantized(d)) {
    if (!quantized_grid_fits(d)) return refuse("too many rows for the int8/int4 kernels' grids");
  }
  if (const SelectionFamily* family = selection_family(d.pattern); family != nullptr) {
    const std::string why = family->refuse(*problem);
    if (!why.empty()) return refuse(why);
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || problem->device_id < 0 || problem->device_id >= count) {
    (void)cudaGetLastError();
    return refuse("device " + std::to_string(problem->device_id) + " does not exist (" + std::to_string(count) +
                  " CUDA devices)");
  }
  return SATTN_OK;
}

// The registry chooses by cost without knowing where the tensors live; a GPU backend chosen for host tensors would
// refuse every run, so this one is only used when named (prefs.backend or SATTN_BACKEND = "cuda").
double cost(const sattn_problem* problem) {
  (void)problem;
  return 1e20;
}

void tile_shape(const sattn_problem* problem, int64_t* tile_q, int64_t* tile_k) {
  *tile_q = layout_tile_q(*problem);
  *tile_k = kTileK;
}

const char* kernel_name(const void* state) { return static_cast<const Plan*>(state)->kernel.c_str(); }

// Device memory: the selection buffers of a data-dependent pattern (0 for static patterns).
size_t workspace_size(const void* state) { return static_cast<const Plan*>(state)->workspace_bytes; }

sattn_status can_implement(const void* state, const sattn_run_args* args) {
  return sattn_backend_util::boundary(host, "cuda", [&] {
    const Plan& plan = *static_cast<const Plan*>(state);
    DeviceScope scope(plan.device);
    check_pointers(plan, args);
  });
}

constexpr uint32_t kStaticPatterns =
    (1u << SATTN_PATTERN_DENSE) | (1u << SATTN_PATTERN_SLIDING_WINDOW) | (1u << SATTN_PATTERN_BLOCK_LOCAL_GLOBAL);
constexpr uint32_t kPrecisions = (1u << SATTN_PRECISION_FP32) | (1u << SATTN_PRECISION_BF16) |
                                 (1u << SATTN_PRECISION_FP16) | (1u << SATTN_PRECISION_INT8) |
                                 (1u << SATTN_PRECISION_INT4);

// pattern_mask adds the patterns selected on the device when the plugin is loaded (sattn_backend_entry_v2).
sattn_backend_ops ops = {sizeof(sattn_backend_ops),
                         SATTN_BACKEND_ABI_VERSION,
                         "cuda",
                         "NVIDIA GPUs: block-sparse flash attention on tensor cores (mma.sync) over static "
                         "layouts; fp32 and other head dims on CUDA cores",
                         SATTN_DEVICE_CUDA,
                         SATTN_BACKEND_SELECTS_ON_DEVICE,
                         kStaticPatterns,
                         kPrecisions,
                         probe,
                         supports,
                         cost,
                         tile_shape,
                         plan_create,
                         plan_destroy,
                         kernel_name,
                         workspace_size,
                         can_implement,
                         run,
                         nullptr};  // selects_itself: implied by SATTN_BACKEND_SELECTS_ON_DEVICE

}  // namespace
}  // namespace sattn_cuda

extern "C" __attribute__((visibility("default"))) const sattn_backend_ops* sattn_backend_entry_v2(
    uint32_t abi, const sattn_host_api* api) {
  if (abi != SATTN_BACKEND_ABI_VERSION || api == nullptr) return nullptr;
  sattn_cuda::host = api;
  sattn_cuda::ops.pattern_mask = sattn_cuda::kStaticPatterns | sattn_cuda::device_selected_patterns();
  return &sattn_cuda::ops;
}
