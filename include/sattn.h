/*
 * libsattn: sparse attention runtime library, public C ABI.
 *
 * Plain C99. Every entry point returns a sattn_status; on failure sattn_last_error() gives a thread-local message.
 * Option structs start with `uint32_t struct_size` filled by their ..._INIT macro: the library accepts older
 * (smaller) structs and rejects larger ones it does not know. New fields are only ever appended.
 * docs/api.md states the contract of every function; docs/patterns.md states exactly what each pattern computes.
 */
#ifndef SATTN_H
#define SATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- export control ------------------------------------------------------------------------------------------ */
#if defined(_WIN32)
#if defined(SATTN_BUILDING_LIBRARY)
#define SATTN_API __declspec(dllexport)
#else
#define SATTN_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define SATTN_API __attribute__((visibility("default")))
#else
#define SATTN_API
#endif

/* ---- version -------------------------------------------------------------------------------------------------- */
/* Kept equal to the VERSION file at the repository root; the build refuses to configure when they differ. */
#define SATTN_VERSION_MAJOR 0
#define SATTN_VERSION_MINOR 2
#define SATTN_VERSION_PATCH 0
#define SATTN_MAKE_VERSION(major, minor, patch) \
  ((uint32_t)(major)*1000000u + (uint32_t)(minor)*1000u + (uint32_t)(patch))
#define SATTN_VERSION SATTN_MAKE_VERSION(SATTN_VERSION_MAJOR, SATTN_VERSION_MINOR, SATTN_VERSION_PATCH)

/* Version of the library actually loaded, encoded as SATTN_MAKE_VERSION. A program built against header X.y runs
 * against any library X.z with z >= y. */
SATTN_API uint32_t sattn_version(void);
/* "MAJOR.MINOR.PATCH"; static storage. */
SATTN_API const char* sattn_version_string(void);

/* ---- status and errors ---------------------------------------------------------------------------------------- */
typedef enum sattn_status {
  SATTN_OK = 0,
  SATTN_ERROR_INVALID_ARGUMENT = 1,    /* a descriptor field, tensor or pointer is wrong */
  SATTN_ERROR_NOT_SUPPORTED = 2,       /* valid, but no (or not the chosen) backend implements it */
  SATTN_ERROR_OUT_OF_MEMORY = 3,       /* a host or device allocation failed */
  SATTN_ERROR_WORKSPACE_TOO_SMALL = 4, /* the workspace passed to sattn_plan_run is smaller than needed */
  SATTN_ERROR_BACKEND_UNAVAILABLE = 5, /* the named backend does not exist or cannot run on this machine */
  SATTN_ERROR_DEVICE = 6,              /* the device or its driver reported an error */
  SATTN_ERROR_INTERNAL = 7,            /* a bug in libsattn: please report the message */
  SATTN_ERROR_VERSION_MISMATCH = 8     /* a plugin or struct of an incompatible version */
} sattn_status;

/* Name of a status ("SATTN_ERROR_INVALID_ARGUMENT"); static storage, never NULL. */
SATTN_API const char* sattn_status_string(sattn_status status);
/* Detail of the last failure on this thread ("q_len must be > 0, got -3"); "" after a success. Valid until the next
 * libsattn call on the same thread. */
SATTN_API const char* sattn_last_error(void);

/* ---- enums ---------------------------------------------------------------------------------------------------- */
typedef enum sattn_dtype {
  SATTN_DTYPE_F32 = 1,
  SATTN_DTYPE_F16 = 2,
  SATTN_DTYPE_BF16 = 3,
  SATTN_DTYPE_U8 = 4 /* block masks */
} sattn_dtype;

typedef enum sattn_precision {
  SATTN_PRECISION_FP32 = 0,
  SATTN_PRECISION_BF16 = 1,
  SATTN_PRECISION_FP16 = 2,
  SATTN_PRECISION_INT8 = 3,
  SATTN_PRECISION_INT4 = 4
} sattn_precision;

