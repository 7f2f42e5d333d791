#include "core/descriptor.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <string>
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

// ---- Bounds of the descriptor's fields ---------------------------------------------------------------------------
// Every field gets an upper bound here, so that the position arithmetic of the selector, the layout rules and the
// backends cannot overflow int64 whatever the caller passes. That arithmetic only adds or subtracts a few fields,
// tile indices and tile sizes: p = i + kv_len - q_len, diagonal block +/- local_blocks, global_tokens + block_size,
// qt * tile + tile, a window's p +/- window_size * dilation. With every term <= 2^40 (or the window's reach <= 2^60)
// such sums stay below 2^62, so no rule needs overflow checks of its own. Products of sizes that size buffers or
// count work are checked on top (check_size_products); a bound here does not make a problem cheap, only well-defined.

// batch, num_q_heads, num_kv_heads, q_len, kv_len, global_tokens, local_blocks, topk_blocks, comp_block_size, topk_k,
// nm_n, nm_m, num_landmarks: counts of positions, heads or blocks. 2^40 (10^12) is beyond any sequence memory could
// hold and leaves 2^23 of headroom for the sums above.
constexpr int64_t kMaxCount = int64_t{1} << 40;
// head_dim, head_dim_v: the int8/int4 score is a sum of D products of magnitude <= 127 * 127 < 2^14 accumulated in
// int32; D <= 2^16 keeps it below 2^30, exact with a factor of two to spare. Backends also keep per-row scratch of D
// values per worker. Models use 32 to 512.
constexpr int64_t kMaxHeadDim = int64_t{1} << 16;
// block_size: the pattern's blocks (and the reference backend's tile hint); builders and backends hold per-worker
// scratch of one block or tile. 2^20 keeps that at a few MiB and is still far above the 2^9 that the longest sequence
// (2^40) needs to stay within 2^31 blocks (int32 block indices). Real block sizes are 16 to 256.
constexpr int64_t kMaxBlockSize = int64_t{1} << 20;
// window_size, dilation: each <= 2^60 (the selector forms 2 * window_size + 1); sliding_window also needs
// window_size * dilation <= 2^60, beyond which a window covers any sequence anyway.
constexpr int64_t kMaxReach = int64_t{1} << 60;
// lsh_buckets: buckets are int32 and the projection R[head_dim][lsh_buckets / 2] is built per run; 2^20 is far
// beyond useful hashing (the projection's size is checked as a product too).
constexpr int64_t kMaxLshBuckets = int64_t{1} << 20;
// head_dim * lsh_buckets / 2: entries of that projection, each applied to every query and key row of a run; 2^24
// (64 MiB of fp32) allows e.g. 2^18 buckets at head_dim 128.
constexpr int64_t kMaxLshProjection = int64_t{1} << 24;
// landmark_iters: each k-means round is a full pass over K for every landmark; rounds converge within tens, and 2^10
// keeps a mistaken value from stalling a run for days.
constexpr int64_t kMaxLandmarkIters = int64_t{1} << 10;
// wrap = 1: the ring arithmetic multiplies two numbers below kv_len (a step and a modular inverse), so ring windows
// need kv_len <= 2^31 for the product to stay below 2^62.
constexpr int64_t kMaxRingLength = int64_t{1} << 31;
// Tiles are addressed with int32 column indices.
constexpr int64_t kMaxTiles = INT32_MAX;

// "2^40" for a power of two, for messages.
std::string bound_text(int64_t bound) {
  int shift = 0;
  while (shift < 62 && (int64_t{1} << shift) < bound) ++shift;
  return (int64_t{1} << shift) == bound ? "2^" + std::to_string(shift) : std::to_string(bound);
}

