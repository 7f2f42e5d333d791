// The cuda backend's plan: the problem and the static layout copied to device memory at plan time, so that run()
// only validates pointers and launches.
#pragma once

#include <sattn_backend.h>

#include <string>

#include "cuda_kernels.hpp"

namespace sattn_cuda {

extern const sattn_host_api* host;
struct SelectionFamily;

struct Plan {
  sattn_attention_desc desc;  // the plan's own copy: problem.desc points here
  sattn_problem problem;
  int device = 0;
  void* device_layout = nullptr;  // one allocation: rule, row_ptr, spans, bits (for selected patterns: the rule)
  sattn_layout_view layout{};     // its pointers point into device_layout
  std::string kernel;             // what kernel_name reports
  // Data-dependent patterns: who selects them on the device. Workspace: their buffers, or the decode path's partials.
  const SelectionFamily* family = nullptr;
  DecodePlan decode{};      // splits == 0: not a decode shape
  bool wgmma = false;       // the GPU is sm_90 (Hopper): the flash kernel's wgmma version runs
  int multiprocessors = 0;  // the GPU's SMs: the Hopper kernel's resident blocks, the decode path's splits
  // Where the Hopper kernel's work counter (KernelParams::work_counter) lies in the workspace; has_work_counter:
  // the plan may run that kernel.
  bool has_work_counter = false;
  size_t work_counter_offset = 0;
  size_t workspace_bytes = 0;
  size_t quantized_offset = 0;  // int8/int4: where the quantised operands start in the workspace
  // The Hopper kernel's work order (KernelParams::work_order, in device_layout; static layouts only): the rows with
  // many more tiles than the mean first, so that they do not run alone at the end.
  const int32_t* work_order = nullptr;
};

class WorkspaceCarver;
// The decode path's partial results in the workspace (sizes only when the carver has no base); fills decode's
// pointers when given.
void carve_decode(const Plan& plan, WorkspaceCarver& carver, DecodePlan* decode = nullptr);
// The int8/int4 operands in the workspace, likewise.
void carve_quantized(const Plan& plan, WorkspaceCarver& carver, QuantizedBuffers* buffers = nullptr);
bool is_quantized(const sattn_attention_desc& desc);

// Whether the device runs the Hopper kernels (sm_90; SATTN_CUDA_WGMMA=0 keeps the mma.sync ones, for comparisons).
bool hopper_kernels(int device);
// The query rows of the layout's tiles for a problem (tile_shape): kTileQWide where the Hopper kernel's
// three-warpgroup blocks take the whole run (D 64, 16-bit tensors of that precision, dense, causal and plain
// sliding windows past the decode shapes), kTileQ otherwise.
int64_t layout_tile_q(const sattn_problem& problem);

sattn_status plan_create(const sattn_problem* problem, const sattn_layout* static_layout, void** state);
void plan_destroy(void* state);
sattn_status run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                 size_t workspace_bytes, void* stream, sattn_run_counters* counters);

// Switches to a device for the scope and back to the caller's on exit (cheap: no synchronisation).
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// "cuda backend: <what>: <cudaGetErrorString>" as a backend failure of SATTN_ERROR_DEVICE (or OUT_OF_MEMORY).
[[noreturn]] void fail_cuda(int error, const std::string& what);
void check_cuda(int error, const std::string& what);

}  // namespace sattn_cuda