typedef enum sattn_pattern {
  SATTN_PATTERN_AUTO = 0,
  SATTN_PATTERN_DENSE = 1,
  SATTN_PATTERN_SLIDING_WINDOW = 2,
  SATTN_PATTERN_BLOCK_TOPK = 3,
  SATTN_PATTERN_BLOCK_LOCAL_GLOBAL = 4,
  SATTN_PATTERN_NM_STRUCTURED = 5,
  SATTN_PATTERN_TOPK_PER_QUERY = 6,
  SATTN_PATTERN_LSH = 7,
  SATTN_PATTERN_LANDMARK = 8,
  SATTN_PATTERN_BLOCK_MASK = 9
} sattn_pattern;
#define SATTN_PATTERN_COUNT 10

/* DLPack device codes. */
typedef enum sattn_device_type {
  SATTN_DEVICE_CPU = 1,
  SATTN_DEVICE_CUDA = 2,
  SATTN_DEVICE_CUDA_HOST = 3,
  SATTN_DEVICE_CUDA_MANAGED = 13
} sattn_device_type;

/* Names of enum values as users write them ("sliding_window", "bf16", "f32"); static storage. NULL for a value
 * outside the enum. The _from_name functions ignore case, also take the aliases (patterns: "sliding_global", "bsr";
 * precisions: "f32", "f16", "float32", "bfloat16", "float16", "half"; dtypes: "fp32", "fp16", "float32",
 * "bfloat16", "float16", "half", "uint8") and return -1 for a name they do not know. */
SATTN_API const char* sattn_pattern_name(int32_t pattern);
SATTN_API const char* sattn_precision_name(int32_t precision);
SATTN_API const char* sattn_dtype_name(int32_t dtype);
SATTN_API const char* sattn_device_type_name(int32_t device_type); /* "cpu", "cuda", "cuda_host", "cuda_managed" */
SATTN_API int32_t sattn_pattern_from_name(const char* name);
SATTN_API int32_t sattn_precision_from_name(const char* name);
SATTN_API int32_t sattn_dtype_from_name(const char* name);

/* Descriptor flags. */
#define SATTN_FLAG_CAUSAL 0x1u   /* key j allowed only where j <= i + (kv_len - q_len) */
#define SATTN_FLAG_WANT_LSE 0x2u /* the run must be given an lse tensor */

/* ---- the problem descriptor ----------------------------------------------------------------------------------- */
/* Pattern parameters (docs/patterns.md). Zero means "not set" except where a default is noted; the INIT macro sets the
 * defaults. The reserved words must be zero: later versions give them meanings. */
typedef struct sattn_pattern_params {
  int64_t window_size;     /* sliding_window: half width w */
  int64_t dilation;        /* sliding_window: stride d between kept keys (default 1) */
  int64_t wrap;            /* sliding_window: 1 = ring (positions mod kv_len) */
  int64_t global_tokens;   /* sliding_window, block_topk, block_local_global: first g keys/queries are global */
  int64_t block_size;      /* block patterns: block size b (other patterns: a tile-size hint the reference backend
                              takes; 0 = the backend's choice) */
  float keep_ratio;        /* block_topk: fraction of candidate blocks kept, in (0, 1] */
  float scale_q;           /* int8/int4: scale of every Q row (0 = per row, max|q_i| / qmax; docs/patterns.md) */
  int64_t topk_blocks;     /* block_topk: number of blocks kept (overrides keep_ratio when > 0) */
  int64_t local_blocks;    /* block_local_global: blocks on each side of the diagonal (default 1) */
  int64_t comp_block_size; /* block_topk: compression block size c (0 = no compression) */
  int64_t nm_n;            /* nm_structured: keep N of every M */
  int64_t nm_m;
  int64_t topk_k;         /* topk_per_query: keys kept per query */
  int64_t lsh_buckets;    /* lsh: number of buckets (even) */
  uint64_t lsh_seed;      /* lsh: SplitMix64 seed of the random projection */
  int64_t num_landmarks;  /* landmark: number of landmarks m */
  int64_t landmark_iters; /* landmark: k-means rounds t (default 0) */
  float scale_k;          /* int8/int4: scale of every row of the smoothed K - kbar (0 = per row) */
  float scale_v;          /* int8/int4: scale of every V channel (0 = per channel) */
  int64_t reserved[16];
} sattn_pattern_params;

