#include "cpu_operands.hpp"

#include <cstring>

#include "core/precision.hpp"
#include "core/quantize.hpp"
#include "core/tensor_io.hpp"

namespace sattn::cpu {
namespace {

constexpr size_t kAlign = 64;

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Element counts of Q, K and V in the order they are laid out.
void counts(const sattn_problem& problem, int64_t kv_rows, int64_t out[3]) {
  const sattn_attention_desc& d = problem.desc;
  out[0] = d.batch * d.num_q_heads * d.q_len * d.head_dim;
  out[1] = d.batch * d.num_kv_heads * kv_rows * d.head_dim;
  out[2] = d.batch * d.num_kv_heads * kv_rows * d.head_dim_v;
}

// Float counts of the int8/int4 side tables in the order they are laid out: Q row scales, K row scales, V channel
// scales, LSE shifts.
void scale_counts(const sattn_problem& problem, int64_t kv_rows, int64_t out[4]) {
  const sattn_attention_desc& d = problem.desc;
  out[0] = out[3] = d.batch * d.num_q_heads * d.q_len;
  out[1] = d.batch * d.num_kv_heads * kv_rows;
  out[2] = d.batch * d.num_kv_heads * d.head_dim_v;
}

}  // namespace

size_t operands_workspace(const sattn_problem& problem, int64_t kv_rows) {
  int64_t n[3];
  counts(problem, kv_rows, n);
  const bool integer = is_integer_precision(problem.desc.precision);
  size_t bytes = 0;
  for (const int64_t count : n) {
    bytes += aligned(static_cast<size_t>(count) * sizeof(float));
    if (integer) bytes += aligned(static_cast<size_t>(count));
  }
  if (integer) {
    int64_t tables[4];
    scale_counts(problem, kv_rows, tables);
    for (const int64_t count : tables) bytes += aligned(static_cast<size_t>(count) * sizeof(float));
  }
  return bytes;
}

Operands prepare_operands(const sattn_problem& problem, const sattn_run_args& args, const float* derived_keys,
                          const float* derived_values, int64_t kv_rows, void* workspace) {
  const sattn_attention_desc& d = problem.desc;
  const bool integer = is_integer_precision(d.precision);
  int64_t n[3];
  counts(problem, kv_rows, n);
  auto* cursor = static_cast<unsigned char*>(workspace);
  Operands ops;
  Operand* targets[3] = {&ops.q, &ops.k, &ops.v};
  const sattn_tensor* tensors[3] = {args.q, args.k, args.v};
  const float* derived[3] = {nullptr, derived_keys, derived_values};
  int8_t* quantized[3] = {nullptr, nullptr, nullptr};
  const int64_t rows[3] = {d.q_len, kv_rows, kv_rows};
  const int64_t dims[3] = {d.head_dim, d.head_dim, d.head_dim_v};
  for (int t = 0; t < 3; ++t) {
    auto* values = reinterpret_cast<float*>(cursor);
    cursor += aligned(static_cast<size_t>(n[t]) * sizeof(float));
    if (integer) {
      quantized[t] = reinterpret_cast<int8_t*>(cursor);
      cursor += aligned(static_cast<size_t>(n[t]));
    }
    if (derived[t] != nullptr)
      std::memcpy(values, derived[t], static_cast<size_t>(n[t]) * sizeof(float));
    else
      gather_f32(*tensors[t], values);
    if (!integer && d.precision != SATTN_PRECISION_FP32)
      for (int64_t i = 0; i < n[t]; ++i) values[i] = round_to_precision(values[i], d.precision);
    Operand& op = *targets[t];
    op.values = values;
    op.quantized = quantized[t];
    op.rows = rows[t];
    op.dim = dims[t];
  }
  if (integer) {
    int64_t counts_of_tables[4];
    scale_counts(problem, kv_rows, counts_of_tables);
    float* tables[4];
    for (int t = 0; t < 4; ++t) {
      tables[t] = reinterpret_cast<float*>(cursor);
      cursor += aligned(static_cast<size_t>(counts_of_tables[t]) * sizeof(float));
    }
    const QuantShape shape{.batch = d.batch,
                           .q_heads = d.num_q_heads,
                           .kv_heads = d.num_kv_heads,
                           .q_len = d.q_len,
                           .kv_rows = kv_rows,
                           .head_dim = d.head_dim,
                           .head_dim_v = d.head_dim_v,
                           .precision = d.precision,
                           .softmax_scale = d.scale,
                           .scale_q = d.params.scale_q,
                           .scale_k = d.params.scale_k,
                           .scale_v = d.params.scale_v,
                           .num_threads = problem.num_threads};
    quantize_operands(
        shape, ops.q.values, ops.k.values, ops.v.values,
        QuantizedOperands{quantized[0], quantized[1], quantized[2], tables[0], tables[1], tables[2], tables[3]});
    ops.q.scales = tables[0];
    ops.k.scales = tables[1];
    ops.v.scales = tables[2];
    ops.lse_shift = tables[3];
  }
  return ops;
}

}  // namespace sattn::cpu
