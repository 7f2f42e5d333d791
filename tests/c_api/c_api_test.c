/*
 * The public C ABI used from C99 and nothing else: plans for several patterns are created, run and checked against a
 * small double-precision reference written here (dense and sliding_window, with causal and GQA; block_topk,
 * block_local_global and landmark in configurations that must equal dense), then the error paths are checked for
 * the right status and a message. Prints "N passed, M failed" and exits non-zero on any failure.
 */
#include <sattn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed_checks = 0;
static int failed_checks = 0;
static const char* current_case = "";

static void check(int ok, const char* what, int line) {
  if (ok) {
    ++passed_checks;
  } else {
    ++failed_checks;
    fprintf(stderr, "c_api_test.c:%d: FAILED: %s [%s] (last error: \"%s\")\n", line, what, current_case,
            sattn_last_error());
  }
}
#define CHECK(condition) check((condition) ? 1 : 0, #condition, __LINE__)

/* ---- inputs ---------------------------------------------------------------------------------------------------- */

/* A fixed-seed LCG; values uniform in [-2, 2). */
static uint32_t random_state = 12345u;
static float random_value(void) {
  random_state = random_state * 1664525u + 1013904223u;
  return (float)((double)(random_state >> 8) / 16777216.0 * 4.0 - 2.0);
}

static float* random_array(int64_t count) {
  float* values = (float*)malloc((size_t)count * sizeof(float));
  int64_t n;
  if (values == NULL) return NULL;
  for (n = 0; n < count; ++n) values[n] = random_value();
  return values;
}

/* A contiguous [B, H, L, X] view (or [B, H, L] when x is 0) of f32 data. */
static sattn_tensor contiguous_tensor(float* data, int64_t b, int64_t h, int64_t l, int64_t x) {
  sattn_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device_type = SATTN_DEVICE_CPU;
  t.dtype = SATTN_DTYPE_F32;
  t.shape[0] = b;
  t.shape[1] = h;
  t.shape[2] = l;
  if (x > 0) {
    t.ndim = 4;
    t.shape[3] = x;
    t.strides[3] = 1;
    t.strides[2] = x;
  } else {
    t.ndim = 3;
    t.strides[2] = 1;
    x = 1;
  }
  t.strides[1] = l * x;
  t.strides[0] = h * l * x;
  return t;
}

/* ---- the reference: dense and sliding_window (no dilation, wrap or global tokens) ------------------------------- */

static int is_kept(const sattn_attention_desc* desc, int64_t i, int64_t j) {
  const int64_t position = i + desc->kv_len - desc->q_len;
  const int causal = (desc->flags & SATTN_FLAG_CAUSAL) != 0;
  if (causal && j > position) return 0;
  if (desc->pattern == SATTN_PATTERN_SLIDING_WINDOW) {
    const int64_t w = desc->params.window_size;
    return j >= position - w && j <= (causal ? position : position + w);
  }
  return 1;
}

static void reference_attention(const sattn_attention_desc* desc, const float* q, const float* k, const float* v,
                                double* o, double* lse) {
  const int64_t B = desc->batch, Hq = desc->num_q_heads, Hk = desc->num_kv_heads;
  const int64_t Lq = desc->q_len, Lk = desc->kv_len, D = desc->head_dim, Dv = desc->head_dim_v;
  const double scale = 1.0 / sqrt((double)D);
  double* scores = (double*)malloc((size_t)Lk * sizeof(double));
  int64_t b, h, i, j, d;
  if (scores == NULL) return;
  for (b = 0; b < B; ++b)
    for (h = 0; h < Hq; ++h)
      for (i = 0; i < Lq; ++i) {
        const int64_t kv = h / (Hq / Hk);
        const float* query = q + ((b * Hq + h) * Lq + i) * D;
        double* out = o + ((b * Hq + h) * Lq + i) * Dv;
        double max_score = -INFINITY, sum = 0.0;
        for (j = 0; j < Lk; ++j) {
          const float* key = k + ((b * Hk + kv) * Lk + j) * D;
          double dot = 0.0;
          for (d = 0; d < D; ++d) dot += (double)query[d] * (double)key[d];
          scores[j] = scale * dot;
          if (is_kept(desc, i, j) && scores[j] > max_score) max_score = scores[j];
        }
        for (d = 0; d < Dv; ++d) out[d] = 0.0;
        for (j = 0; j < Lk; ++j) {
          const float* value = v + ((b * Hk + kv) * Lk + j) * Dv;
          double weight;
          if (!is_kept(desc, i, j)) continue;
          weight = exp(scores[j] - max_score);
          sum += weight;
          for (d = 0; d < Dv; ++d) out[d] += weight * (double)value[d];
        }
        if (sum > 0.0) {
          for (d = 0; d < Dv; ++d) out[d] /= sum;
          lse[(b * Hq + h) * Lq + i] = max_score + log(sum);
        } else {
          lse[(b * Hq + h) * Lq + i] = -INFINITY;
        }
      }
  free(scores);
}