typedef struct sattn_attention_desc {
  uint32_t struct_size; /* sizeof(sattn_attention_desc), set by SATTN_ATTENTION_DESC_INIT */
  uint32_t flags;       /* SATTN_FLAG_* */
  int64_t batch;
  int64_t num_q_heads;
  int64_t num_kv_heads; /* divides num_q_heads (GQA) */
  int64_t q_len;
  int64_t kv_len;
  int64_t head_dim;   /* D of Q and K */
  int64_t head_dim_v; /* Dv of V and O */
  int32_t dtype;      /* sattn_dtype of Q, K, V and O */
  int32_t precision;  /* sattn_precision of the computation */
  int32_t pattern;    /* sattn_pattern */
  float scale;        /* softmax scale; 0 = 1/sqrt(head_dim) */
  sattn_pattern_params params;
} sattn_attention_desc;

#define SATTN_PATTERN_PARAMS_INIT                                              \
  {                                                                            \
    0, 1, 0, 0, 0, 0.0f, 0.0f, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0.0f, 0.0f, { 0 } \
  }
#define SATTN_ATTENTION_DESC_INIT                                                                           \
  {                                                                                                         \
    (uint32_t)sizeof(sattn_attention_desc), 0u, 1, 1, 1, 0, 0, 0, 0, SATTN_DTYPE_F32, SATTN_PRECISION_FP32, \
        SATTN_PATTERN_AUTO, 0.0f, SATTN_PATTERN_PARAMS_INIT                                                 \
  }

/* ---- tensors -------------------------------------------------------------------------------------------------- */
/* A strided view. Q [B, Hq, Lq, D], K [B, Hk, Lk, D], V [B, Hk, Lk, Dv], O [B, Hq, Lq, Dv], LSE [B, Hq, Lq] (f32),
 * block mask [B or 1, Hq or 1, ceil(Lq/b), ceil(Lk/b)] (u8; a dimension of 1 broadcasts). Strides are in elements and may be any non-negative values
 * that keep distinct elements of outputs apart ([B, L, H, D] memory is the view with strides {L*H*D, D, H*D, 1}).
 * data must be aligned to the element size (4 bytes for f32, 2 for f16/bf16). */
typedef struct sattn_tensor {
  void* data;
  int32_t device_type; /* sattn_device_type */
  int32_t device_id;
  int32_t dtype; /* sattn_dtype */
  int32_t ndim;
  int64_t shape[4];
  int64_t strides[4];
} sattn_tensor;

typedef struct sattn_run_args {
  uint32_t struct_size; /* set by SATTN_RUN_ARGS_INIT */
  const sattn_tensor* q;
  const sattn_tensor* k;
  const sattn_tensor* v;
  const sattn_tensor* o;          /* written */
  const sattn_tensor* lse;        /* optional, written when not NULL; required with SATTN_FLAG_WANT_LSE */
  const sattn_tensor* block_mask; /* SATTN_PATTERN_BLOCK_MASK only */
} sattn_run_args;
#define SATTN_RUN_ARGS_INIT \
  { (uint32_t)sizeof(sattn_run_args), NULL, NULL, NULL, NULL, NULL, NULL }

/* ---- plans ---------------------------------------------------------------------------------------------------- */
#define SATTN_PREF_STRICT 0x1u /* fail rather than fall back when the named backend cannot run the problem */

typedef struct sattn_plan_prefs {
  uint32_t struct_size;
  uint32_t flags;      /* SATTN_PREF_* */
  const char* backend; /* NULL = automatic (cheapest that supports it); overridden by $SATTN_BACKEND. A named backend
                          that cannot run the problem falls back to the automatic choice (plan info's reason says
                          so) unless flags has SATTN_PREF_STRICT. */
  int32_t device_id;
  int32_t num_threads; /* CPU: 0 = all cores */
} sattn_plan_prefs;
#define SATTN_PLAN_PREFS_INIT \
  { (uint32_t)sizeof(sattn_plan_prefs), 0u, NULL, 0, 0 }

typedef struct sattn_plan sattn_plan;

