#include "core/descriptor.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "core/checked_math.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/selector.hpp"

namespace sattn {

namespace {

// Every published size of a struct, oldest first: the library accepts each of them (fields a caller's older header
// lacks keep their defaults) and refuses any other.
template <typename Struct>
std::vector<size_t> published_sizes() {
  return {sizeof(Struct)};
}
template <>
std::vector<size_t> published_sizes<sattn_plan_info>() {
  return {offsetof(sattn_plan_info, plan_bytes), sizeof(sattn_plan_info)};  // 0.1, 0.2
}

}  // namespace

template <typename Struct>
Struct read_versioned(const Struct* user, const Struct& defaults, const char* what) {
  require(user != nullptr, what, " pointer is NULL");
  uint32_t size = 0;
  std::memcpy(&size, user, sizeof size);
  require(size != 0, what, ".struct_size is 0: initialise it with its _INIT macro");
  if (size > sizeof(Struct))
    fail(SATTN_ERROR_VERSION_MISMATCH, what, ".struct_size is ", size, " but this library (", SATTN_VERSION_MAJOR, ".",
         SATTN_VERSION_MINOR, ".", SATTN_VERSION_PATCH, ") knows only ", sizeof(Struct),
         " bytes: the program was built against a newer header");
  const std::vector<size_t> sizes = published_sizes<Struct>();
  std::string listed;
  for (const size_t known : sizes) listed += (listed.empty() ? "" : " or ") + std::to_string(known);
  require(std::find(sizes.begin(), sizes.end(), size) != sizes.end(), what, ".struct_size is ", size,
          ", not the size of any version of ", what, " (", listed, ")");
  Struct copy = defaults;
  std::memcpy(static_cast<void*>(&copy), user, size);
  return copy;
}

template sattn_attention_desc read_versioned(const sattn_attention_desc*, const sattn_attention_desc&, const char*);
template sattn_plan_prefs read_versioned(const sattn_plan_prefs*, const sattn_plan_prefs&, const char*);
template sattn_run_args read_versioned(const sattn_run_args*, const sattn_run_args&, const char*);
template sattn_plan_info read_versioned(const sattn_plan_info*, const sattn_plan_info&, const char*);
template sattn_plan_stats read_versioned(const sattn_plan_stats*, const sattn_plan_stats&, const char*);
template sattn_backend_info read_versioned(const sattn_backend_info*, const sattn_backend_info&, const char*);

namespace {

void require_positive(int64_t value, const char* name) { require(value > 0, name, " must be > 0, got ", value); }
void require_non_negative(int64_t value, const char* name) { require(value >= 0, name, " must be >= 0, got ", value); }

void require_quant_scale(float value, const char* name) {
  require(std::isfinite(value) && value >= 0.0f, "params.", name,
          " must be a finite number >= 0 (0 = computed per tensor), got ", value);
}

// Products that later size buffers and index arithmetic; each must fit 64 bits.
void check_size_products(const sattn_attention_desc& d) {
  const int64_t q_rows =
      checked_mul(checked_mul(d.batch, d.num_q_heads, "batch * num_q_heads"), d.q_len, "batch * num_q_heads * q_len");
  const int64_t k_rows = checked_mul(checked_mul(d.batch, d.num_kv_heads, "batch * num_kv_heads"), d.kv_len,
                                     "batch * num_kv_heads * kv_len");
  checked_bytes(checked_mul(q_rows, d.head_dim, "Q elements (batch * num_q_heads * q_len * head_dim)"), 8, "Q size");
  checked_bytes(checked_mul(q_rows, d.head_dim_v, "O elements (batch * num_q_heads * q_len * head_dim_v)"), 8,
                "O size");
  checked_bytes(checked_mul(k_rows, d.head_dim, "K elements (batch * num_kv_heads * kv_len * head_dim)"), 8, "K size");
  checked_bytes(checked_mul(k_rows, d.head_dim_v, "V elements (batch * num_kv_heads * kv_len * head_dim_v)"), 8,
                "V size");
  checked_mul(q_rows, d.kv_len, "attention pairs (batch * num_q_heads * q_len * kv_len)");
}

}  // namespace

void validate_descriptor(const sattn_attention_desc& d) {
  require_positive(d.batch, "batch");
  require_positive(d.num_q_heads, "num_q_heads");
  require_positive(d.num_kv_heads, "num_kv_heads");
  require_positive(d.q_len, "q_len");
  require_positive(d.kv_len, "kv_len");
  require_positive(d.head_dim, "head_dim");
  require_positive(d.head_dim_v, "head_dim_v");
  require(d.num_q_heads % d.num_kv_heads == 0, "num_q_heads (", d.num_q_heads, ") must be a multiple of num_kv_heads (",
          d.num_kv_heads, ") for grouped-query attention");
  check_size_products(d);

  require(d.dtype == SATTN_DTYPE_F32 || d.dtype == SATTN_DTYPE_F16 || d.dtype == SATTN_DTYPE_BF16, "dtype ", d.dtype,
          " is not a tensor dtype (SATTN_DTYPE_F32, _F16 or _BF16)");
  require(d.precision >= SATTN_PRECISION_FP32 && d.precision <= SATTN_PRECISION_INT4, "precision ", d.precision,
          " is not a sattn_precision");
  require(d.pattern >= SATTN_PATTERN_AUTO && d.pattern < SATTN_PATTERN_COUNT, "pattern ", d.pattern,
          " is not a sattn_pattern");
  const uint32_t known_flags = SATTN_FLAG_CAUSAL | SATTN_FLAG_WANT_LSE;
  require((d.flags & ~known_flags) == 0u, "flags 0x", std::hex, d.flags & ~known_flags, std::dec,
          " are not known to this library");
  require(std::isfinite(d.scale) && d.scale >= 0.0f, "scale must be a finite number >= 0 (0 = 1/sqrt(head_dim)), got ",
          d.scale);

  const sattn_pattern_params& p = d.params;
  require_non_negative(p.window_size, "params.window_size");
  require_non_negative(p.dilation, "params.dilation");
  require(p.wrap == 0 || p.wrap == 1, "params.wrap must be 0 or 1, got ", p.wrap);
  require_non_negative(p.global_tokens, "params.global_tokens");
  require_non_negative(p.block_size, "params.block_size");
  require(std::isfinite(p.keep_ratio) && p.keep_ratio >= 0.0f && p.keep_ratio <= 1.0f,
          "params.keep_ratio must be in (0, 1] (0 = not set), got ", p.keep_ratio);
  require_non_negative(p.topk_blocks, "params.topk_blocks");
  require_non_negative(p.local_blocks, "params.local_blocks");
  require_non_negative(p.comp_block_size, "params.comp_block_size");
  require_non_negative(p.nm_n, "params.nm_n");
  require_non_negative(p.nm_m, "params.nm_m");
  require_non_negative(p.topk_k, "params.topk_k");
  require_non_negative(p.lsh_buckets, "params.lsh_buckets");
  require_non_negative(p.num_landmarks, "params.num_landmarks");
  require_non_negative(p.landmark_iters, "params.landmark_iters");
  require_quant_scale(p.scale_q, "scale_q");
  require_quant_scale(p.scale_k, "scale_k");
  require_quant_scale(p.scale_v, "scale_v");
  for (int64_t word : p.reserved)
    require(word == 0, "params.reserved must be zero: a newer header set a parameter this library does not know");
}

namespace {

// Tiles are addressed with int32 column indices.
void require_tile_count_fits(int64_t length, int64_t block, const char* what) {
  require(ceil_div(length, block) <= INT32_MAX, what, " gives more than 2^31 blocks; use a larger block_size");
}

void require_block_size(const sattn_attention_desc& d) {
  require(d.params.block_size > 0, pattern_name(d.pattern), " needs params.block_size > 0, got ", d.params.block_size);
}

}  // namespace

void validate_pattern_params(const sattn_attention_desc& d) {
  const sattn_pattern_params& p = d.params;
  switch (d.pattern) {
    case SATTN_PATTERN_DENSE:
      break;
    case SATTN_PATTERN_SLIDING_WINDOW:
      require(p.dilation >= 1, "sliding_window needs params.dilation >= 1, got ", p.dilation);
      // Beyond 2^60 a window covers any sequence anyway; the bound keeps position arithmetic far from overflow.
      require(checked_mul(p.window_size, p.dilation, "params.window_size * params.dilation") <= (int64_t{1} << 60),
              "params.window_size * params.dilation must be <= 2^60, got ", p.window_size, " * ", p.dilation);
      break;
    case SATTN_PATTERN_BLOCK_TOPK:
      require_block_size(d);
      require(p.topk_blocks > 0 || p.keep_ratio > 0.0f,
              "block_topk needs params.keep_ratio in (0, 1] or params.topk_blocks > 0");
      break;
    case SATTN_PATTERN_BLOCK_LOCAL_GLOBAL:
      require_block_size(d);
      break;
    case SATTN_PATTERN_NM_STRUCTURED:
      require(p.nm_m >= 1, "nm_structured needs params.nm_m >= 1, got ", p.nm_m);
      require(p.nm_n >= 1, "nm_structured needs params.nm_n >= 1, got ", p.nm_n);
      require(p.nm_n <= p.nm_m, "nm_structured needs nm_n <= nm_m, got N = ", p.nm_n, " > M = ", p.nm_m);
      break;
    case SATTN_PATTERN_TOPK_PER_QUERY:
      require(p.topk_k >= 1, "topk_per_query needs params.topk_k >= 1, got ", p.topk_k);
      break;
    case SATTN_PATTERN_LSH:
      require(p.lsh_buckets >= 2, "lsh needs params.lsh_buckets >= 2, got ", p.lsh_buckets);
      require(p.lsh_buckets % 2 == 0, "lsh needs an even params.lsh_buckets (buckets are +/- projections), got ",
              p.lsh_buckets);
      require(p.lsh_buckets <= (int64_t{1} << 20), "params.lsh_buckets ", p.lsh_buckets, " exceeds 2^20");
      checked_bytes(checked_mul(d.head_dim, p.lsh_buckets / 2, "head_dim * lsh_buckets / 2"), 4, "LSH projection");
      break;
    case SATTN_PATTERN_LANDMARK:
      if (is_causal(d))
        fail(SATTN_ERROR_NOT_SUPPORTED,
             "landmark attention is not defined with causal (SATTN_FLAG_CAUSAL): landmarks "
             "mix keys from every position");
      require(p.num_landmarks >= 1, "landmark needs params.num_landmarks >= 1, got ", p.num_landmarks);
      require(p.num_landmarks <= d.kv_len, "landmark needs params.num_landmarks <= kv_len (", d.kv_len, "), got ",
              p.num_landmarks);
      break;
    case SATTN_PATTERN_BLOCK_MASK:
      require_block_size(d);
      break;
    default:
      fail(SATTN_ERROR_INVALID_ARGUMENT, "pattern ", d.pattern, " is not a sattn_pattern");
  }
  if (p.block_size > 0) {
    require_tile_count_fits(d.q_len, p.block_size, "q_len / block_size");
    require_tile_count_fits(d.kv_len, p.block_size, "kv_len / block_size");
  }
}

bool layout_depends_on_run(int32_t pattern) {
  switch (pattern) {
    case SATTN_PATTERN_BLOCK_TOPK:
    case SATTN_PATTERN_NM_STRUCTURED:
    case SATTN_PATTERN_TOPK_PER_QUERY:
    case SATTN_PATTERN_LSH:
    case SATTN_PATTERN_LANDMARK:
    case SATTN_PATTERN_BLOCK_MASK:
      return true;
    default:
      return false;
  }
}

ResolvedProblem resolve_problem(const sattn_attention_desc* user_desc, const sattn_plan_prefs* user_prefs) {
  const sattn_attention_desc defaults = SATTN_ATTENTION_DESC_INIT;
  sattn_attention_desc desc = read_versioned(user_desc, defaults, "sattn_attention_desc");
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  if (user_prefs != nullptr) prefs = read_versioned(user_prefs, prefs, "sattn_plan_prefs");
  require(prefs.num_threads >= 0, "prefs.num_threads must be >= 0 (0 = all cores), got ", prefs.num_threads);
  require(prefs.device_id >= 0, "prefs.device_id must be >= 0, got ", prefs.device_id);
  require((prefs.flags & ~SATTN_PREF_STRICT) == 0u, "prefs.flags has bits this library does not know");

  validate_descriptor(desc);
  ResolvedProblem resolved{};
  if (desc.pattern == SATTN_PATTERN_AUTO) {
    PatternChoice choice = choose_pattern(desc);
    desc = choice.desc;
    resolved.reason = choice.reason;
  } else {
    resolved.reason = std::string("pattern ") + pattern_name(desc.pattern) + " given in the descriptor";
  }
  validate_pattern_params(desc);

  if (desc.scale == 0.0f) desc.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(desc.head_dim)));
  resolved.desc = desc;
  resolved.device_id = prefs.device_id;
  resolved.num_threads = prefs.num_threads;
  return resolved;
}

sattn_problem ResolvedProblem::problem(int64_t tile_q, int64_t tile_k) const {
  sattn_problem problem{};
  problem.struct_size = sizeof(sattn_problem);
  problem.desc = &desc;
  problem.device_id = device_id;
  problem.num_threads = num_threads;
  problem.tile_q = tile_q;
  problem.tile_k = tile_k;
  return problem;
}

}  // namespace sattn
