/*
 * libsattn backend interface: what a backend (built in, or a plugin shared object) implements, and the services the
 * core lends it. Plain C99 so that plugins built by other compilers load safely. docs/backends.md explains it; the
 * inline helpers every kernel shares (element rules, bit masks, fp16/bf16, rounding and quantisation) are in
 * sattn_kernels.h.
 *
 * The core owns every pattern's logic: it validates the descriptor, resolves the pattern, asks the chosen backend for
 * the tile shape it wants, and compiles the pattern to a block layout for that shape: per (batch, head, query tile),
 * runs of key tiles ("spans"), each of one kind a kernel evaluates without calling back: FULL (every element kept),
 * CAUSAL (only the causal diagonal cuts it), RULE (the layout's analytic element rule: band, dilation, ring, global
 * tokens, block band) or BITS (a packed bit mask, for data-dependent element patterns). Backends consume that layout;
 * they never re-derive a pattern.
 *
 * Growth rules: every struct that crosses this boundary starts with uint32_t struct_size. The core accepts an ops
 * table from an older plugin (smaller struct_size, missing trailing functions read as NULL) and fills only the prefix
 * a plugin's struct_size asks for; a plugin reads only the fields its struct_size (or the host's) covers.
 */
#ifndef SATTN_BACKEND_H
#define SATTN_BACKEND_H

#include "sattn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; a plugin built for another version is refused. Compatible growth (appended
 * fields and functions) keeps the version and is told apart by struct_size. */
#define SATTN_BACKEND_ABI_VERSION 2u
/* A plugin exports this symbol: const sattn_backend_ops* sattn_backend_entry_v2(uint32_t abi, const sattn_host_api*) */
#define SATTN_BACKEND_ENTRY_SYMBOL "sattn_backend_entry_v2"

/* A validated problem: the pattern is resolved (never AUTO), defaults are filled in, scale is set. The descriptor is
 * referenced, not embedded, so that it can grow without moving the fields below; it lives as long as the problem
 * (for plan_create: as long as the plan). */
typedef struct sattn_problem {
  uint32_t struct_size;
  uint32_t reserved0;
  const sattn_attention_desc* desc;
  int32_t device_id;
  int32_t num_threads; /* CPU threads; 0 = all cores */
  int64_t tile_q;      /* the layout's tile shape: 0 until the backend's tile_shape answered (then >= 1) */
  int64_t tile_k;
} sattn_problem;

/* ---- block layouts ------------------------------------------------------------------------------------------------
 */
typedef struct sattn_layout sattn_layout; /* opaque, immutable once built */

typedef enum sattn_tile_kind {
  SATTN_TILE_FULL = 0,   /* every element of the tile is kept */
  SATTN_TILE_CAUSAL = 1, /* keep (i, j) iff j <= i + rule.q_offset: the tile is whole but for the causal diagonal */
  SATTN_TILE_RULE = 2,   /* keep (i, j) iff sattn_rule_keeps(rule, i, j) (sattn_kernels.h) */
  SATTN_TILE_BITS = 3    /* keep (i, j) iff its bit is set (sattn_bits_keep in sattn_kernels.h) */
} sattn_tile_kind;

/* Consecutive key tiles [k_begin, k_end) of one kind. Spans of a row ascend and never overlap. */
typedef struct sattn_tile_span {
  int32_t k_begin;
  int32_t k_end;
  int32_t kind; /* sattn_tile_kind */
  int32_t reserved;
  /* SATTN_TILE_BITS: index in view.bits of tile k_begin's first word. Each tile of the span has tile_q rows of
   * bits_words_per_row words, tiles one after the other; bit c of a row is key k_tile * tile_k + c. Rows past q_len
   * and keys past kv_len are 0. Causal and every other condition are already folded into the bits. */
  int64_t bits;
} sattn_tile_span;

/* The analytic element rule of SATTN_TILE_RULE (and the causal offset of SATTN_TILE_CAUSAL). Query i sits at
 * p = i + q_offset; keys are j in [0, kv_len). keep(i, j) =
 *   (!causal || j <= p) && (j < global_tokens || (global_tokens > 0 && p < global_tokens) || in_pattern(i, j))
 * where in_pattern is, by kind:
 *   SATTN_RULE_NONE:       false (only global tokens and causal speak)
 *   SATTN_RULE_ALL:        true
 *   SATTN_RULE_BAND:       r = j - p; band_lo <= r <= band_hi and r % dilation == 0
 *   SATTN_RULE_RING:       r = (j - p) mod kv_len; r % ring_gcd == 0 and
 *                          band_lo + ((r / ring_gcd) * ring_inverse - band_lo) mod ring_period <= band_hi
 *                          (some step t in [band_lo, band_hi] has p + dilation * t == j on the ring)
 *   SATTN_RULE_BLOCK_BAND: qb = floor(i / block_size), c = floor((qb * block_size + q_offset) / block_size),
 *                          kb = floor(j / block_size); |kb - c| <= local_blocks
 * All arithmetic fits int64 for every descriptor the core accepts. */
