#include "reference_operands.hpp"

#include <sattn_kernels.h>

#include <cstring>

#include "reference_host.hpp"

namespace sattn_reference {
namespace {

constexpr size_t kAlign = 64;

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Carves consecutive aligned arrays out of the workspace (or only measures them when base is null).
class Carver {
 public:
  explicit Carver(void* base) : base_(static_cast<unsigned char*>(base)) {}
  template <typename T>
  T* take(int64_t count) {
    T* at = base_ != nullptr ? reinterpret_cast<T*>(base_ + used_) : nullptr;
    used_ += aligned(static_cast<size_t>(count) * sizeof(T));
    return at;
  }
  size_t used() const { return used_; }

 private:
  unsigned char* base_;
  size_t used_ = 0;
};

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

// Lays the operands out; with base null it only measures.
Operands carve(const sattn_attention_desc& d, int64_t kv_rows, Carver& carver, float** q, float** k, float** v) {
  const Counts n = counts_of(d, kv_rows);
  *q = carver.take<float>(n.q);
  *k = carver.take<float>(n.k);
  *v = carver.take<float>(n.v);
  Operands ops;
  ops.q = *q;
  ops.k = *k;
  ops.v = *v;
  if (sattn_is_integer_precision(d.precision)) {
    sattn_quantized_operands& qo = ops.quantized;
    qo.struct_size = sizeof(sattn_quantized_operands);
    qo.q = carver.take<int8_t>(n.q);
    qo.k = carver.take<int8_t>(n.k);
    qo.v = carver.take<int8_t>(n.v);
    qo.q_scale = carver.take<float>(n.q_rows);
    qo.k_scale = carver.take<float>(n.k_rows);
    qo.v_scale = carver.take<float>(n.v_channels);
    qo.lse_shift = carver.take<float>(n.q_rows);
  }
  return ops;
}

}  // namespace

size_t operands_workspace(const sattn_problem& problem, int64_t kv_rows) {
  Carver measure(nullptr);
  float *q = nullptr, *k = nullptr, *v = nullptr;
  carve(*problem.desc, kv_rows, measure, &q, &k, &v);
  return measure.used();
}

Operands prepare_operands(const sattn_problem& problem, const sattn_run_args& args, const float* derived_keys,
                          const float* derived_values, int64_t kv_rows, void* workspace) {
  const sattn_attention_desc& d = *problem.desc;
  const Counts n = counts_of(d, kv_rows);
  Carver carver(workspace);
  float *q = nullptr, *k = nullptr, *v = nullptr;
  Operands ops = carve(d, kv_rows, carver, &q, &k, &v);
  check(host->gather_f32(args.q, q));
  if (derived_keys != nullptr) {
    std::memcpy(k, derived_keys, static_cast<size_t>(n.k) * sizeof(float));
    std::memcpy(v, derived_values, static_cast<size_t>(n.v) * sizeof(float));
  } else {
    check(host->gather_f32(args.k, k));
    check(host->gather_f32(args.v, v));
  }
  if (sattn_is_integer_precision(d.precision)) {
    check(host->quantize(&problem, q, k, v, kv_rows, &ops.quantized));
  } else if (d.precision != SATTN_PRECISION_FP32) {
    for (float* values : {q, k, v}) {
      const int64_t count = values == q ? n.q : values == k ? n.k : n.v;
      for (int64_t i = 0; i < count; ++i) values[i] = sattn_round_to_precision(values[i], d.precision);
    }
  }
  return ops;
}

}  // namespace sattn_reference