/* ---- running a plan ---------------------------------------------------------------------------------------------- */

static sattn_attention_desc make_desc(int32_t pattern, int64_t hq, int64_t hk, int64_t lq, int64_t lk, int64_t d,
                                      int causal) {
  sattn_attention_desc desc = SATTN_ATTENTION_DESC_INIT;
  desc.flags = SATTN_FLAG_WANT_LSE | (causal ? SATTN_FLAG_CAUSAL : 0u);
  desc.batch = 2;
  desc.num_q_heads = hq;
  desc.num_kv_heads = hk;
  desc.q_len = lq;
  desc.kv_len = lk;
  desc.head_dim = d;
  desc.head_dim_v = d;
  desc.pattern = pattern;
  return desc;
}

static sattn_status create_reference_plan(const sattn_attention_desc* desc, sattn_plan** plan) {
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = "reference";
  prefs.flags = SATTN_PREF_STRICT;
  return sattn_plan_create(desc, &prefs, plan);
}

/* Runs `desc` on random inputs and compares with the reference of `reference_desc` (the same problem, or a dense
 * problem that `desc` must equal). */
static void run_and_check(const char* name, const sattn_attention_desc* desc,
                          const sattn_attention_desc* reference_desc) {
  const int64_t B = desc->batch, Hq = desc->num_q_heads, Hk = desc->num_kv_heads;
  const int64_t Lq = desc->q_len, Lk = desc->kv_len, D = desc->head_dim, Dv = desc->head_dim_v;
  const int64_t o_count = B * Hq * Lq * Dv, rows = B * Hq * Lq;
  float* q = random_array(B * Hq * Lq * D);
  float* k = random_array(B * Hk * Lk * D);
  float* v = random_array(B * Hk * Lk * Dv);
  float* o = (float*)malloc((size_t)o_count * sizeof(float));
  float* lse = (float*)malloc((size_t)rows * sizeof(float));
  double* o_ref = (double*)malloc((size_t)o_count * sizeof(double));
  double* lse_ref = (double*)malloc((size_t)rows * sizeof(double));
  sattn_plan* plan = NULL;
  sattn_tensor tq, tk, tv, to, tlse;
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  size_t workspace_bytes = 0;
  void* workspace = NULL;
  double max_ref = 0.0, max_error = 0.0, max_lse_error = 0.0;
  int64_t n, empty_rows_wrong = 0;

  current_case = name;
  CHECK(q != NULL && k != NULL && v != NULL && o != NULL && lse != NULL && o_ref != NULL && lse_ref != NULL);
  if (q == NULL || k == NULL || v == NULL || o == NULL || lse == NULL || o_ref == NULL || lse_ref == NULL) goto done;
  for (n = 0; n < o_count; ++n) o[n] = NAN;
  for (n = 0; n < rows; ++n) lse[n] = NAN;

  CHECK(create_reference_plan(desc, &plan) == SATTN_OK);
  if (plan == NULL) goto done;
  tq = contiguous_tensor(q, B, Hq, Lq, D);
  tk = contiguous_tensor(k, B, Hk, Lk, D);
  tv = contiguous_tensor(v, B, Hk, Lk, Dv);
  to = contiguous_tensor(o, B, Hq, Lq, Dv);
  tlse = contiguous_tensor(lse, B, Hq, Lq, 0);
  args.q = &tq;
  args.k = &tk;
  args.v = &tv;
  args.o = &to;
  args.lse = &tlse;
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_OK);
  CHECK(sattn_plan_workspace_size(plan, &workspace_bytes) == SATTN_OK);
  if (workspace_bytes > 0) {
    workspace = malloc(workspace_bytes);
    CHECK(workspace != NULL);
  }
  CHECK(sattn_plan_run(plan, &args, workspace, workspace_bytes, NULL) == SATTN_OK);
  CHECK(strcmp(sattn_last_error(), "") == 0);

  reference_attention(reference_desc, q, k, v, o_ref, lse_ref);
  for (n = 0; n < o_count; ++n) {
    const double error = fabs((double)o[n] - o_ref[n]);
    if (fabs(o_ref[n]) > max_ref) max_ref = fabs(o_ref[n]);
    if (!(error <= max_error)) max_error = error; /* NaN propagates */
  }
  for (n = 0; n < rows; ++n) {
    if (isinf(lse_ref[n])) {
      int64_t d;
      if (!(isinf(lse[n]) && lse[n] < 0)) ++empty_rows_wrong;
      for (d = 0; d < Dv; ++d)
        if (o[n * Dv + d] != 0.0f) ++empty_rows_wrong;
    } else {
      const double error = fabs((double)lse[n] - lse_ref[n]);
      if (!(error <= max_lse_error)) max_lse_error = error;
    }
  }
  CHECK(max_ref > 0.0);
  CHECK(max_error <= 1e-4 * max_ref);
  CHECK(max_lse_error <= 1e-3);
  CHECK(empty_rows_wrong == 0);
  if (!(max_error <= 1e-4 * max_ref) || !(max_lse_error <= 1e-3))
    fprintf(stderr, "  %s: O error %g (max |O| %g), LSE error %g\n", name, max_error, max_ref, max_lse_error);

