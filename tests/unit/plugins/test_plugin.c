/* A plugin backend written in plain C99 against include/sattn_backend.h and sattn_kernels.h, built in several
 * variants to test how the registry loads good plugins and refuses broken ones:
 *   (default)              "naive": fp32 attention of every pattern (f32 tensors) that walks the core's layout
 *                          spans with tiles of 16 x 24, a shape no pattern block uses, so tiles cut across blocks;
 *   PLUGIN_SELECTS_ON_GPU  "naive_gpu": claims CUDA tensors without device-side selection;
 *   PLUGIN_NEWER_OPS       "naive_newer": an ops table larger than this library's (a newer header): accepted;
 *   PLUGIN_SMALL_OPS       an ops table smaller than ABI 2's first size;
 *   PLUGIN_WRONG_ABI       reports ABI version 999;
 *   PLUGIN_NULL_OPS        its entry point returns NULL;
 *   PLUGIN_MISSING_FN      leaves run() NULL;
 *   PLUGIN_DUPLICATE_NAME  claims the built-in name "reference";
 *   PLUGIN_NO_ENTRY        exports no entry point at all. */
#include <sattn_backend.h>
#include <sattn_kernels.h>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const sattn_host_api* host;

static int naive_probe(void) { return 1; }

static sattn_status naive_supports(const sattn_problem* problem) {
  if (problem->desc->precision != SATTN_PRECISION_FP32 || problem->desc->dtype != SATTN_DTYPE_F32) {
    host->set_error("naive supports only fp32 attention on f32 tensors");
    return SATTN_ERROR_NOT_SUPPORTED;
  }
  return SATTN_OK;
}

/* Far more expensive than the reference backend, so it is only chosen by name. */
static double naive_cost(const sattn_problem* problem) {
  (void)problem;
  return 1e30;
}

static void naive_tile_shape(const sattn_problem* problem, int64_t* tile_q, int64_t* tile_k) {
  (void)problem;
  *tile_q = 16;
  *tile_k = 24;
}

typedef struct naive_plan {
  sattn_problem problem; /* problem.desc stays valid for the plan's life */
} naive_plan;

static sattn_status naive_plan_create(const sattn_problem* problem, const sattn_layout* static_layout, void** state) {
  naive_plan* plan = (naive_plan*)malloc(sizeof *plan);
  (void)static_layout;
  if (plan == NULL) return SATTN_ERROR_OUT_OF_MEMORY;
  plan->problem = *problem;
  *state = plan;
  return SATTN_OK;
}

static void naive_plan_destroy(void* state) { free(state); }
static const char* naive_kernel_name(const void* state) {
  (void)state;
  return "naive_spans_c";
}
static size_t naive_workspace_size(const void* state) {
  (void)state;
  return 0;
}

static sattn_status naive_can_implement(const void* state, const sattn_run_args* args) {
  (void)state;
  if (args->q->strides[3] != 1 || args->k->strides[3] != 1 || args->v->strides[3] != 1 || args->o->strides[3] != 1) {
    host->set_error("naive needs unit stride in the last dimension");
    return SATTN_ERROR_NOT_SUPPORTED;
  }
  return SATTN_OK;
}

static const float* row_of(const sattn_tensor* t, int64_t b, int64_t h, int64_t l) {
  return (const float*)t->data + b * t->strides[0] + h * t->strides[1] + l * t->strides[2];
}

/* Key row j of kv head (b, hk): the landmarks of the view, or the run's tensor. */
static const float* key_row(const sattn_layout_view* view, const sattn_run_args* args, const sattn_attention_desc* d,
                            int64_t b, int64_t hk, int64_t j, int values) {
  const int64_t dim = values ? d->head_dim_v : d->head_dim;
  const float* derived = values ? view->values : view->keys;
  if (derived != NULL) return derived + ((b * d->num_kv_heads + hk) * view->kv_len + j) * dim;
  return row_of(values ? args->v : args->k, b, hk, j);
}

