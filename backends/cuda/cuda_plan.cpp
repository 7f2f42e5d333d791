// Plan creation: the layout's rule, row pointers, spans and bit words go to the plan's device in one allocation, made
// here and freed with the plan (run() never allocates).
#include "cuda_plan.hpp"

#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <vector>

#include "backend_host.hpp"
#include "cuda_kernels.hpp"

namespace sattn_cuda {

using sattn_backend_util::Failure;

[[noreturn]] void fail_cuda(int error, const std::string& what) {
  const cudaError_t e = static_cast<cudaError_t>(error);
  throw Failure{e == cudaErrorMemoryAllocation ? SATTN_ERROR_OUT_OF_MEMORY : SATTN_ERROR_DEVICE,
                "cuda backend: " + what + ": " + cudaGetErrorString(e)};
}

void check_cuda(int error, const std::string& what) {
  if (error != cudaSuccess) fail_cuda(error, what);
}

DeviceScope::DeviceScope(int device) {
  check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
  if (previous_ != device) check_cuda(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
}

DeviceScope::~DeviceScope() {
  int current = previous_;
  if (cudaGetDevice(&current) == cudaSuccess && current != previous_) cudaSetDevice(previous_);
}

namespace {

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

void copy_layout(Plan& plan, const sattn_layout* static_layout) {
  sattn_layout_view view{};
  view.struct_size = sizeof view;
  sattn_backend_util::check(host->get_layout_view(static_layout, &view));
  if (view.tile_q != kTileQ || view.tile_k != kTileK || view.keys != nullptr)
    throw Failure{SATTN_ERROR_INTERNAL, "cuda backend: the layout does not have the tile shape it asked for"};
  const int64_t rows = view.batches * view.heads * view.num_q_tiles;
  const size_t rule_bytes = align16(sizeof(sattn_element_rule));
  const size_t row_bytes = align16(sizeof(int64_t) * static_cast<size_t>(rows + 1));
  const size_t span_bytes = align16(sizeof(sattn_tile_span) * static_cast<size_t>(view.num_spans));
  const size_t bit_bytes = sizeof(uint64_t) * static_cast<size_t>(view.bits != nullptr ? view.num_bits_words : 0);
  std::vector<unsigned char> staging(rule_bytes + row_bytes + span_bytes + bit_bytes);
  unsigned char* at = staging.data();
  std::memcpy(at, view.rule, sizeof(sattn_element_rule));
  std::memcpy(at + rule_bytes, view.row_ptr, sizeof(int64_t) * static_cast<size_t>(rows + 1));
  if (view.num_spans > 0)
    std::memcpy(at + rule_bytes + row_bytes, view.spans, sizeof(sattn_tile_span) * static_cast<size_t>(view.num_spans));
  if (bit_bytes > 0) std::memcpy(at + rule_bytes + row_bytes + span_bytes, view.bits, bit_bytes);

  check_cuda(cudaMalloc(&plan.device_layout, staging.size()), "allocating the layout on the device");
  check_cuda(cudaMemcpy(plan.device_layout, staging.data(), staging.size(), cudaMemcpyHostToDevice),
             "copying the layout to the device");
  auto* base = static_cast<unsigned char*>(plan.device_layout);
  plan.layout = view;
  plan.layout.rule = reinterpret_cast<const sattn_element_rule*>(base);
  plan.layout.row_ptr = reinterpret_cast<const int64_t*>(base + rule_bytes);
  plan.layout.spans = reinterpret_cast<const sattn_tile_span*>(base + rule_bytes + row_bytes);
  plan.layout.bits =
      bit_bytes > 0 ? reinterpret_cast<const uint64_t*>(base + rule_bytes + row_bytes + span_bytes) : nullptr;
}

}  // namespace

sattn_status plan_create(const sattn_problem* problem, const sattn_layout* static_layout, void** state) {
  return sattn_backend_util::boundary(host, "cuda", [&] {
    if (static_layout == nullptr)
      throw Failure{SATTN_ERROR_NOT_SUPPORTED, "cuda backend: runs static layouts only (no data-dependent pattern)"};
    auto plan = std::make_unique<Plan>();
    plan->desc = *problem->desc;
    plan->problem = *problem;
    plan->problem.desc = &plan->desc;
    plan->device = problem->device_id;
    DeviceScope scope(plan->device);
    check_cuda(prepare_generic(), "raising the generic kernel's shared-memory limit");
    check_cuda(prepare_flash(), "raising the flash kernel's shared-memory limit");
    try {
      copy_layout(*plan, static_layout);
    } catch (...) {
      if (plan->device_layout != nullptr) cudaFree(plan->device_layout);
      throw;
    }
    const sattn_attention_desc& d = plan->desc;
    const bool tensor_cores = ((d.dtype == SATTN_DTYPE_BF16 && d.precision == SATTN_PRECISION_BF16) ||
                               (d.dtype == SATTN_DTYPE_F16 && d.precision == SATTN_PRECISION_FP16)) &&
                              d.head_dim == d.head_dim_v && (d.head_dim == 64 || d.head_dim == 128);
    plan->kernel = tensor_cores ? "cuda_flash_mma_m16n8k16_d" + std::to_string(d.head_dim) +
                                      " (cuda_generic_warp_per_row for unaligned tensors)"
                                : std::string("cuda_generic_warp_per_row");
    *state = plan.release();
  });
}

void plan_destroy(void* state) {
  auto* plan = static_cast<Plan*>(state);
  if (plan == nullptr) return;
  if (plan->device_layout != nullptr) {
    int previous = 0;
    const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != plan->device &&
                          cudaSetDevice(plan->device) == cudaSuccess;
    cudaFree(plan->device_layout);  // synchronises with work still reading the layout
    if (switched) cudaSetDevice(previous);
  }
  delete plan;
}

}  // namespace sattn_cuda