void require_positive(int64_t value, const char* name) { require(value > 0, name, " must be > 0, got ", value); }
void require_non_negative(int64_t value, const char* name) { require(value >= 0, name, " must be >= 0, got ", value); }
void require_at_most(int64_t value, int64_t bound, const char* name) {
  require(value <= bound, name, " must be <= ", bound_text(bound), " (", bound, "), got ", value);
}
// A size: in [1, bound].
void require_size(int64_t value, int64_t bound, const char* name) {
  require_positive(value, name);
  require_at_most(value, bound, name);
}
// A parameter: in [0, bound] (0 = not set or the default).
void require_param(int64_t value, int64_t bound, const char* name) {
  require_non_negative(value, name);
  require_at_most(value, bound, name);
}

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
  require_size(d.batch, kMaxCount, "batch");
  require_size(d.num_q_heads, kMaxCount, "num_q_heads");
  require_size(d.num_kv_heads, kMaxCount, "num_kv_heads");
  require_size(d.q_len, kMaxCount, "q_len");
  require_size(d.kv_len, kMaxCount, "kv_len");
  require_size(d.head_dim, kMaxHeadDim, "head_dim");
  require_size(d.head_dim_v, kMaxHeadDim, "head_dim_v");
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

  // Every parameter is bounded whether or not the pattern uses it: the selector reads several of them before the
  // pattern is known, and a value that is refused only by some patterns would be a trap.
  const sattn_pattern_params& p = d.params;
  require_param(p.window_size, kMaxReach, "params.window_size");
  require_param(p.dilation, kMaxReach, "params.dilation");
  require(p.wrap == 0 || p.wrap == 1, "params.wrap must be 0 or 1, got ", p.wrap);
  require_param(p.global_tokens, kMaxCount, "params.global_tokens");
  require_param(p.block_size, kMaxBlockSize, "params.block_size");
  require(std::isfinite(p.keep_ratio) && p.keep_ratio >= 0.0f && p.keep_ratio <= 1.0f,
          "params.keep_ratio must be in (0, 1] (0 = not set), got ", p.keep_ratio);
  require_param(p.topk_blocks, kMaxCount, "params.topk_blocks");
  require_param(p.local_blocks, kMaxCount, "params.local_blocks");
  require_param(p.comp_block_size, kMaxCount, "params.comp_block_size");
  require_param(p.nm_n, kMaxCount, "params.nm_n");
  require_param(p.nm_m, kMaxCount, "params.nm_m");
  require_param(p.topk_k, kMaxCount, "params.topk_k");
  require_param(p.lsh_buckets, kMaxLshBuckets, "params.lsh_buckets");
  require_param(p.num_landmarks, kMaxCount, "params.num_landmarks");
  require_param(p.landmark_iters, kMaxLandmarkIters, "params.landmark_iters");
  // lsh_seed: any 64-bit value.
  require_quant_scale(p.scale_q, "scale_q");
  require_quant_scale(p.scale_k, "scale_k");
  require_quant_scale(p.scale_v, "scale_v");
  for (size_t i = 0; i < std::size(p.reserved); ++i)
    require(p.reserved[i] == 0, "params.reserved[", i, "] is ", p.reserved[i],
            " but must be zero: a newer header set a parameter this library does not know");
}

namespace {

void require_tile_count_fits(int64_t length, int64_t tile, const char* what) {
  require(ceil_div(length, tile) <= kMaxTiles, what, " (", length, ") in blocks of ", tile,
          " gives more than 2^31 - 1 blocks; use a larger params.block_size");
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
      require(p.window_size >= 1, "sliding_window needs params.window_size >= 1 (0 = not set), got ", p.window_size);
      require(p.dilation >= 1, "sliding_window needs params.dilation >= 1, got ", p.dilation);
      // Beyond 2^60 a window covers any sequence anyway; the bound keeps position arithmetic far from overflow.
      require(checked_mul(p.window_size, p.dilation, "params.window_size * params.dilation") <= kMaxReach,
              "params.window_size * params.dilation must be <= 2^60, got ", p.window_size, " * ", p.dilation);
      require(p.wrap == 0 || d.kv_len <= kMaxRingLength, "sliding_window with params.wrap = 1 needs kv_len <= 2^31 (",
              kMaxRingLength, "), got ", d.kv_len);
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
      // Both factors are bounded, so the product cannot overflow.
      require(d.head_dim * (p.lsh_buckets / 2) <= kMaxLshProjection,
              "lsh needs head_dim * params.lsh_buckets / 2 <= 2^24 (the projection built per run), got ", d.head_dim,
              " * ", p.lsh_buckets / 2);
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
  // Blocks of the pattern are indexed with int32 (block lists, block masks); the layout's tiles, whose shape the
  // backend chooses, are checked the same way when the plan asks the backend for them.
  if (p.block_size > 0) {
    require_tile_count_fits(d.q_len, p.block_size, "q_len");
    require_tile_count_fits(d.kv_len, p.block_size, "kv_len");
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
  require((prefs.flags & ~SATTN_PREF_STRICT) == 0u, "prefs.flags 0x", std::hex, prefs.flags & ~SATTN_PREF_STRICT,
          std::dec, " are not known to this library");

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