/* Not static: the PLUGIN_MISSING_FN variant leaves it unused. */
sattn_status naive_run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                       size_t workspace_bytes, void* stream, sattn_run_counters* counters) {
  const naive_plan* plan = (const naive_plan*)state;
  const sattn_attention_desc* d = plan->problem.desc;
  const int64_t group = d->num_q_heads / d->num_kv_heads;
  sattn_layout_view view;
  float* scores;
  int64_t b, hq, i;
  (void)workspace;
  (void)workspace_bytes;
  (void)stream;
  memset(&view, 0, sizeof view);
  view.struct_size = sizeof view;
  if (host->get_layout_view(layout, &view) != SATTN_OK) return SATTN_ERROR_INTERNAL;
  if (view.tile_q != 16 || view.tile_k != 24) {
    host->set_error("naive: the layout does not have the tile shape naive asked for");
    return SATTN_ERROR_INTERNAL;
  }
  scores = (float*)malloc(sizeof(float) * (size_t)view.kv_len);
  if (scores == NULL) return SATTN_ERROR_OUT_OF_MEMORY;
  for (b = 0; b < d->batch; ++b)
    for (hq = 0; hq < d->num_q_heads; ++hq)
      for (i = 0; i < d->q_len; ++i) {
        const int64_t row = sattn_layout_row(&view, b, hq, i / view.tile_q);
        const float* q = row_of(args->q, b, hq, i);
        float* o = (float*)args->o->data + b * args->o->strides[0] + hq * args->o->strides[1] + i * args->o->strides[2];
        float max_score = -INFINITY, denominator = 0.0f;
        int64_t n, kt, j, c;
        for (c = 0; c < d->head_dim_v; ++c) o[c] = 0.0f;
        for (j = 0; j < view.kv_len; ++j) scores[j] = -INFINITY;
        for (n = view.row_ptr[row]; n < view.row_ptr[row + 1]; ++n) {
          const sattn_tile_span* span = &view.spans[n];
          for (kt = span->k_begin; kt < span->k_end; ++kt)
            for (j = kt * view.tile_k; j < (kt + 1) * view.tile_k && j < view.kv_len; ++j) {
              const float* k = key_row(&view, args, d, b, hq / group, j, 0);
              float s = 0.0f;
              if (!sattn_tile_keeps(&view, span, kt, i, j)) continue;
              for (c = 0; c < d->head_dim; ++c) s += q[c] * k[c];
              scores[j] = s * d->scale;
              if (scores[j] > max_score) max_score = scores[j];
            }
        }
        for (j = 0; j < view.kv_len && max_score > -INFINITY; ++j) {
          const float* v = key_row(&view, args, d, b, hq / group, j, 1);
          const float p = scores[j] == -INFINITY ? 0.0f : expf(scores[j] - max_score);
          denominator += p;
          for (c = 0; c < d->head_dim_v; ++c) o[c] += p * v[c];
        }
        for (c = 0; c < d->head_dim_v && denominator > 0.0f; ++c) o[c] /= denominator;
        if (args->lse != NULL) {
          float* lse = (float*)args->lse->data;
          lse[b * args->lse->strides[0] + hq * args->lse->strides[1] + i * args->lse->strides[2]] =
              denominator > 0.0f ? max_score + logf(denominator) : -INFINITY;
        }
      }
  free(scores);
  if (counters->struct_size >= offsetof(sattn_run_counters, instructions) + sizeof(int64_t))
    counters->instructions = 42; /* proves counters reach sattn_plan_get_stats */
  return SATTN_OK;
}

#if defined(PLUGIN_SELECTS_ON_GPU)
#define NAIVE_NAME "naive_gpu"
#define NAIVE_DEVICE SATTN_DEVICE_CUDA
#elif defined(PLUGIN_NEWER_OPS)
#define NAIVE_NAME "naive_newer"
#define NAIVE_DEVICE SATTN_DEVICE_CPU
#elif defined(PLUGIN_DUPLICATE_NAME)
#define NAIVE_NAME "reference"
#define NAIVE_DEVICE SATTN_DEVICE_CPU
#else
#define NAIVE_NAME "naive"
#define NAIVE_DEVICE SATTN_DEVICE_CPU
#endif

/* A newer header's ops table: this one's fields, then one it does not know. */
typedef struct newer_ops {
  sattn_backend_ops ops;
  void (*a_later_function)(void);
} newer_ops;

/* Not static: the PLUGIN_NULL_OPS and PLUGIN_NO_ENTRY variants leave it unused. */
newer_ops table = {{
#if defined(PLUGIN_NEWER_OPS)
                       sizeof(newer_ops),
#elif defined(PLUGIN_SMALL_OPS)
                       offsetof(sattn_backend_ops, run),
#else
                       sizeof(sattn_backend_ops),
#endif
#ifdef PLUGIN_WRONG_ABI
                       999u,
#else
                       SATTN_BACKEND_ABI_VERSION,
#endif
                       NAIVE_NAME,
                       "naive fp32 attention in C over the layout's spans (test plugin)",
                       NAIVE_DEVICE,
                       0u,
                       ((1u << SATTN_PATTERN_COUNT) - 1u) & ~1u,
                       1u << SATTN_PRECISION_FP32,
                       naive_probe,
                       naive_supports,
                       naive_cost,
                       naive_tile_shape,
                       naive_plan_create,
                       naive_plan_destroy,
                       naive_kernel_name,
                       naive_workspace_size,
                       naive_can_implement,
#ifdef PLUGIN_MISSING_FN
                       NULL,
#else
                       naive_run,
#endif
                       NULL, /* selects_itself: the core builds every layout */
                   },
                   NULL};

#ifndef PLUGIN_NO_ENTRY
__attribute__((visibility("default"))) const sattn_backend_ops* sattn_backend_entry_v2(uint32_t abi,
                                                                                       const sattn_host_api* api) {
  if (abi != SATTN_BACKEND_ABI_VERSION) return NULL;
  host = api;
#ifdef PLUGIN_NULL_OPS
  return NULL;
#else
  return &table.ops;
#endif
}
#else
__attribute__((visibility("default"))) int not_a_plugin(void) { return 0; }
#endif
