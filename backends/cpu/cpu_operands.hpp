// Q, K and V as the exact CPU kernel consumes them: contiguous, and already carrying the precision's effect
// (bf16/fp16 rounding, or the int8/int4 quantisation of core/quantize.hpp), laid out in the caller's workspace.
#pragma once

#include <sattn_backend.h>

#include <cstddef>
#include <cstdint>

namespace sattn::cpu {

struct Operand {
  const float* values = nullptr;      // fp32 (rounded for bf16/fp16), [heads, rows, dim]
  const int8_t* quantized = nullptr;  // int8/int4 precisions only (K: smoothed, K - kbar)
  const float* scales = nullptr;      // int8/int4: per row of Q and K, per channel of V ([B, Hk, Dv])
  int64_t rows = 0, dim = 0;
};

struct Operands {
  Operand q, k, v;
  const float* lse_shift = nullptr;  // int8/int4: [B, Hq, Lq], added back to the LSE (K smoothing)
};

// Workspace bytes prepare_operands needs for a problem whose attended key sequence has kv_rows rows.
size_t operands_workspace(const sattn_problem& problem, int64_t kv_rows);

// Fills the workspace from the run's tensors (keys/values from derived_keys/values when not NULL, contiguous fp32
// [B, Hk, kv_rows, D]).
Operands prepare_operands(const sattn_problem& problem, const sattn_run_args& args, const float* derived_keys,
                          const float* derived_values, int64_t kv_rows, void* workspace);

}  // namespace sattn::cpu