done:
  sattn_plan_destroy(plan);
  free(workspace);
  free(q);
  free(k);
  free(v);
  free(o);
  free(lse);
  free(o_ref);
  free(lse_ref);
}

static void test_patterns_against_reference(void) {
  sattn_attention_desc desc, dense;

  desc = make_desc(SATTN_PATTERN_DENSE, 3, 3, 37, 37, 16, 0);
  run_and_check("dense, multi-head", &desc, &desc);
  desc = make_desc(SATTN_PATTERN_DENSE, 4, 2, 29, 45, 24, 1);
  run_and_check("dense, causal GQA, Lq < Lk", &desc, &desc);
  desc = make_desc(SATTN_PATTERN_DENSE, 4, 1, 50, 31, 16, 1);
  run_and_check("dense, causal GQA, Lq > Lk (empty rows)", &desc, &desc);
  desc = make_desc(SATTN_PATTERN_SLIDING_WINDOW, 4, 1, 50, 50, 16, 1);
  desc.params.window_size = 6;
  run_and_check("sliding_window, causal GQA", &desc, &desc);
  desc = make_desc(SATTN_PATTERN_SLIDING_WINDOW, 2, 2, 60, 41, 24, 0);
  desc.params.window_size = 4;
  run_and_check("sliding_window, Lq > Lk (empty rows)", &desc, &desc);

  /* Configurations that keep every key: they must equal dense. */
  desc = make_desc(SATTN_PATTERN_BLOCK_TOPK, 4, 2, 45, 70, 16, 0);
  desc.params.block_size = 16;
  desc.params.keep_ratio = 1.0f;
  dense = make_desc(SATTN_PATTERN_DENSE, 4, 2, 45, 70, 16, 0);
  run_and_check("block_topk keeping every block", &desc, &dense);
  desc = make_desc(SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, 4, 2, 45, 70, 16, 1);
  desc.params.block_size = 16;
  desc.params.local_blocks = 10;
  dense = make_desc(SATTN_PATTERN_DENSE, 4, 2, 45, 70, 16, 1);
  run_and_check("block_local_global with a band wider than the keys", &desc, &dense);
  desc = make_desc(SATTN_PATTERN_LANDMARK, 2, 1, 20, 23, 16, 0);
  desc.params.num_landmarks = 23;
  dense = make_desc(SATTN_PATTERN_DENSE, 2, 1, 20, 23, 16, 0);
  run_and_check("landmark with one landmark per key", &desc, &dense);
}

/* ---- error paths ------------------------------------------------------------------------------------------------ */

static int has_message(void) { return sattn_last_error() != NULL && sattn_last_error()[0] != '\0'; }

static void expect_create_status(const char* name, const sattn_attention_desc* desc, sattn_status expected) {
  sattn_plan* plan = NULL;
  const sattn_status status = create_reference_plan(desc, &plan);
  current_case = name;
  CHECK(status == expected);
  CHECK(has_message());
  if (status == SATTN_OK) sattn_plan_destroy(plan);
}

