// Data-dependent patterns on the device (the backend has SATTN_BACKEND_SELECTS_ON_DEVICE): the core gives run() no
// layout for them, so run() selects from the run's tensors on the caller's stream, builds the layout the kernels
// walk (row_ptr, spans, bits) and the Selection they consult in the plan's workspace (device memory), and launches
// attention over it. Nothing here allocates or synchronises: every launch is stream-ordered, so a run can be captured
// in a CUDA graph. One family of patterns per source file; this header is their common interface.
#pragma once

#include <sattn_backend.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "cuda_kernels.hpp"

namespace sattn_cuda {

struct Plan;

// Carves consecutive 256-byte aligned regions out of the workspace. With base == nullptr it only measures, so that
// workspace_size and run() share one description of the workspace.
class WorkspaceCarver {
 public:
  explicit WorkspaceCarver(void* base) : base_(static_cast<unsigned char*>(base)) {}
  template <typename T>
  T* take(size_t count) {
    offset_ = (offset_ + 255) / 256 * 256;
    T* at = base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + offset_);
    offset_ += sizeof(T) * count;
    return at;
  }
  size_t bytes() const { return offset_ == 0 ? 0 : offset_ + 256; }  // slack for the caller's alignment

 private:
  unsigned char* base_;
  size_t offset_ = 0;
};

// What a family of data-dependent patterns implements.
struct SelectionFamily {
  // Why this problem is refused (empty: supported). Called from supports(), before any plan exists.
  std::string (*refuse)(const sattn_problem& problem);
  // Carves the run's selection buffers; with a null base only the size counts (plan time).
  void (*carve)(const Plan& plan, WorkspaceCarver& carver);
  // Selects on `stream` and launches the attention over the result; params already holds the run's tensors and the
  // plan's rule. Returns a cudaError_t.
  int (*run)(const Plan& plan, const sattn_run_args& args, KernelParams& params, void* workspace, void* stream);
};

// The families, one source file each.
extern const SelectionFamily kBlockMaskFamily;  // cuda_select_blocks.cu
extern const SelectionFamily kBlockTopkFamily;  // cuda_select_blocks.cu

// The family of a data-dependent pattern, or nullptr when the backend does not select it on the device.
const SelectionFamily* selection_family(int32_t pattern);

// Patterns that selection_family() answers for (1 << pattern each).
uint32_t device_selected_patterns();

}  // namespace sattn_cuda
