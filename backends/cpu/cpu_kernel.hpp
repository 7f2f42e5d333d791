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
// every micro-kernel height: 6 and 12, and of the amx path's 32-row blocks), key and value columns to a multiple of
// kColPad (the widest micro-kernel width, 2 x 16 floats).
constexpr int64_t kRowPad = 96;
constexpr int64_t kColPad = 32;

// Blocks of at most this many query rows (decode: G heads x a few positions) that pack their own tiles read K and V
// in place on the avx512dot path (cpu_decode.inc), and such problems stay off the amx path (cpu_isa.cpp).
constexpr int64_t kDecodeRows = 16;

// Top-k's candidates per row: room for 3k (a cut keeps k, so each cut admits 2k more; 2k was 5% slower on the
// main job, 4k and 6k no faster), padded to whole vectors of every ISA (cpu_select.inc counts them by vectors).
inline int64_t topk_candidate_capacity(int64_t k) { return (3 * k + kColPad - 1) / kColPad * kColPad; }

// Selection the kernel makes itself (top-k, N:M): candidates per row (top-k: selection codes, key indices and
// attention scores), and whether its scores need operands of their own (f32 tensors at a 16-bit precision: selection
// reads the inputs as given, attention their rounded values).
struct SelectionScratch {
  int64_t candidates_per_row = 0;
  bool own_operands = false;
};

// lsh selected by the kernel (cpu_lsh.hpp): per (batch, kv head) pair, its keys and the rows of its G query heads
// sorted by (bucket, position). Rows are encoded as (query head within the group) * Lq + query index.
struct LshTables {
  const int32_t* q_bucket;         // [B, Hq, Lq]
  const int32_t* k_bucket;         // [B, Hk, Lk]
  const int32_t* q_order;          // [B, Hk, G * Lq]: the pair's rows, sorted
  const int32_t* k_order;          // [B, Hk, Lk]: the pair's key indices, sorted (the order of its packed tiles)
  const int32_t* k_sorted_bucket;  // [B, Hk, Lk]: the buckets of k_order's keys (ascending)
};

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
  // K/V tiles packed once per run by pack_kv_tile for the (batch, kv head) pairs [packed_first_pair, ...), each pair
  // num_k_tiles tiles of packed_tile_floats(); NULL: every task packs the tiles it reads into its own scratch.
  const float* packed;
  int64_t packed_first_pair;
  // int8 / int4 (cpu_quantized.hpp): Q, K and V hold the quantised integers and s_ij = scale * q_scale[i] *
  // k_scale[j] * (q_i . k_j), O_ic is multiplied by v_scale[c], LSE_i gets lse_shift[i] added. NULL otherwise.
  const float* q_scale = nullptr;    // [B, Hq, Lq]
  const float* k_scale = nullptr;    // [B, Hk, keys]
  const float* v_scale = nullptr;    // [B, Hk, Dv]
  const float* lse_shift = nullptr;  // [B, Hq, Lq]
  // The pattern whose selection the kernel makes itself (view->spans unused: SATTN_PATTERN_TOPK_PER_QUERY or
  // SATTN_PATTERN_NM_STRUCTURED, SATTN_PATTERN_LSH), 0 otherwise; with the causal flag, and where each task adds its
  // kept pairs.
  int32_t selecting = 0;
  bool causal = false;
  int64_t topk_k = 0, nm_n = 0, nm_m = 0;
  SelectionScratch selection{};
  int64_t* kept_per_task = nullptr;  // [B * Hk * num_q_tiles]
  // Keys split across tasks (decode with fewer (batch, kv head) pairs than workers): each (pair, query tile) runs as
  // `splits` tasks over consecutive ranges of split_tiles key tiles, each leaving its rows' unnormalised O, running
  // max and sum in `partials` ([pair, query tile, split, partial_rows, dv_pad + 2] floats); the last of them to finish
  // (split_done counts them) merges the ranges by their maxima and stores the rows. splits = 1: no split.
  int64_t splits = 1, split_tiles = 0, partial_rows = 0;
  float* partials = nullptr;
  int64_t* split_done = nullptr;  // [B * Hk * num_q_tiles]
  // selecting == SATTN_PATTERN_LSH: the sorted tables; key tiles (packed or a task's own) then hold keys in k_order.
  const LshTables* lsh = nullptr;
};

