// The launch interface between the backend's host code (compiled by the C++ compiler) and its kernels (nvcc): plain
// structs passed by value as kernel parameters, and one launch function per kernel family.
#pragma once

#include <sattn_backend.h>

#include <cstdint>

namespace sattn_cuda {

// A 4-D tensor on the device, strides in elements.
struct Operand {
  void* data;
  int64_t stride[4];
};

// Tile kinds of the backend's own, beyond sattn_tile_kind: layouts that the backend builds on the device for
// data-dependent patterns (cuda_select.hpp) may use them; the kernels evaluate them with tile_keeps()
// (cuda_device.cuh) from the Selection below. The core never sees them.
enum CudaTileKind : int32_t {
  kTileBlockMask = 16,  // keep (i, j) iff selection.block_mask[b][h][i / block][j / block] != 0, then causal
  kTileBuckets = 17,    // keep (i, j) iff selection.q_buckets[row i] == selection.k_buckets[key j] or j == p_i
};

// What a device-side selection computed for this run, in device memory (the plan's workspace or the run's
// arguments); every pointer is null for static patterns.
struct Selection {
  const uint8_t* block_mask;  // kTileBlockMask: [batches, heads, q blocks, k blocks] by mask_stride (elements)
  int64_t mask_stride[4];
  int64_t mask_head_divisor;  // query head hq reads mask head hq / mask_head_divisor (0: the mask has one head)
  int64_t block_size;
  const int32_t* q_buckets;  // kTileBuckets: [B, Hq, Lq]
  const int32_t* k_buckets;  // kTileBuckets: [B, Hk, Lk]
};

// int8/int4 (docs/patterns.md): the quantised operands in the workspace, rows of Q and K padded with zeros to
// row_bytes (a multiple of 4, for four-lane integer dot products).
struct QuantizedBuffers {
  int8_t* q;  // [B, Hq, Lq, row_bytes]
  int8_t* k;  // [B, Hk, Lk, row_bytes], of the smoothed keys K - kbar
  int8_t* v;  // [B, Hk, Lk, Dv]
  float* q_scale;
  float* k_scale;
  float* v_scale;       // [B, Hk, Dv]
  float* lse_shift;     // [B, Hq, Lq]
  double* kbar;         // [B, Hk, D]
  double* v_max_scale;  // [B, Hk, Dv]: V's scales in float64, as the quantisation divides by them
  int64_t row_bytes;
  double qmax;
  float given_q, given_k, given_v;  // params.scale_*: > 0 replaces the computed scales
  float softmax_scale;
};

struct KernelParams {
  Operand q, k, v, o;
  float* lse;  // nullptr: not written
  int64_t lse_stride[3];
  int32_t dtype;      // sattn_dtype of q and o (and of k and v unless kv_dtype says otherwise)
  int32_t kv_dtype;   // sattn_dtype of k and v: the run's dtype, or f32 where k and v are derived (landmark)
  int32_t precision;  // sattn_precision of the computation
  int64_t batch, q_heads, kv_heads, q_len, kv_len, head_dim, head_dim_v;
  float scale_log2;  // softmax scale times log2(e): the kernels exponentiate with exp2f
  // The layout the kernels walk, its pointers (row_ptr, spans, bits, rule) in device memory: the plan's static
  // layout, or the one this run's device-side selection built in the workspace.
  sattn_layout_view layout;
  Selection selection;
  int32_t use_wgmma;  // launch_flash takes the Hopper kernel (cuda_flash_wgmma.cu): set where the plan's GPU is sm_90
  // The Hopper kernel's work items (one per query tile, head and batch) in the order blocks take them: indices of
  // the default order (batch, head, query tile from the last), from the plan's device memory; null, that order.
  const int32_t* work_order;
  // The GPU's SMs: the Hopper kernel runs one resident block on each, each taking work items until none are left,
  // from work_counter (in the workspace; zeroed on the stream before each launch; null: blocks take every
  // multiprocessors-th item).
  int32_t multiprocessors;
  uint32_t* work_counter;
  QuantizedBuffers quantized;  // int8/int4: where attend() quantises the operands (carved from the workspace)
};

// The attention over params.layout, whatever the precision: int8/int4 quantise on the stream and attend on the
// integers, f16/bf16 take the tensor-core kernel where it applies, the rest the generic kernel. What run() and every
// selection family launch once their layout is built.
int attend(const KernelParams& params, void* stream);

// cudaError_t as int, so that this header needs no CUDA header.
// Any head dims, dtypes, precisions and strides: one warp per query row on CUDA cores.
int launch_generic(const KernelParams& params, void* stream);
// Tensor cores (mma.sync m16n8k16, fp32 accumulation) for f16/bf16 tensors of the same precision, head_dim ==
// head_dim_v in {64, 128}, unit column stride and 16-byte aligned rows; the layout's tiles must be 128 x 64.
bool flash_supports(const KernelParams& params);
int launch_flash(const KernelParams& params, void* stream);
// Raise the kernels' dynamic shared-memory limits; called at plan time so that run() only launches.
int prepare_generic();
int prepare_flash();
// TMA descriptors (CUtensorMap, 128 bytes each) of a run's Q, K and V for the Hopper kernel, kept as bytes so that
// this header needs no CUDA header. encode_tensor_maps (cuda_tensor_map.cpp) fills them; false where TMA cannot
// address a tensor (strides not multiples of 16 bytes, zero strides, sizes past its limits).
struct alignas(128) TensorMaps {
  unsigned char q[128], k[128], v[128];
};
bool encode_tensor_maps(const KernelParams& params, TensorMaps* maps);
// The Hopper kernel launch_flash takes when params.use_wgmma is set, flash_supports holds and the tensor maps encode.
int launch_flash_wgmma(const KernelParams& params, const TensorMaps& maps, void* stream);
int prepare_flash_wgmma();

// Quantises on the stream, then attends on the integers over params.layout (any layout, one warp per query row).
int launch_quantized(const KernelParams& params, const QuantizedBuffers& buffers, void* stream);
bool quantized_grid_fits(const sattn_attention_desc& desc);
int prepare_quantized();
// The tensor-core attention on the quantised operands (int8 Q K^T, f16 P V) for head dims 64/128 on 128 x 64
// layouts; launch_quantized takes it where it applies.
bool flash_int8_supports(const KernelParams& params);
int launch_flash_int8(const KernelParams& params, const QuantizedBuffers& buffers, void* stream);
int prepare_flash_int8();

// Decode shapes (q_len <= kMaxDecodeRows): the key tiles of a layout row split across `splits` thread blocks whose
// partial results (workspace) are merged by their log-sum-exp. splits == 0: the problem does not take this path.
struct DecodePlan {
  int splits;
  int64_t heads_per_block;     // CUDA-core kernel: query heads of one kv head served by one block (rows <= 32)
  int64_t tc_heads_per_block;  // tensor-core kernel (rows <= 128), 0 where it does not apply
  size_t shared_bytes;
  float* partial_o;                   // [splits, B, Hq, Lq, Dv], unnormalised
  float* partial_stats;               // [splits, B, Hq, Lq, 2]: running maximum (log2 units) and denominator
  bool vector_q, vector_k, vector_v;  // rows readable in 16-byte pieces (set per run from the tensors)
  bool round_inputs;                  // inputs wider than the precision's type are rounded to it
};
constexpr int64_t kDecodeMaxQueries = 16;  // q_len up to this takes the decode path
constexpr int64_t kMaxDecodeRows = 32;     // query rows per block: heads_per_block * q_len
constexpr int64_t kMaxDecodeHeadDim = 128;
constexpr int64_t kMaxDecodeSplits = 256;
DecodePlan plan_decode(const sattn_attention_desc& desc, const sattn_layout_view& layout, int multiprocessors);
int launch_decode(const KernelParams& params, const DecodePlan& decode, void* stream);
int prepare_decode();
// The flash kernel's split mode for decode shapes (launch_decode chooses it where the tensors allow it).
bool flash_split_supports(const KernelParams& params, const DecodePlan& decode);
int launch_flash_split(const KernelParams& params, const DecodePlan& decode, void* stream);
int flash_split_blocks_per_sm(int64_t head_dim, bool bf16);

// The flash kernels' tile shape, which the layout is built with: 128 x 64, or 192 x 64 (three consumer warpgroups of
// the Hopper kernel) where wide_tiles_supported holds.
constexpr int64_t kTileQ = 128;
constexpr int64_t kTileQWide = 192;
constexpr int64_t kTileK = 64;
// bf16 or f16 tensors computed in their own precision: what the 16-bit tensor-core kernels take.
inline bool sixteen_bit_tensors(int32_t dtype, int32_t precision) {
  return (dtype == SATTN_DTYPE_BF16 && precision == SATTN_PRECISION_BF16) ||
         (dtype == SATTN_DTYPE_F16 && precision == SATTN_PRECISION_FP16);
}
// The problems the Hopper kernel's three-warpgroup blocks (kTileQWide rows) take: D 64 on 16-bit tensors.
inline bool wide_tiles_supported(int32_t dtype, int32_t precision, int64_t head_dim, int64_t head_dim_v) {
  return sixteen_bit_tensors(dtype, precision) && head_dim == 64 && head_dim_v == 64;
}
// The generic kernel keeps one query row and its output row per warp in shared memory.
constexpr int64_t kMaxGenericHeadDim = 1024;

}  // namespace sattn_cuda