typedef enum sattn_rule_kind {
  SATTN_RULE_NONE = 0,
  SATTN_RULE_ALL = 1,
  SATTN_RULE_BAND = 2,
  SATTN_RULE_RING = 3,
  SATTN_RULE_BLOCK_BAND = 4
} sattn_rule_kind;

typedef struct sattn_element_rule {
  uint32_t struct_size;
  int32_t kind; /* sattn_rule_kind */
  int32_t causal;
  int32_t reserved0;
  int64_t q_offset; /* kv_len - q_len of the problem */
  int64_t kv_len;   /* keys of the attended sequence */
  int64_t global_tokens;
  int64_t band_lo, band_hi, dilation;          /* BAND: offsets r = j - p; RING: steps t */
  int64_t ring_gcd, ring_period, ring_inverse; /* RING */
  int64_t block_size, local_blocks;            /* BLOCK_BAND */
} sattn_element_rule;

typedef struct sattn_layout_view {
  uint32_t struct_size; /* set by the caller of get_layout_view: the host fills what both know */
  uint32_t reserved0;
  int64_t tile_q, tile_k;
  int64_t num_q_tiles, num_k_tiles;
  int64_t q_len;
  int64_t kv_len;       /* length of the attended key sequence (num_landmarks for landmark attention) */
  int64_t batches;      /* 1: shared by every batch, else batch */
  int64_t heads;        /* 1: shared by every head; num_kv_heads: per kv head; num_q_heads: per query head */
  int64_t head_divisor; /* query head hq reads layout head hq / head_divisor (1 per query head, G per kv head) */
  /* Row r = (b' * heads + h') * num_q_tiles + qt with b' = batches == 1 ? 0 : b and h' = heads == 1 ? 0 :
   * hq / head_divisor (sattn_layout_row). Its spans are spans[row_ptr[r] .. row_ptr[r + 1]). */
  const int64_t* row_ptr;
  const sattn_tile_span* spans;
  const uint64_t* bits; /* words of the BITS spans; NULL when there are none */
  int64_t bits_words_per_row;
  const sattn_element_rule* rule;
  /* Patterns that attend to derived keys (landmark) give them here, contiguous fp32 [B, Hk, kv_len, D] and
   * [B, Hk, kv_len, Dv]; NULL otherwise (attend to the run's K and V). */
  const float* keys;
  const float* values;
  int64_t kept_pairs; /* exact number of kept (query, key) pairs over every batch and query head */
  int64_t num_spans;  /* row_ptr[rows] */
  int64_t num_bits_words;
} sattn_layout_view;

/* ---- quantised operands (int8/int4, the computation docs/patterns.md defines) --------------------------------------
 */
typedef struct sattn_quantized_operands {
  uint32_t struct_size;
  uint32_t reserved0;
  int8_t* q;        /* [B, Hq, Lq, D] */
  int8_t* k;        /* [B, Hk, kv_rows, D], smoothed: K - mean over the kv_rows keys of (b, kv head) */
  int8_t* v;        /* [B, Hk, kv_rows, Dv] */
  float* q_scale;   /* [B, Hq, Lq] per row */
  float* k_scale;   /* [B, Hk, kv_rows] per row of the smoothed K */
  float* v_scale;   /* [B, Hk, Dv] per channel */
  float* lse_shift; /* [B, Hq, Lq]: scale * q_i . kbar, added back to the LSE */
} sattn_quantized_operands;

/* ---- services of the core ------------------------------------------------------------------------------------------
 */
typedef sattn_status (*sattn_range_fn)(void* context, int64_t begin, int64_t end);