static void test_descriptor_errors(void) {
  const sattn_attention_desc good = make_desc(SATTN_PATTERN_DENSE, 4, 2, 16, 16, 8, 0);
  sattn_attention_desc desc;
  sattn_plan* plan = NULL;

  current_case = "NULL descriptor";
  CHECK(sattn_plan_create(NULL, NULL, &plan) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  current_case = "NULL plan pointer";
  CHECK(sattn_plan_create(&good, NULL, NULL) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());

  desc = good;
  desc.q_len = -3;
  expect_create_status("negative q_len", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.head_dim = 0;
  expect_create_status("zero head_dim", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.num_q_heads = 3;
  expect_create_status("num_q_heads not a multiple of num_kv_heads", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.struct_size = 0;
  expect_create_status("struct_size 0", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.struct_size = (uint32_t)sizeof(sattn_attention_desc) + 64u;
  expect_create_status("struct_size from a newer header", &desc, SATTN_ERROR_VERSION_MISMATCH);
  desc = good;
  desc.pattern = 99;
  expect_create_status("unknown pattern", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.dtype = 42;
  expect_create_status("unknown dtype", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.precision = 17;
  expect_create_status("unknown precision", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.flags = 0x80u;
  expect_create_status("unknown flag", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = good;
  desc.params.reserved[3] = 1;
  expect_create_status("non-zero reserved parameter", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = make_desc(SATTN_PATTERN_BLOCK_TOPK, 4, 2, 16, 16, 8, 0);
  desc.params.block_size = 16;
  desc.params.keep_ratio = 1.5f;
  expect_create_status("keep_ratio above 1", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = make_desc(SATTN_PATTERN_LSH, 4, 2, 16, 16, 8, 0);
  desc.params.lsh_buckets = 3;
  expect_create_status("odd lsh_buckets", &desc, SATTN_ERROR_INVALID_ARGUMENT);
  desc = make_desc(SATTN_PATTERN_LANDMARK, 4, 2, 16, 16, 8, 1);
  desc.params.num_landmarks = 4;
  expect_create_status("landmark with causal", &desc, SATTN_ERROR_NOT_SUPPORTED);

  {
    sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
    prefs.backend = "no-such-backend";
    prefs.flags = SATTN_PREF_STRICT;
    current_case = "unknown backend, strict";
    CHECK(sattn_plan_create(&good, &prefs, &plan) == SATTN_ERROR_BACKEND_UNAVAILABLE);
    CHECK(has_message());
    prefs.backend = "reference";
    prefs.struct_size = 0;
    current_case = "prefs struct_size 0";
    CHECK(sattn_plan_create(&good, &prefs, &plan) == SATTN_ERROR_INVALID_ARGUMENT);
    CHECK(has_message());
  }
}

static void test_run_errors(void) {
  const sattn_attention_desc desc = make_desc(SATTN_PATTERN_DENSE, 2, 1, 8, 12, 8, 0);
  float q[2 * 2 * 8 * 8], k[2 * 1 * 12 * 8], v[2 * 1 * 12 * 8], o[2 * 2 * 8 * 8], lse[2 * 2 * 8];
  sattn_tensor tq, tk, tv, to, tlse, wrong;
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  sattn_plan* plan = NULL;
  size_t workspace_bytes = 0, n;

  for (n = 0; n < sizeof q / sizeof q[0]; ++n) q[n] = random_value();
  for (n = 0; n < sizeof k / sizeof k[0]; ++n) k[n] = random_value();
  for (n = 0; n < sizeof v / sizeof v[0]; ++n) v[n] = random_value();
  tq = contiguous_tensor(q, 2, 2, 8, 8);
  tk = contiguous_tensor(k, 2, 1, 12, 8);
  tv = contiguous_tensor(v, 2, 1, 12, 8);
  to = contiguous_tensor(o, 2, 2, 8, 8);
  tlse = contiguous_tensor(lse, 2, 2, 8, 0);
  args.q = &tq;
  args.k = &tk;
  args.v = &tv;
  args.o = &to;
  args.lse = &tlse;

  current_case = "run errors: plan";
  CHECK(create_reference_plan(&desc, &plan) == SATTN_OK);
  if (plan == NULL) return;
  CHECK(sattn_plan_workspace_size(plan, &workspace_bytes) == SATTN_OK);

  current_case = "NULL run arguments";
  CHECK(sattn_plan_run(plan, NULL, NULL, 0, NULL) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  current_case = "NULL plan";
  CHECK(sattn_plan_run(NULL, &args, NULL, 0, NULL) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  CHECK(sattn_plan_can_implement(NULL, &args) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(sattn_plan_workspace_size(plan, NULL) == SATTN_ERROR_INVALID_ARGUMENT);

  current_case = "missing output";
  args.o = NULL;
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  args.o = &to;

  current_case = "a key tensor of the wrong length";
  wrong = contiguous_tensor(k, 2, 1, 11, 8);
  args.k = &wrong;
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  CHECK(sattn_plan_run(plan, &args, NULL, 0, NULL) != SATTN_OK);
  args.k = &tk;

  current_case = "a query tensor of the wrong dtype";
  wrong = tq;
  wrong.dtype = SATTN_DTYPE_F16;
  args.q = &wrong;
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  args.q = &tq;

  current_case = "an output whose elements overlap";
  wrong = to;
  wrong.strides[3] = 0;
  args.o = &wrong;
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  args.o = &to;

  current_case = "SATTN_FLAG_WANT_LSE without an lse tensor";
  args.lse = NULL;
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_ERROR_INVALID_ARGUMENT);
  CHECK(has_message());
  args.lse = &tlse;

  current_case = "run arguments from a newer header";
  args.struct_size = (uint32_t)sizeof(sattn_run_args) + 8u;
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_ERROR_VERSION_MISMATCH);
  CHECK(has_message());
  args.struct_size = (uint32_t)sizeof(sattn_run_args);

  if (workspace_bytes > 0) {
    current_case = "workspace too small";
    CHECK(sattn_plan_run(plan, &args, o, workspace_bytes - 1, NULL) == SATTN_ERROR_WORKSPACE_TOO_SMALL);
    CHECK(has_message());
  }

  current_case = "the last error is cleared by a success";
  CHECK(sattn_plan_can_implement(plan, &args) == SATTN_OK);
  CHECK(strcmp(sattn_last_error(), "") == 0);
  sattn_plan_destroy(plan);

  {
    sattn_attention_desc mask_desc = desc;
    mask_desc.pattern = SATTN_PATTERN_BLOCK_MASK;
    mask_desc.params.block_size = 4;
    plan = NULL;
    current_case = "block_mask without a mask";
    CHECK(create_reference_plan(&mask_desc, &plan) == SATTN_OK);
    if (plan != NULL) {
      CHECK(sattn_plan_can_implement(plan, &args) == SATTN_ERROR_INVALID_ARGUMENT);
      CHECK(has_message());
      sattn_plan_destroy(plan);
    }
  }
}

static void test_misc(void) {
  current_case = "version and names";
  CHECK(sattn_version() / 1000000u == SATTN_VERSION_MAJOR);
  CHECK(sattn_version() >= SATTN_VERSION);
  CHECK(sattn_version_string() != NULL && sattn_version_string()[0] != '\0');
  CHECK(strcmp(sattn_status_string(SATTN_ERROR_INVALID_ARGUMENT), "SATTN_ERROR_INVALID_ARGUMENT") == 0);
  CHECK(sattn_status_string((sattn_status)1234) != NULL);
  CHECK(sattn_backend_count() >= 1);
  sattn_plan_destroy(NULL); /* a no-op */
}

/* The enum names the library exports, from C. */
static void test_names(void) {
  int32_t p;
  CHECK(strcmp(sattn_pattern_name(SATTN_PATTERN_SLIDING_WINDOW), "sliding_window") == 0);
  CHECK(strcmp(sattn_precision_name(SATTN_PRECISION_BF16), "bf16") == 0);
  CHECK(strcmp(sattn_dtype_name(SATTN_DTYPE_F16), "f16") == 0);
  CHECK(strcmp(sattn_device_type_name(SATTN_DEVICE_CUDA), "cuda") == 0);
  CHECK(sattn_pattern_name(-1) == NULL);
  CHECK(sattn_pattern_from_name("Block_TopK") == SATTN_PATTERN_BLOCK_TOPK);
  CHECK(sattn_pattern_from_name("bsr") == SATTN_PATTERN_BLOCK_TOPK);
  CHECK(sattn_precision_from_name("int4") == SATTN_PRECISION_INT4);
  CHECK(sattn_dtype_from_name("bfloat16") == SATTN_DTYPE_BF16);
  CHECK(sattn_pattern_from_name("nonsense") == -1);
  CHECK(sattn_pattern_from_name(NULL) == -1);
  for (p = 0; p < SATTN_PATTERN_COUNT; ++p) CHECK(sattn_pattern_from_name(sattn_pattern_name(p)) == p);
}

int main(void) {
  test_names();
  test_patterns_against_reference();
  test_descriptor_errors();
  test_run_errors();
  test_misc();
  printf("%d passed, %d failed\n", passed_checks, failed_checks);
  return failed_checks == 0 ? 0 : 1;
}
