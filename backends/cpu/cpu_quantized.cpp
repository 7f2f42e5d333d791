#include "cpu_quantized.hpp"

#include "cpu_carver.hpp"
#include "cpu_host.hpp"

namespace sattn_cpu {
namespace {

struct Counts {
  int64_t q, k, v, q_rows, k_rows, v_channels;
};

Counts counts_of(const sattn_attention_desc& d, int64_t kv_rows) {
  const int64_t q_rows = d.batch * d.num_q_heads * d.q_len, k_rows = d.batch * d.num_kv_heads * kv_rows;
  return {q_rows * d.head_dim,
          k_rows * d.head_dim,
          k_rows * d.head_dim_v,
          q_rows,
          k_rows,
          d.batch * d.num_kv_heads * d.head_dim_v};
}

struct Pieces {
  float *q, *k, *v;
  sattn_quantized_operands quantized;
};

Pieces carve(const sattn_attention_desc& d, int64_t kv_rows, Carver& carver) {
  const Counts n = counts_of(d, kv_rows);
  Pieces p{};
  p.q = carver.take<float>(n.q);
  p.k = carver.take<float>(n.k);
  p.v = carver.take<float>(n.v);
  sattn_quantized_operands& qo = p.quantized;
  qo.struct_size = sizeof qo;
  qo.q = carver.take<int8_t>(n.q);
  qo.k = carver.take<int8_t>(n.k);
  qo.v = carver.take<int8_t>(n.v);
  qo.q_scale = carver.take<float>(n.q_rows);
  qo.k_scale = carver.take<float>(n.k_rows);
  qo.v_scale = carver.take<float>(n.v_channels);
  qo.lse_shift = carver.take<float>(n.q_rows);
  return p;
}

sattn_tensor contiguous_f32(float* data, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  sattn_tensor t{};
  t.data = data;
  t.dtype = SATTN_DTYPE_F32;
  t.device_type = SATTN_DEVICE_CPU;
  t.ndim = 4;
  const int64_t dims[4] = {d0, d1, d2, d3};
  int64_t stride = 1;
  for (int i = 3; i >= 0; --i) {
    t.shape[i] = dims[i];
    t.strides[i] = stride;
    stride *= dims[i];
  }
  return t;
}

}  // namespace

size_t quantized_workspace(const sattn_attention_desc& d, int64_t kv_rows) {
  Carver measure(nullptr);
  carve(d, kv_rows, measure);
  return measure.used();
}

void prepare_quantized(const sattn_problem& problem, const sattn_run_args& args, sattn_layout_view& view,
                       int64_t kv_rows, void* workspace, KernelParams& params, sattn_tensor (&tensors)[3]) {
  const sattn_attention_desc& d = *problem.desc;
  const Counts n = counts_of(d, kv_rows);
  Carver carver(workspace);
  Pieces p = carve(d, kv_rows, carver);
  check(host->gather_f32(args.q, p.q));
  if (view.keys != nullptr) {  // landmark: the derived keys and values are what is quantised
    for (int64_t i = 0; i < n.k; ++i) p.k[i] = view.keys[i];
    for (int64_t i = 0; i < n.v; ++i) p.v[i] = view.values[i];
  } else {
    check(host->gather_f32(args.k, p.k));
    check(host->gather_f32(args.v, p.v));
  }
  check(host->quantize(&problem, p.q, p.k, p.v, kv_rows, &p.quantized));
  // The integers, as fp32, over the fp32 copies (which quantize has finished reading).
  const sattn_quantized_operands& qo = p.quantized;
  parallel_for(n.q + n.k + n.v, problem.num_threads, int64_t{1} << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (i < n.q)
        p.q[i] = qo.q[i];
      else if (i < n.q + n.k)
        p.k[i - n.q] = qo.k[i - n.q];
      else
        p.v[i - n.q - n.k] = qo.v[i - n.q - n.k];
    }
  });
  tensors[0] = contiguous_f32(p.q, d.batch, d.num_q_heads, d.q_len, d.head_dim);
  tensors[1] = contiguous_f32(p.k, d.batch, d.num_kv_heads, kv_rows, d.head_dim);
  tensors[2] = contiguous_f32(p.v, d.batch, d.num_kv_heads, kv_rows, d.head_dim_v);
  params.q = &tensors[0];
  params.k = &tensors[1];
  params.v = &tensors[2];
  view.keys = p.k;  // contiguous [B, Hk, kv_rows, D]: the kernel reads keys from here for every pattern
  view.values = p.v;
  params.q_scale = qo.q_scale;
  params.k_scale = qo.k_scale;
  params.v_scale = qo.v_scale;
  params.lse_shift = qo.lse_shift;
}

}  // namespace sattn_cpu