typedef struct sattn_host_api {
  uint32_t struct_size;
  uint32_t abi_version;
  /* Records the thread's error message (sattn_last_error) for a failure the backend returns. */
  void (*set_error)(const char* message);
  /* Fills view up to min(view->struct_size, the host's size); SATTN_ERROR_INVALID_ARGUMENT on NULL or size 0. */
  sattn_status (*get_layout_view)(const sattn_layout* layout, sattn_layout_view* view);
  /* Runs body over [0, n) in chunks on the core's thread pool (oneTBB where built with it), at most num_threads
   * workers (0 = all). Returns SATTN_OK or the first failure a chunk returned (its message is kept). */
  sattn_status (*parallel_for)(int64_t n, int32_t num_threads, int64_t grain, sattn_range_fn body, void* context);
  /* Copies a 4-D host tensor of any dtype and strides to dst as contiguous row-major fp32. */
  sattn_status (*gather_f32)(const sattn_tensor* tensor, float* dst);
  /* Writes n fp32 values to tensor[i0][i1][i2][0..n) (4-D) converted to its dtype. */
  sattn_status (*scatter_row_f32)(const sattn_tensor* tensor, int64_t i0, int64_t i1, int64_t i2, const float* src,
                                  int64_t n);
  /* The int8/int4 quantisation of contiguous fp32 q [B, Hq, Lq, D], k [B, Hk, kv_rows, D], v [B, Hk, kv_rows, Dv]
   * for the problem's precision and given scales; out's buffers are the caller's. SATTN_ERROR_INVALID_ARGUMENT
   * naming the tensor when an input holds NaN or infinity. */
  sattn_status (*quantize)(const sattn_problem* problem, const float* q, const float* k, const float* v,
                           int64_t kv_rows, sattn_quantized_operands* out);
} sattn_host_api;

/* Counters a run reports; leave -1 where the backend has none. */
typedef struct sattn_run_counters {
  uint32_t struct_size;
  uint32_t reserved0;
  int64_t simulated_cycles;
  int64_t instructions;
  double energy_pj;
  /* Kept (query, key) pairs of this run, for a backend that selected itself (layout NULL); the core's layout
   * counts them otherwise. Check struct_size before writing: an older core passes the smaller struct. */
  int64_t kept_pairs;
} sattn_run_counters;

/* The backend selects data-dependent patterns on its own device: run() gets layout NULL for them. Without this
 * flag, a backend whose device_type is not SATTN_DEVICE_CPU is not offered data-dependent patterns (the host never
 * reads device memory). */
#define SATTN_BACKEND_SELECTS_ON_DEVICE 0x1u

typedef struct sattn_backend_ops {
  uint32_t struct_size; /* sizeof(sattn_backend_ops) of the header the backend was built with */
  uint32_t abi_version; /* SATTN_BACKEND_ABI_VERSION */
  const char* name;     /* short, unique: "reference", "cpu", "cuda", ... (at most 63 characters) */
  const char* description;
  int32_t device_type;     /* sattn_device_type of the tensors it reads */
  uint32_t flags;          /* SATTN_BACKEND_* */
  uint32_t pattern_mask;   /* 1 << sattn_pattern for each pattern it runs: the core offers it no other */
  uint32_t precision_mask; /* 1 << sattn_precision likewise */
  /* 1 when the backend can run on this machine now. Called once at registration. */
  int (*probe)(void);
  /* SATTN_OK when it computes the problem; otherwise a status and, through set_error, why not. problem->tile_q and
   * tile_k are 0 here. */
  sattn_status (*supports)(const sattn_problem* problem);
  /* Estimated seconds; the registry takes the cheapest backend that supports the problem. */
  double (*cost)(const sattn_problem* problem);
  /* The tile shape the backend's kernels want for this problem (each in [1, 65536]); NULL: 64 x 64. */
  void (*tile_shape)(const sattn_problem* problem, int64_t* tile_q, int64_t* tile_k);
  /* Precomputes what does not depend on the tensors. static_layout is the layout of a pattern that depends only on
   * the descriptor (NULL for data-dependent patterns): it lives as long as the plan, so a device backend may copy it
   * to its device here. */
  sattn_status (*plan_create)(const sattn_problem* problem, const sattn_layout* static_layout, void** state);
  void (*plan_destroy)(void* state);
  const char* (*kernel_name)(const void* state);
  size_t (*workspace_size)(const void* state);
  /* Checks what only this backend knows about the tensors; the core has already checked shapes, dtypes and devices. */
  sattn_status (*can_implement)(const void* state, const sattn_run_args* args);
  /* layout: the static layout, or this run's layout of a data-dependent pattern, or NULL when the backend selects on
   * its device. Thread safe: one plan runs from many threads at once. */
  sattn_status (*run)(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                      size_t workspace_bytes, void* stream, sattn_run_counters* counters);
  /* Optional (NULL or absent in an older table: never). 1 when the backend makes the selection of this
   * data-dependent problem itself, inside run() (which then gets layout NULL), instead of the core building its
   * layout before every run: a CPU backend that streams top-k or N:M selection over key tiles with its own kernels.
   * Asked once at plan creation; it must then produce exactly the kept sets of docs/patterns.md. (A backend with
   * SATTN_BACKEND_SELECTS_ON_DEVICE selects every data-dependent pattern itself whatever this says.) */
  int (*selects_itself)(const sattn_problem* problem);
} sattn_backend_ops;

typedef const sattn_backend_ops* (*sattn_backend_entry_fn)(uint32_t host_abi_version, const sattn_host_api* host);

#ifdef __cplusplus
}
#endif
#endif /* SATTN_BACKEND_H */
