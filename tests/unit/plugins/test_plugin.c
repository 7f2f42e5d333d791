/* A plugin backend written in plain C99 against include/sattn_backend.h, built in several variants to test how the
 * registry loads good plugins and refuses broken ones:
 *   (default)              "naive": dense-only fp32 attention that walks the core's block layout;
 *   PLUGIN_WRONG_ABI       reports ABI version 999;
 *   PLUGIN_NULL_OPS        its entry point returns NULL;
 *   PLUGIN_MISSING_FN      leaves run() NULL;
 *   PLUGIN_DUPLICATE_NAME  claims the built-in name "cpu";
 *   PLUGIN_NO_ENTRY        exports no entry point at all. */
#include <sattn_backend.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const sattn_host_api* host;

static int naive_probe(void) { return 1; }

static sattn_status naive_supports(const sattn_problem* problem) {
  if (problem->desc.pattern != SATTN_PATTERN_DENSE || problem->desc.precision != SATTN_PRECISION_FP32 ||
      problem->desc.dtype != SATTN_DTYPE_F32) {
    host->set_error("naive supports only dense fp32 attention on f32 tensors");
    return SATTN_ERROR_NOT_SUPPORTED;
  }
  return SATTN_OK;
}

/* Far more expensive than the cpu backend, so it is only chosen by name. */
static double naive_cost(const sattn_problem* problem) {
  (void)problem;
  return 1e30;
}

static sattn_status naive_plan_create(const sattn_problem* problem, void** state) {
  sattn_problem* copy = (sattn_problem*)malloc(sizeof *copy);
  if (copy == NULL) return SATTN_ERROR_OUT_OF_MEMORY;
  *copy = *problem;
  *state = copy;
  return SATTN_OK;
}

static void naive_plan_destroy(void* state) { free(state); }
static const char* naive_kernel_name(const void* state) {
  (void)state;
  return "naive_dense_c";
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

/* Not static: the PLUGIN_MISSING_FN variant leaves it unused. */
sattn_status naive_run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                       size_t workspace_bytes, void* stream, sattn_run_counters* counters) {
  const sattn_problem* problem = (const sattn_problem*)state;
  const sattn_attention_desc* d = &problem->desc;
  const int64_t group = d->num_q_heads / d->num_kv_heads;
  sattn_layout_view view;
  uint8_t* mask = (uint8_t*)malloc((size_t)(problem->tile_k > 0 ? problem->tile_k : 1));
  float* scores = (float*)malloc(sizeof(float) * (size_t)d->kv_len);
  (void)workspace;
  (void)workspace_bytes;
  (void)stream;
  if (mask == NULL || scores == NULL) {
    free(mask);
    free(scores);
    return SATTN_ERROR_OUT_OF_MEMORY;
  }
  host->get_layout_view(layout, &view);
  for (int64_t b = 0; b < d->batch; ++b)
    for (int64_t hq = 0; hq < d->num_q_heads; ++hq)
      for (int64_t i = 0; i < d->q_len; ++i) {
        const int64_t qt = i / view.tile_q;
        const int64_t row =
            ((view.batches == 1 ? 0 : b) * view.heads + (view.heads == 1 ? 0 : hq)) * view.num_q_tiles + qt;
        const float* q = row_of(args->q, b, hq, i);
        float* o = (float*)args->o->data + b * args->o->strides[0] + hq * args->o->strides[1] + i * args->o->strides[2];
        float max_score = -INFINITY, denominator = 0.0f;
        int64_t n, j, c;
        for (c = 0; c < d->head_dim_v; ++c) o[c] = 0.0f;
        for (j = 0; j < d->kv_len; ++j) scores[j] = -INFINITY;
        for (n = view.row_ptr[row]; n < view.row_ptr[row + 1]; ++n) {
          const int64_t j0 = view.cols[n] * view.tile_k;
          const int64_t j1 = j0 + view.tile_k < d->kv_len ? j0 + view.tile_k : d->kv_len;
          if (!view.full[n]) host->layout_row_mask(layout, b, hq, i, j0, j1, mask);
          for (j = j0; j < j1; ++j) {
            const float* k = row_of(args->k, b, hq / group, j);
            float s = 0.0f;
            if (!view.full[n] && !mask[j - j0]) continue;
            for (c = 0; c < d->head_dim; ++c) s += q[c] * k[c];
            scores[j] = s * d->scale;
            if (scores[j] > max_score) max_score = scores[j];
          }
        }
        for (j = 0; j < d->kv_len && max_score > -INFINITY; ++j) {
          const float* v = row_of(args->v, b, hq / group, j);
          const float p = scores[j] == -INFINITY ? 0.0f : expf(scores[j] - max_score);
          denominator += p;
          for (c = 0; c < d->head_dim_v; ++c) o[c] += p * v[c];
        }
        for (c = 0; c < d->head_dim_v && denominator > 0.0f; ++c) o[c] /= denominator;
      }
  free(mask);
  free(scores);
  counters->instructions = 42; /* proves counters reach sattn_plan_get_stats */
  return SATTN_OK;
}

/* Not static: the PLUGIN_NULL_OPS and PLUGIN_NO_ENTRY variants leave it unused. */
sattn_backend_ops ops = {
    sizeof(sattn_backend_ops),
#ifdef PLUGIN_WRONG_ABI
    999u,
#else
    SATTN_BACKEND_ABI_VERSION,
#endif
#ifdef PLUGIN_DUPLICATE_NAME
    "cpu",
#else
    "naive",
#endif
    "naive dense attention in C (test plugin)",
    SATTN_DEVICE_CPU,
    0u,
    1u << SATTN_PATTERN_DENSE,
    1u << SATTN_PRECISION_FP32,
    naive_probe,
    naive_supports,
    naive_cost,
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
};

#ifndef PLUGIN_NO_ENTRY
__attribute__((visibility("default"))) const sattn_backend_ops* sattn_backend_entry_v1(uint32_t abi,
                                                                                       const sattn_host_api* api) {
  if (abi != SATTN_BACKEND_ABI_VERSION) return NULL;
  host = api;
#ifdef PLUGIN_NULL_OPS
  return NULL;
#else
  return &ops;
#endif
}
#else
__attribute__((visibility("default"))) int not_a_plugin(void) { return 0; }
#endif
