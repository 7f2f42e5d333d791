// run(): checks that every tensor is memory of the plan's device, fills the kernel parameters and launches on the
// caller's stream. Nothing here allocates or synchronises; launch failures come back as SATTN_ERROR_DEVICE.
#include <cuda_runtime.h>

#include <string>

#include "backend_host.hpp"
#include "cuda_kernels.hpp"
#include "cuda_plan.hpp"
#include "cuda_select.hpp"

namespace sattn_cuda {

using sattn_backend_util::Failure;

namespace {

// Host memory or another device's memory would fault inside the kernel (or read the wrong device): refuse it here
// with the tensor's name.
void check_pointer(const sattn_tensor* t, const char* name, int device) {
  cudaPointerAttributes attributes{};
  const cudaError_t error = cudaPointerGetAttributes(&attributes, t->data);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();  // clears the sticky-free error so the next call does not report it
    throw Failure{SATTN_ERROR_INVALID_ARGUMENT, std::string("cuda backend: ") + name +
                                                    ".data is not memory CUDA knows: " + cudaGetErrorString(error)};
  }
  if (attributes.type == cudaMemoryTypeManaged) return;
  if (attributes.type != cudaMemoryTypeDevice)
    throw Failure{
        SATTN_ERROR_INVALID_ARGUMENT,
        std::string("cuda backend: ") + name + ".data is host memory, not memory of device " + std::to_string(device)};
  if (attributes.device != device)
    throw Failure{SATTN_ERROR_INVALID_ARGUMENT, std::string("cuda backend: ") + name + ".data is memory of device " +
                                                    std::to_string(attributes.device) + ", not of the plan's device " +
                                                    std::to_string(device)};
}

Operand operand(const sattn_tensor* t) {
  return Operand{t->data, {t->strides[0], t->strides[1], t->strides[2], t->strides[3]}};
}

}  // namespace

void check_pointers(const Plan& plan, const sattn_run_args* args) {
  check_pointer(args->q, "q", plan.device);
  check_pointer(args->k, "k", plan.device);
  check_pointer(args->v, "v", plan.device);
  check_pointer(args->o, "o", plan.device);
  if (args->lse != nullptr) check_pointer(args->lse, "lse", plan.device);
  if (args->block_mask != nullptr) check_pointer(args->block_mask, "block_mask", plan.device);
}

sattn_status run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                 size_t workspace_bytes, void* stream, sattn_run_counters* counters) {
  (void)layout;    // the plan holds the static layout's device copy; selected patterns build theirs in the workspace
  (void)counters;  // kept pairs of a device-side selection stay on the device: counting them would synchronise
  return sattn_backend_util::boundary(host, "cuda", [&] {
    const Plan& plan = *static_cast<const Plan*>(state);
    const sattn_attention_desc& d = plan.desc;
    DeviceScope scope(plan.device);
    check_pointers(plan, args);
    KernelParams p{};
    p.q = operand(args->q);
    p.k = operand(args->k);
    p.v = operand(args->v);
    p.o = operand(args->o);
    if (args->lse != nullptr) {
      p.lse = static_cast<float*>(args->lse->data);
      for (int a = 0; a < 3; ++a) p.lse_stride[a] = args->lse->strides[a];
    }
    p.dtype = d.dtype;
    p.kv_dtype = d.dtype;
    p.precision = d.precision;
    p.batch = d.batch;
    p.q_heads = d.num_q_heads;
    p.kv_heads = d.num_kv_heads;
    p.q_len = d.q_len;
    p.kv_len = d.kv_len;
    p.head_dim = d.head_dim;
    p.head_dim_v = d.head_dim_v;
    p.scale_log2 = d.scale * 1.4426950408889634f;
    p.layout = plan.layout;
    p.use_wgmma = plan.wgmma ? 1 : 0;
    if (workspace_bytes < plan.workspace_bytes || (plan.workspace_bytes > 0 && workspace == nullptr))
      throw Failure{SATTN_ERROR_WORKSPACE_TOO_SMALL,
                    "cuda backend: the plan needs " + std::to_string(plan.workspace_bytes) +
                        " bytes of device workspace, got " + std::to_string(workspace_bytes)};
    if (plan.workspace_bytes > 0) {
      const sattn_tensor space{workspace, SATTN_DEVICE_CUDA, plan.device, SATTN_DTYPE_U8, 1, {0}, {0}};
      check_pointer(&space, "workspace", plan.device);
    }
    p.work_order = plan.work_order;
    p.multiprocessors = plan.multiprocessors;
    if (plan.has_work_counter)
      p.work_counter = reinterpret_cast<uint32_t*>(static_cast<unsigned char*>(workspace) + plan.work_counter_offset);
    if (is_quantized(d)) {  // the quantised operands follow the selection's buffers in the workspace
      WorkspaceCarver carver(static_cast<unsigned char*>(workspace) + plan.quantized_offset);
      carve_quantized(plan, carver, &p.quantized);
    }
    if (plan.family != nullptr) {
      check_cuda(plan.family->run(plan, *args, p, workspace, stream), "selecting on the device and attending");
      return;
    }
    if (plan.decode.splits > 0) {
      WorkspaceCarver carver(workspace);
      DecodePlan decode{};
      carve_decode(plan, carver, &decode);
      check_cuda(launch_decode(p, decode, stream), "launching the decode kernels");
      return;
    }
    check_cuda(attend(p, stream), "launching the attention kernel");
  });
}

int attend(const KernelParams& p, void* stream) {
  if (p.precision == SATTN_PRECISION_INT8 || p.precision == SATTN_PRECISION_INT4)
    return launch_quantized(p, p.quantized, stream);
  return flash_supports(p) ? launch_flash(p, stream) : launch_generic(p, stream);
}

}  // namespace sattn_cuda
