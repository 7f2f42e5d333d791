// Q, K and V as the reference kernel consumes them: contiguous fp32 already carrying the precision's effect
// (bf16/fp16 rounding), plus for int8/int4 the quantised copies and scales the host's quantisation computes; all
// laid out in the caller's workspace.
#pragma once

#include <sattn_backend.h>

#include <cstddef>
#include <cstdint>

namespace sattn_reference {

struct Operands {
  const float* q = nullptr;              // [B, Hq, Lq, D]
  const float* k = nullptr;              // [B, Hk, kv_rows, D]
  const float* v = nullptr;              // [B, Hk, kv_rows, Dv]
  sattn_quantized_operands quantized{};  // int8/int4 only (q == nullptr otherwise)
};

// Workspace bytes prepare_operands needs for a problem whose attended key sequence has kv_rows rows.
size_t operands_workspace(const sattn_problem& problem, int64_t kv_rows);

// Fills the workspace from the run's tensors (keys/values from derived_keys/values when not NULL, contiguous fp32
// [B, Hk, kv_rows, D]).
Operands prepare_operands(const sattn_problem& problem, const sattn_run_args& args, const float* derived_keys,
                          const float* derived_values, int64_t kv_rows, void* workspace);

}  // namespace sattn_reference
