/*
 * libsattn backend interface: what a backend (built in, or a plugin shared object) implements, and the services the
 * core lends it. Plain C99 so that plugins built by other compilers load safely. docs/backends.md explains it.
 *
 * The core owns every pattern's logic: it validates the descriptor, resolves the pattern, and compiles the pattern to
 * a block layout (per batch, head and query tile: the key tiles to visit, each full or partial; a partial tile applies
 * the pattern's element predicate, given by layout_row_mask). Backends consume that layout; they never re-derive it.
 */
#ifndef SATTN_BACKEND_H
#define SATTN_BACKEND_H

#include "sattn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structs below; a plugin built for another version is refused. */
#define SATTN_BACKEND_ABI_VERSION 1u
/* A plugin exports this symbol: const sattn_backend_ops* sattn_backend_entry_v1(uint32_t abi, const sattn_host_api*) */
#define SATTN_BACKEND_ENTRY_SYMBOL "sattn_backend_entry_v1"

/* A validated problem: the pattern is resolved (never AUTO), defaults are filled in, scale is set. */
typedef struct sattn_problem {
  sattn_attention_desc desc;
  int32_t device_id;
  int32_t num_threads; /* 0 = all */
  int64_t tile_q;      /* block layout tile sizes */
  int64_t tile_k;
} sattn_problem;

/* Opaque, immutable block layout built by the core. */
typedef struct sattn_layout sattn_layout;

typedef struct sattn_layout_view {
  int64_t tile_q, tile_k;
  int64_t num_q_tiles, num_k_tiles;
  int64_t batches; /* 1: shared by every batch, else batch */
  int64_t heads;   /* 1: shared by every head; num_kv_heads: per kv head; num_q_heads: per query head */
  /* Row r = (b' * heads + h') * num_q_tiles + qt lists key tiles cols[row_ptr[r] .. row_ptr[r+1]) in increasing
   * order; full[n] != 0 means every element of that tile is kept, 0 means apply layout_row_mask. */
  const int64_t* row_ptr;
  const int32_t* cols;
  const uint8_t* full;
  /* Patterns that attend to derived keys (landmark) give them here, contiguous fp32 [B, Hk, kv_len, D] and
   * [B, Hk, kv_len, Dv]; NULL otherwise (attend to the run's K and V). */
  const float* keys;
  const float* values;
  int64_t kv_len; /* length of the attended key sequence */
} sattn_layout_view;

typedef struct sattn_host_api {
  uint32_t struct_size;
  uint32_t abi_version;
  /* Records the thread's error message (sattn_last_error) for a failure the backend returns. */
  void (*set_error)(const char* message);
  void (*get_layout_view)(const sattn_layout* layout, sattn_layout_view* view);
  /* out[j - j0] = 1 when key j is kept by query row i of (batch b, query head hq), for j in [j0, j1). */
  void (*layout_row_mask)(const sattn_layout* layout, int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1,
                          uint8_t* out);
} sattn_host_api;

/* Counters a run reports; leave -1 where the backend has none. */
typedef struct sattn_run_counters {
  int64_t simulated_cycles;
  int64_t instructions;
  double energy_pj;
} sattn_run_counters;

#define SATTN_BACKEND_SELECTS_ON_DEVICE 0x1u /* run gets layout NULL for data-dependent patterns */

typedef struct sattn_backend_ops {
  uint32_t struct_size; /* sizeof(sattn_backend_ops) */
  uint32_t abi_version; /* SATTN_BACKEND_ABI_VERSION */
  const char* name;     /* short, unique: "cpu", "cuda", ... */
  const char* description;
  int32_t device_type; /* sattn_device_type of the tensors it reads */
  uint32_t flags;      /* SATTN_BACKEND_* */
  uint32_t pattern_mask;
  uint32_t precision_mask;
  /* 1 when the backend can run on this machine now. */
  int (*probe)(void);
  /* SATTN_OK when it computes the problem; otherwise a status and, through set_error, why not. */
  sattn_status (*supports)(const sattn_problem* problem);
  /* Estimated seconds; the registry takes the cheapest backend that supports the problem. */
  double (*cost)(const sattn_problem* problem);
  sattn_status (*plan_create)(const sattn_problem* problem, void** state);
  void (*plan_destroy)(void* state);
  const char* (*kernel_name)(const void* state);
  size_t (*workspace_size)(const void* state);
  /* Checks what only this backend knows about the tensors; the core has already checked shapes, dtypes and devices. */
  sattn_status (*can_implement)(const void* state, const sattn_run_args* args);
  sattn_status (*run)(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                      size_t workspace_bytes, void* stream, sattn_run_counters* counters);
} sattn_backend_ops;

typedef const sattn_backend_ops* (*sattn_backend_entry_fn)(uint32_t host_abi_version, const sattn_host_api* host);

#ifdef __cplusplus
}
#endif
#endif /* SATTN_BACKEND_H */
