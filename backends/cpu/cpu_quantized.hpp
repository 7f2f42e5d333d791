// int8 / int4 on the cpu backend: the core quantises (host->quantize, the computation docs/patterns.md defines) and
// the flash kernel runs on the quantised integers held as fp32. Exact: every product of two int8 values and every
// sum of up to kMaxIntegerHeadDim of them is an integer below 2^24, so the fp32 GEMM computes the int32 dot product
// without rounding; the per-row and per-key scales are applied to the tile of scores, the per-channel V scales and
// the LSE shift to the outputs.
#pragma once

#include <sattn_backend.h>

#include <cstddef>
#include <cstdint>

#include "cpu_kernel.hpp"

namespace sattn_cpu {

// 1040 * 127^2 < 2^24: the largest head dim whose int8 dot products fp32 sums exactly.
constexpr int64_t kMaxIntegerHeadDim = 1040;

// Bytes of workspace the operands of one run take (fp32 copies, quantised operands, scales), 64-byte multiples.
size_t quantized_workspace(const sattn_attention_desc& d, int64_t kv_rows);

// The run's operands quantised into `workspace` (quantized_workspace bytes): on return params.q, k and v describe
// contiguous fp32 tensors of the integers (K and V also through view.keys / values, which the kernel then reads for
// every pattern), and params' scale pointers are set. derived_keys / values: landmark's keys (view.keys) or NULL.
void prepare_quantized(const sattn_problem& problem, const sattn_run_args& args, sattn_layout_view& view,
                       int64_t kv_rows, void* workspace, KernelParams& params, sattn_tensor (&tensors)[3]);

}  // namespace sattn_cpu
