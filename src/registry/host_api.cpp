// The services the core lends to backends, plugins included, through plain C function pointers. Each one validates
// its pointers and turns exceptions into a status plus the thread's message, like the public entry points.
#include <sattn_backend.h>

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/quantize.hpp"
#include "core/tensor_io.hpp"
#include "layout/block_layout.hpp"
#include "registry/registry.hpp"

namespace sattn {
namespace {

void host_set_error(const char* message) { set_last_error(message != nullptr ? message : "backend error"); }

sattn_status host_get_layout_view(const sattn_layout* layout, sattn_layout_view* view) {
  return guarded([&] {
    require(layout != nullptr, "get_layout_view: layout is NULL");
    require(view != nullptr, "get_layout_view: view is NULL");
    const uint32_t size = view->struct_size;
    require(size != 0, "get_layout_view: view->struct_size is 0");
    const sattn_layout_view full = layout->view();
    // A plugin built with an older header gets the prefix it knows; a newer one keeps its extra fields untouched.
    std::memcpy(static_cast<void*>(view), &full, std::min<size_t>(size, sizeof full));
    view->struct_size = size;
  });
}

sattn_status host_parallel_for(int64_t n, int32_t num_threads, int64_t grain, sattn_range_fn body, void* context) {
  return guarded([&] {
    require(body != nullptr, "parallel_for: body is NULL");
    require(n >= 0, "parallel_for: n must be >= 0, got ", n);
    parallel_for(n, num_threads, grain, [&](int64_t begin, int64_t end) {
      clear_last_error();
      const sattn_status status = body(context, begin, end);
      if (status != SATTN_OK) {
        const std::string message = last_error()[0] != '\0' ? last_error() : sattn_status_string(status);
        throw Error(status, message);
      }
    });
  });
}

sattn_status host_gather_f32(const sattn_tensor* tensor, float* dst) {
  return guarded([&] {
    require(tensor != nullptr && dst != nullptr, "gather_f32: tensor or dst is NULL");
    require(tensor->ndim == 4, "gather_f32: the tensor must be 4-D, got ndim ", tensor->ndim);
    gather_f32(*tensor, dst);
  });
}

sattn_status host_scatter_row_f32(const sattn_tensor* tensor, int64_t i0, int64_t i1, int64_t i2, const float* src,
                                  int64_t n) {
  return guarded([&] {
    require(tensor != nullptr && src != nullptr, "scatter_row_f32: tensor or src is NULL");
    require(tensor->ndim == 4 && n >= 0 && n <= tensor->shape[3], "scatter_row_f32: bad row of ", n, " values");
    scatter_row(*tensor, i0, i1, i2, src, n);
  });
}

sattn_status host_quantize(const sattn_problem* problem, const float* q, const float* k, const float* v,
                           int64_t kv_rows, sattn_quantized_operands* out) {
  return guarded([&] {
    require(problem != nullptr && problem->desc != nullptr && q != nullptr && k != nullptr && v != nullptr &&
                out != nullptr,
            "quantize: NULL argument");
    require(out->q && out->k && out->v && out->q_scale && out->k_scale && out->v_scale && out->lse_shift,
            "quantize: an output buffer is NULL");
    const sattn_attention_desc& d = *problem->desc;
    require(kv_rows >= 1, "quantize: kv_rows must be >= 1, got ", kv_rows);
    const QuantShape shape{d.batch,          d.num_q_heads,    d.num_kv_heads,      d.q_len, kv_rows,
                           d.head_dim,       d.head_dim_v,     d.precision,         d.scale, d.params.scale_q,
                           d.params.scale_k, d.params.scale_v, problem->num_threads};
    quantize_operands(
        shape, q, k, v,
        QuantizedOperands{out->q, out->k, out->v, out->q_scale, out->k_scale, out->v_scale, out->lse_shift});
  });
}

}  // namespace

const sattn_host_api& host_api() {
  static const sattn_host_api api{
      sizeof(sattn_host_api), SATTN_BACKEND_ABI_VERSION, host_set_error,       host_get_layout_view,
      host_parallel_for,      host_gather_f32,           host_scatter_row_f32, host_quantize};
  return api;
}

}  // namespace sattn
