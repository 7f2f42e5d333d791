#include "cpu_operands.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/precision.hpp"
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

// Applies the precision to n fp32 values in place; for integer precisions also writes the quantised copy.
float apply_precision(float* values, int8_t* quantized, int64_t n, int32_t precision, float given_scale) {
  if (!is_integer_precision(precision)) {
    if (precision != SATTN_PRECISION_FP32)
      for (int64_t i = 0; i < n; ++i) values[i] = round_to_precision(values[i], precision);
    return 1.0f;
  }
  float max_abs = 0.0f;
  for (int64_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(values[i]));
  const float scale = quant_scale(given_scale, max_abs, precision);
  const float qmax = quant_max(precision);
  for (int64_t i = 0; i < n; ++i) quantized[i] = quantize(values[i], scale, qmax);
  return scale;
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
  const float scales[3] = {d.params.scale_q, d.params.scale_k, d.params.scale_v};
  const int64_t rows[3] = {d.q_len, kv_rows, kv_rows};
  const int64_t dims[3] = {d.head_dim, d.head_dim, d.head_dim_v};
  for (int t = 0; t < 3; ++t) {
    auto* values = reinterpret_cast<float*>(cursor);
    cursor += aligned(static_cast<size_t>(n[t]) * sizeof(float));
    int8_t* quantized = nullptr;
    if (integer) {
      quantized = reinterpret_cast<int8_t*>(cursor);
      cursor += aligned(static_cast<size_t>(n[t]));
    }
    if (derived[t] != nullptr)
      std::memcpy(values, derived[t], static_cast<size_t>(n[t]) * sizeof(float));
    else
      gather_f32(*tensors[t], values);
    Operand& op = *targets[t];
    op.scale = apply_precision(values, quantized, n[t], d.precision, scales[t]);
    op.values = values;
    op.quantized = quantized;
    op.rows = rows[t];
    op.dim = dims[t];
  }
  return ops;
}

}  // namespace sattn::cpu
