#include "core/run_args.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <string>

#include "core/checked_math.hpp"
#include "core/descriptor.hpp"
#include "core/error.hpp"
#include "core/names.hpp"

namespace sattn {
namespace {

struct Expected {
  const char* name;
  int32_t dtype;
  int32_t ndim;
  std::array<int64_t, 4> shape;
  bool written;
};

bool device_matches(int32_t backend_device, int32_t tensor_device) {
  if (backend_device == SATTN_DEVICE_CPU)
    return tensor_device == SATTN_DEVICE_CPU || tensor_device == SATTN_DEVICE_CUDA_HOST ||
           tensor_device == SATTN_DEVICE_CUDA_MANAGED;
  return tensor_device == backend_device || tensor_device == SATTN_DEVICE_CUDA_MANAGED;
}

std::string shape_text(const int64_t* shape, int32_t ndim) {
  std::string text = "[";
  for (int32_t i = 0; i < ndim; ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// A written tensor must not map two elements to one address (a broadcast stride of 0 would make threads race).
void require_no_self_overlap(const sattn_tensor& t, const char* name) {
  const int32_t n = std::clamp(t.ndim, 0, 4);
  std::array<int32_t, 4> order{0, 1, 2, 3};
  for (int32_t a = 1; a < n; ++a)  // insertion sort by stride: at most four dimensions
    for (int32_t b = a; b > 0 && t.strides[order[b]] < t.strides[order[b - 1]]; --b) std::swap(order[b], order[b - 1]);
  int64_t span = 1;  // elements covered by the dimensions already placed
  for (int32_t k = 0; k < n; ++k) {
    const int32_t dim = order[k];
    if (t.shape[dim] == 1) continue;
    require(t.strides[dim] >= span, name, " has overlapping strides ", shape_text(t.strides, t.ndim), " for shape ",
            shape_text(t.shape, t.ndim), ": an output needs distinct elements");
    span = t.strides[dim] * t.shape[dim];
  }
}

void check_tensor(const sattn_tensor* t, const Expected& e, int32_t device_type, int32_t device_id) {
  require(t != nullptr, "run argument ", e.name, " is NULL");
  require(t->data != nullptr, e.name, ".data is NULL");
  require(device_matches(device_type, t->device_type), e.name, ".device_type is ", t->device_type,
          " but the plan's backend reads device type ", device_type);
  if (device_type != SATTN_DEVICE_CPU)
    require(t->device_id == device_id, e.name, ".device_id is ", t->device_id, " but the plan is for device ",
            device_id);
  require(t->dtype == e.dtype, e.name, ".dtype is ", dtype_name(t->dtype), " but the plan expects ",
          dtype_name(e.dtype));
  // Backends read elements through typed pointers, so a misaligned pointer would be undefined behaviour (and a
  // fault on some machines).
  const size_t elem = e.dtype == SATTN_DTYPE_F32 ? 4 : (e.dtype == SATTN_DTYPE_U8 ? 1 : 2);
  const auto address = reinterpret_cast<uintptr_t>(t->data);
  require(address % elem == 0, e.name, ".data (", t->data, ") is not aligned to ", elem, " bytes, the size of one ",
          dtype_name(e.dtype), " element");
  require(t->ndim == e.ndim, e.name, ".ndim is ", t->ndim, " but must be ", e.ndim);
  for (int32_t i = 0; i < e.ndim; ++i)
    require(t->shape[i] == e.shape[i], e.name, " has shape ", shape_text(t->shape, e.ndim), " but the plan expects ",
            shape_text(e.shape.data(), e.ndim));
  for (int32_t i = 0; i < e.ndim; ++i)
    require(t->strides[i] >= 0, e.name, ".strides[", i, "] is ", t->strides[i], ": strides must be >= 0");
  // The offset of the last element, sum of (shape[i] - 1) * strides[i], and the bytes up to its end.
  const std::string extent = std::string(e.name) + " extent (strides " + shape_text(t->strides, e.ndim) +
                             " over shape " + shape_text(t->shape, e.ndim) + ")";
  int64_t last = 0;
  for (int32_t i = 0; i < e.ndim; ++i)
    last = checked_add(last, checked_mul(t->shape[i] - 1, t->strides[i], extent.c_str()), extent.c_str());
  const size_t bytes = checked_bytes(checked_add(last, 1, extent.c_str()), elem, extent.c_str());
  require(bytes <= UINTPTR_MAX - address, extent, " is ", bytes, " bytes from ", t->data,
          ", past the end of the address space");
  if (e.written) require_no_self_overlap(*t, e.name);
}

}  // namespace

sattn_run_args check_run_args(const sattn_problem& problem, int32_t device_type, const sattn_run_args* user_args) {
  sattn_run_args defaults = SATTN_RUN_ARGS_INIT;
  const sattn_run_args args = read_versioned(user_args, defaults, "sattn_run_args");
  const sattn_attention_desc& d = *problem.desc;
  const int32_t id = problem.device_id;
  check_tensor(args.q, {"q", d.dtype, 4, {d.batch, d.num_q_heads, d.q_len, d.head_dim}, false}, device_type, id);
  check_tensor(args.k, {"k", d.dtype, 4, {d.batch, d.num_kv_heads, d.kv_len, d.head_dim}, false}, device_type, id);
  check_tensor(args.v, {"v", d.dtype, 4, {d.batch, d.num_kv_heads, d.kv_len, d.head_dim_v}, false}, device_type, id);
  check_tensor(args.o, {"o", d.dtype, 4, {d.batch, d.num_q_heads, d.q_len, d.head_dim_v}, true}, device_type, id);
  if (args.lse != nullptr || (d.flags & SATTN_FLAG_WANT_LSE) != 0) {
    require(args.lse != nullptr, "the plan was made with SATTN_FLAG_WANT_LSE but run argument lse is NULL");
    check_tensor(args.lse, {"lse", SATTN_DTYPE_F32, 3, {d.batch, d.num_q_heads, d.q_len, 0}, true}, device_type, id);
  }
  if (d.pattern == SATTN_PATTERN_BLOCK_MASK) {
    require(args.block_mask != nullptr, "pattern block_mask needs run argument block_mask");
    const int64_t b = d.params.block_size;
    // A batch or head dimension of 1 broadcasts over every batch or query head.
    const int64_t batches = args.block_mask->shape[0] == 1 ? 1 : d.batch;
    const int64_t heads = args.block_mask->shape[1] == 1 ? 1 : d.num_q_heads;
    check_tensor(
        args.block_mask,
        {"block_mask", SATTN_DTYPE_U8, 4, {batches, heads, ceil_div(d.q_len, b), ceil_div(d.kv_len, b)}, false},
        device_type, id);
  } else {
    require(args.block_mask == nullptr, "run argument block_mask is only used by pattern block_mask, not ",
            pattern_name(d.pattern));
  }
  return args;
}

}  // namespace sattn