// Where each piece of a worker's scratch lies, in floats from its start, every piece 64-byte aligned: one definition
// for carving the scratch (cpu_kernel.inc) and for sizing it (scratch_floats), so the two cannot disagree. rows:
// the block's rows (padded), tk: key columns (padded), dv: value columns (padded).
struct ScratchLayout {
  int64_t q, kt, v, s, p, o, m, l, alpha, row, q_sums;
  int64_t q_sel, k_sel, s_sel;  // selection's own operands and scores (when it needs them)
  int64_t candidates, counts;   // top-k candidates per row, and how many each row holds
  int64_t total;
};
inline ScratchLayout scratch_layout(int64_t rows, int64_t tk, int64_t dv, int64_t head_dim, int64_t head_dim_v,
                                    SelectionScratch selection = {}) {
  ScratchLayout layout{};
  int64_t at = 0;
  auto take = [&at](int64_t floats) {
    const int64_t offset = at;
    at += (floats + 15) / 16 * 16;
    return offset;
  };
  layout.q = take(rows * head_dim);  // Q rows (fp32, or bf16 on the amx path)
  layout.kt = take(head_dim * tk);   // K^T of the tile when a task packs its own
  layout.v = take(tk * dv);          // V of the tile likewise
  layout.s = take(rows * tk);        // scores, then P
  layout.p = take(rows * tk);        // P as bf16, or its high and low bf16 parts (amx, avx512dot)
  layout.o = take(rows * dv);        // O accumulators
  layout.m = take(rows);             // running max
  layout.l = take(rows);             // running sum
  layout.alpha = take(rows);         // rescale factors of the tile
  // A row of Q, K or V on its way and its bf16 bits (two value rows: cpu_vnni.inc), or the tile's key scales.
  const int64_t values = dv > head_dim_v ? dv : head_dim_v, wider = head_dim + 1 > values ? head_dim + 1 : values;
  layout.row = take(2 * (wider > tk ? wider : tk));
  layout.q_sums = take(rows);  // the rows' integer sums of Q (avx512dot's integer scores)
  const int64_t own = selection.own_operands ? 1 : 0;
  layout.q_sel = take(own * rows * head_dim);
  layout.k_sel = take(own * head_dim * tk);
  layout.s_sel = take(own * rows * tk);
  layout.candidates = take(rows * selection.candidates_per_row * 3);      // code, key and attention score: 3 x 4 bytes
  layout.counts = take(selection.candidates_per_row > 0 ? rows * 4 : 0);  // two int64 per row
  layout.total = at;
  return layout;
}

// Floats of scratch one worker needs for tiles of tile_q x tile_k and `group` stacked query heads.
int64_t scratch_floats(int64_t tile_q, int64_t tile_k, int64_t group, int64_t head_dim, int64_t head_dim_v,
                       SelectionScratch selection = {});

// Floats of one packed K/V tile: K^T [head_dim][tile_k padded], V [tile_k padded][head_dim_v padded] and a staging
// row for the packing, each 64-byte aligned.
int64_t packed_tile_floats(int64_t tile_k, int64_t head_dim, int64_t head_dim_v);

// Packs key tile kt of (batch, kv head) pair `pair` (= b * num_kv_heads + hk) into dst (packed_tile_floats floats,
// 64-byte aligned): converted to fp32, rounded to the precision, K transposed, padding zero.
using PackFn = void (*)(const KernelParams& params, int64_t pair, int64_t kt, float* dst);

// lsh hashing (cpu_lsh.hpp): rows of a [B, heads, len, D] tensor and the projection's columns R^T [half][D].
struct LshHashJob {
  const sattn_tensor* tensor;
  int64_t heads, len, head_dim, half;
  const float* projection_t;
  int32_t* buckets;  // [B * heads * len]
};
// Scratch floats one call of an LshHashFn needs: a row, and up to 16 rows transposed.
inline int64_t lsh_hash_scratch_floats(int64_t head_dim) { return 17 * head_dim; }
// The buckets of rows [first, first + count) of the job.
using LshHashFn = void (*)(const LshHashJob& job, int64_t first, int64_t count, float* scratch);

// Computes the output rows of task (batch, kv head, query tile) = task index in that nesting order, with the given
// scratch of scratch_floats() floats (64-byte aligned).
using TaskFn = void (*)(const KernelParams& params, float* scratch, int64_t task);

namespace avx512 {
void run_task(const KernelParams& params, float* scratch, int64_t task);
void pack_kv_tile(const KernelParams& params, int64_t pair, int64_t kt, float* dst);
void hash_lsh_rows(const LshHashJob& job, int64_t first, int64_t count, float* scratch);
}  // namespace avx512
namespace avx2 {
void run_task(const KernelParams& params, float* scratch, int64_t task);
void pack_kv_tile(const KernelParams& params, int64_t pair, int64_t kt, float* dst);
void hash_lsh_rows(const LshHashJob& job, int64_t first, int64_t count, float* scratch);
}  // namespace avx2
namespace avx512dot {  // avx512 plus VDPBF16PS for bf16 and VPDPBUSD for int8/int4 (avx512 for the rest)
void run_task(const KernelParams& params, float* scratch, int64_t task);
void pack_kv_tile(const KernelParams& params, int64_t pair, int64_t kt, float* dst);
void hash_lsh_rows(const LshHashJob& job, int64_t first, int64_t count, float* scratch);
}  // namespace avx512dot
namespace amx {  // avx512 plus AMX tiles for bf16 (falls back to the avx512 kernel for what AMX does not run)
void run_task(const KernelParams& params, float* scratch, int64_t task);
void pack_kv_tile(const KernelParams& params, int64_t pair, int64_t kt, float* dst);
void hash_lsh_rows(const LshHashJob& job, int64_t first, int64_t count, float* scratch);
// Asks Linux for the AMX tile state (once per process): false where the kernel refuses it.
bool enable_tiles();
}  // namespace amx
namespace portable {
void run_task(const KernelParams& params, float* scratch, int64_t task);
void pack_kv_tile(const KernelParams& params, int64_t pair, int64_t kt, float* dst);
void hash_lsh_rows(const LshHashJob& job, int64_t first, int64_t count, float* scratch);
}  // namespace portable

}  // namespace sattn_cpu
