// The interface between the cpu backend's dispatcher and its flash-style kernel. The kernel source
// (cpu_kernel.inc) is compiled once per instruction set into its own namespace; the dispatcher picks one table of
// functions at plan time. Everything here is plain data: the ISA translation units must not instantiate C++ library
// templates, whose inline copies the linker could pick from an AVX-512 object for code that runs everywhere.
#pragma once

#include <sattn_backend.h>

#include <cstddef>
#include <cstdint>

namespace sattn_cpu {

// Paddings shared by every ISA so that one scratch size fits them all: rows to a multiple of kRowPad (a multiple of
// every micro-kernel height: 6 and 12), key and value columns to a multiple of kColPad (the widest micro-kernel
// width, 2 x 16 floats).
constexpr int64_t kRowPad = 24;
constexpr int64_t kColPad = 32;

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
  int32_t precision;  // fp32, bf16 or fp16
};

// Floats of scratch one worker needs for tiles of tile_q x tile_k and `group` stacked query heads.
int64_t scratch_floats(int64_t tile_q, int64_t tile_k, int64_t group, int64_t head_dim, int64_t head_dim_v);

// Computes the output rows of task (batch, kv head, query tile) = task index in that nesting order, with the given
// scratch of scratch_floats() floats (64-byte aligned).
using TaskFn = void (*)(const KernelParams& params, float* scratch, int64_t task);

namespace avx512 {
void run_task(const KernelParams& params, float* scratch, int64_t task);
}
namespace avx2 {
void run_task(const KernelParams& params, float* scratch, int64_t task);
}
namespace portable {
void run_task(const KernelParams& params, float* scratch, int64_t task);
}

}  // namespace sattn_cpu
