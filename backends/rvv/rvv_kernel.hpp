// The interface between the rvv backend's registration (built for rv64gc) and its kernels (built for rv64gcv):
// plain data and functions, so nothing here makes the rv64gc side execute a vector instruction. Every function below
// but probe_has_vector() may be called only once probe_has_vector() returned true.
#pragma once

#include <sattn_backend.h>

#include <cstdint>

namespace sattn_rvv {

// LMUL of the Q.K and P.V micro-kernels. Chosen by instruction counts (docs/performance.md): LMUL 8 leaves room for
// three accumulators and one operand, and each vfmacc covers 8 registers; LMUL 4 with seven accumulators counted
// more instructions per multiply-add at every VLEN.
constexpr int kMacLmul = 8;

// Whether this hart has the V extension: AT_HWCAP bit 'V' - 'A' (rv64gc code).
bool probe_has_vector();

// The vector register length in bytes (the vlenb CSR).
int64_t vector_bytes();

// Query rows one pass of the kernels covers: VLMAX of 32-bit elements at kMacLmul.
int64_t chunk_rows();

// What one run hands the kernel; the kernel reads it from many threads at once.
struct KernelParams {
  const sattn_layout_view* view;
  const sattn_tensor* q;
  const sattn_tensor* k;  // unused when view->keys is set (landmark)
  const sattn_tensor* v;
  const sattn_tensor* o;
  const sattn_tensor* lse;  // NULL: no LSE wanted
  int64_t batch, num_q_heads, num_kv_heads, q_len, head_dim, head_dim_v;
  float scale;
  int32_t precision;  // fp32, bf16, fp16, int8 or int4
  // int8/int4: the operands host->quantize made (contiguous; K and V with kv_rows rows per kv head), NULL otherwise.
  const sattn_quantized_operands* quantized;
  int64_t kv_rows;
};

// Floats of scratch one worker needs for tiles of tile_q x tile_k with `group` stacked query heads.
int64_t scratch_floats(int64_t tile_q, int64_t tile_k, int64_t group, int64_t head_dim, int64_t head_dim_v);

// Computes the output rows of task (batch, kv head, query tile) = task index in that nesting order, with the given
// scratch of scratch_floats() floats.
void run_task(const KernelParams& params, float* scratch, int64_t task);

}  // namespace sattn_rvv