typedef struct sattn_plan_info {
  uint32_t struct_size; /* set by the caller (SATTN_PLAN_INFO_INIT) */
  int32_t pattern;      /* the pattern actually run (after automatic selection) */
  const char* backend;  /* strings are owned by the plan and live until sattn_plan_destroy */
  const char* kernel;
  const char* reason;   /* why the selector chose this pattern and backend */
  int64_t block_size_q; /* block layout tile sizes */
  int64_t block_size_k;
  double density;         /* kept (query, key) pairs / all pairs; an estimate for data-dependent patterns */
  double estimated_flops; /* counting only kept pairs */
  double estimated_bytes;
  size_t workspace_size;
  /* appended in 0.2: */
  size_t plan_bytes;  /* host memory the plan holds (its layout, tables, the backend's state where it says) */
  int64_t num_spans;  /* spans of the static layout (0 for data-dependent patterns, built per run) */
} sattn_plan_info;
#define SATTN_PLAN_INFO_INIT \
  { (uint32_t)sizeof(sattn_plan_info), 0, NULL, NULL, NULL, 0, 0, 0.0, 0.0, 0.0, 0, 0, 0 }

/* Counters a backend fills where it has them; a counter it lacks stays -1. */
typedef struct sattn_plan_stats {
  uint32_t struct_size;
  uint32_t reserved0;
  int64_t runs;             /* completed runs of this plan */
  int64_t kept_pairs;       /* kept (query, key) pairs of the last run, over all batches and query heads */
  double density;           /* kept_pairs / all pairs of the last run */
  int64_t simulated_cycles; /* simulators and accelerators */
  int64_t instructions;
  double energy_pj;
} sattn_plan_stats;
#define SATTN_PLAN_STATS_INIT \
  { (uint32_t)sizeof(sattn_plan_stats), 0u, 0, 0, 0.0, 0, 0, 0.0 }

/* Validates the descriptor, resolves SATTN_PATTERN_AUTO, picks a backend and prepares the plan. prefs may be NULL. */
SATTN_API sattn_status sattn_plan_create(const sattn_attention_desc* desc, const sattn_plan_prefs* prefs,
                                         sattn_plan** out_plan);
/* Checks shapes, strides, dtypes, devices and pointers of the tensors against the plan, without running. */
SATTN_API sattn_status sattn_plan_can_implement(const sattn_plan* plan, const sattn_run_args* args);
/* Bytes of workspace sattn_plan_run needs (may be 0). */
SATTN_API sattn_status sattn_plan_workspace_size(const sattn_plan* plan, size_t* out_bytes);
/* Runs the plan. workspace may be NULL when the size is 0; any alignment works, because workspace_size includes 64
 * bytes the library uses to align the backend's part (pass at least workspace_size bytes). stream: CUDA stream,
 * NULL on the CPU. Thread safe: one plan may be run from many threads at once with distinct workspaces. */
SATTN_API sattn_status sattn_plan_run(const sattn_plan* plan, const sattn_run_args* args, void* workspace,
                                      size_t workspace_bytes, void* stream);
/* Destroys a plan; NULL is a no-op. */
SATTN_API void sattn_plan_destroy(sattn_plan* plan);
SATTN_API sattn_status sattn_plan_get_info(const sattn_plan* plan, sattn_plan_info* info);
SATTN_API sattn_status sattn_plan_get_stats(const sattn_plan* plan, sattn_plan_stats* stats);

/* ---- backends ------------------------------------------------------------------------------------------------- */
typedef struct sattn_backend_info {
  uint32_t struct_size;
  int32_t available; /* 1 when it can run on this machine now */
  const char* name;  /* static or registry-owned storage, valid for the life of the process */
  const char* description;
  const char* path;    /* shared object it came from, "" when built in */
  int32_t device_type; /* sattn_device_type it computes on */
  int32_t is_plugin;
  uint32_t pattern_mask;   /* bit (1 << sattn_pattern) for each pattern it implements */
  uint32_t precision_mask; /* bit (1 << sattn_precision) for each precision */
} sattn_backend_info;
#define SATTN_BACKEND_INFO_INIT \
  { (uint32_t)sizeof(sattn_backend_info), 0, NULL, NULL, NULL, 0, 0, 0u, 0u }

/* Number of registered backends (built in and plugins found so far). */
SATTN_API int32_t sattn_backend_count(void);
SATTN_API sattn_status sattn_backend_get_info(int32_t index, sattn_backend_info* info);
/* Loads a plugin shared object explicitly (plugins in the library's folder and $SATTN_PLUGIN_PATH load by
 * themselves). A plugin of the wrong ABI version or without a valid entry point is refused with a message. */
SATTN_API sattn_status sattn_backend_load(const char* path);

#ifdef __cplusplus
}
#endif
#endif /* SATTN_H */
