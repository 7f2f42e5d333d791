// The built-in fast CPU backend "cpu": a flash-style tiled kernel over the core's block layout (cpu_kernel.inc),
// built for several instruction sets and dispatched at plan time (cpu_isa.cpp), for every pattern and precision;
// top-k per query, N:M and lsh are selected by the kernel itself at the float precisions.
// Built like a plugin: only the public headers, the host API for everything it shares with the core.
#include <sattn_backend.h>
#include <sattn_kernels.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cpu_host.hpp"
#include "cpu_isa.hpp"
#include "cpu_kernel.hpp"
#include "cpu_lsh.hpp"
#include "cpu_quantized.hpp"

namespace sattn_cpu {

const sattn_host_api* host = nullptr;

namespace {

struct Plan {
  sattn_attention_desc desc;  // the plan's own copy: problem.desc points here
  sattn_problem problem;
  std::string kernel;
  TaskFn run_task;
  PackFn pack_kv_tile;
  int64_t slot_floats;         // scratch of one worker
  int64_t slots;               // workers that may run at once, each with its own slot of the workspace
  int64_t pair_floats = 0;     // packed K/V of one (batch, kv head) pair; 0: tasks pack their own tiles
  int64_t chunk_pairs = 0;     // pairs packed at once into the workspace
  size_t quantized_bytes = 0;  // int8/int4: the quantised operands (cpu_quantized.hpp), after the rest
  int32_t selecting = 0;       // the pattern whose selection the kernel makes (layout NULL in run), or 0
  SelectionScratch selection;
  int64_t task_counters = 0;  // selecting plans: kept pairs per task (int64), after the quantised operands
  LshHashFn hash_lsh_rows;
  std::vector<float> lsh_projection_t;  // lsh selected by the kernel: R^T [nb/2][D]
  size_t lsh_bytes = 0;                 // and its per-run tables (cpu_lsh.hpp), last in the workspace
  // Keys split across tasks (KernelParams::splits): ranges per (pair, query tile), key tiles per range, rows of a
  // (pair, query tile); the partial results and the ranges' counters follow the packed pairs in the workspace.
  int64_t splits = 1, split_tiles = 0, partial_rows = 0, partial_floats = 0, split_counters = 0;
};

// Packed K/V a run may hold at once. Packing every key tile once per run, instead of once per query tile that reads
// it, takes the conversion and transposition out of the attention loop; the budget bounds the workspace for long
// sequences (the pairs are packed and attended chunk by chunk).
constexpr int64_t kPackBudgetBytes = int64_t{64} << 20;

// The fewest key tiles a split range of a decode run holds: shorter ranges would spend more on loading their rows and
// merging than they save.
constexpr int64_t kMinSplitTiles = 4;

int probe() { return 1; }

sattn_status supports(const sattn_problem* problem) {
  const sattn_attention_desc& d = *problem->desc;
  if (d.dtype != SATTN_DTYPE_F32 && d.dtype != SATTN_DTYPE_F16 && d.dtype != SATTN_DTYPE_BF16) {
    host->set_error("cpu backend: tensors of f32, f16 or bf16 only");
    return SATTN_ERROR_NOT_SUPPORTED;
  }
  if (sattn_is_integer_precision(d.precision) && d.head_dim > kMaxIntegerHeadDim) {
    host->set_error(("cpu backend: int8/int4 need head_dim <= " + std::to_string(kMaxIntegerHeadDim) +
                     " (fp32 sums those integer dot products exactly), not " + std::to_string(d.head_dim))
                        .c_str());
    return SATTN_ERROR_NOT_SUPPORTED;
  }
  const IsaChoice isa = choose_isa(*problem->desc);
  if (isa.run_task == nullptr) {
    host->set_error(isa.refusal.c_str());
    return SATTN_ERROR_NOT_SUPPORTED;
  }
  return SATTN_OK;
}

// The reference's estimate at ten times its speed: only compared with other backends' estimates, and what the
// cpu backend supports it should win.
double cost(const sattn_problem* problem) {
  const sattn_attention_desc& d = *problem->desc;
  const double pairs = static_cast<double>(d.batch) * static_cast<double>(d.num_q_heads) *
                       static_cast<double>(d.q_len) * static_cast<double>(d.kv_len);
  return 2.0 * pairs * static_cast<double>(d.head_dim + d.head_dim_v) / 4e10;
}

bool block_pattern(int32_t pattern) {
  return pattern == SATTN_PATTERN_BLOCK_TOPK || pattern == SATTN_PATTERN_BLOCK_LOCAL_GLOBAL ||
         pattern == SATTN_PATTERN_BLOCK_MASK;
}

// The selection the kernel makes itself at float precisions: top-k per query and N:M (cpu_select.inc) streamed over
// key tiles, nothing of size Lq x Lk (N:M needs whole groups in a tile, M <= 256; top-k holds about 3k candidates per
// row of a block, within kMaxCandidateBytes per worker); lsh by sorted buckets (cpu_lsh.hpp) where its projection fits
// kMaxLshProjectionFloats. Elsewhere the core builds the layout.
constexpr int64_t kMaxCandidateBytes = int64_t{32} << 20;

SelectionScratch selection_scratch(const sattn_attention_desc& d) {
  SelectionScratch selection;
  if (d.pattern == SATTN_PATTERN_TOPK_PER_QUERY)
    selection.candidates_per_row = topk_candidate_capacity(d.params.topk_k);
  // Selection scores come from a GEMM of their own on the inputs as given (rounding as the core's dot products),
  // never from the attention's rounded, scaled tile: see cpu_select.inc. (lsh hashes before the attention.)
  selection.own_operands = d.pattern != SATTN_PATTERN_LSH;
  return selection;
}

int selects_itself(const sattn_problem* problem) {
  const sattn_attention_desc& d = *problem->desc;
  if (sattn_is_integer_precision(d.precision)) return 0;
  if (d.pattern == SATTN_PATTERN_NM_STRUCTURED) return d.params.nm_m <= 256 ? 1 : 0;
  if (d.pattern == SATTN_PATTERN_LSH) return d.head_dim * (d.params.lsh_buckets / 2) <= kMaxLshProjectionFloats ? 1 : 0;
  if (d.pattern != SATTN_PATTERN_TOPK_PER_QUERY) return 0;
  const int64_t rows = (d.num_q_heads / d.num_kv_heads) * 64;  // a block of the 64-row query tiles
  if (d.params.topk_k > kMaxCandidateBytes) return 0;          // (also keeps the capacity's arithmetic in range)
  const double bytes = static_cast<double>(rows) * static_cast<double>(topk_candidate_capacity(d.params.topk_k)) * 12.0;
  return bytes <= static_cast<double>(kMaxCandidateBytes) ? 1 : 0;
}

// 64 x 64 tiles: a 64-key tile of K and V at D = 64 (32 KiB) stays in L1/L2 next to the stacked queries, and 64 is
// a multiple of every micro-kernel width. Block patterns get tiles of their block size when it is a multiple of 8 and
// at most 256, so every kept block is one FULL (or CAUSAL) tile instead of a bit mask cutting across tiles. Wider
// where a sequence would otherwise need more than 2^31 - 1 tiles (layouts index tiles with int32).
void tile_shape(const sattn_problem* problem, int64_t* tile_q, int64_t* tile_k) {
  const sattn_attention_desc& d = *problem->desc;
  const int64_t block = d.params.block_size;
  const bool use_block = block_pattern(d.pattern) && block > 0 && block % 8 == 0 && block <= 256;
  const int64_t needed = (std::max(d.q_len, d.kv_len) + INT32_MAX - 1) / INT32_MAX;
  *tile_q = *tile_k = std::clamp<int64_t>(std::max(use_block ? block : 64, needed), 1, 65536);
  // lsh selected in the kernel: blocks of G x 32 sorted rows (a block spans fewer positions, so causal masking
  // prunes more of its bucket's key tiles; 10-15% faster than 64 on the 2-core EPYC at L 2048-4096).
  if (d.pattern == SATTN_PATTERN_LSH && selects_itself(problem) == 1) *tile_q = std::max<int64_t>(32, needed);
  // N:M selected in the kernel: key tiles of whole groups (a multiple of M near 64).
  if (d.pattern == SATTN_PATTERN_NM_STRUCTURED && selects_itself(problem) == 1) {
    const int64_t m = d.params.nm_m;
    *tile_k = std::max(*tile_k, m * ((64 + m - 1) / m));
    *tile_k = (*tile_k + m - 1) / m * m;
  }
}

sattn_status plan_create(const sattn_problem* problem, const sattn_layout*, void** state) {
  return boundary([&] {
    const IsaChoice isa = choose_isa(*problem->desc);
    if (isa.run_task == nullptr) throw Failure{SATTN_ERROR_NOT_SUPPORTED, isa.refusal};
    auto plan = std::make_unique<Plan>();
    plan->desc = *problem->desc;
    plan->problem = *problem;
    plan->problem.desc = &plan->desc;
    const sattn_attention_desc& d = plan->desc;
    plan->kernel = std::string("cpu_flash_") + isa.name + "_" + sattn_precision_name(d.precision);
    plan->run_task = isa.run_task;
    plan->pack_kv_tile = isa.pack_kv_tile;
    plan->hash_lsh_rows = isa.hash_lsh_rows;
    plan->selecting = selects_itself(problem) == 1 ? d.pattern : 0;
    if (plan->selecting != 0) plan->selection = selection_scratch(d);
    plan->slot_floats = scratch_floats(problem->tile_q, problem->tile_k, d.num_q_heads / d.num_kv_heads, d.head_dim,
                                       d.head_dim_v, plan->selection);
    const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
    // More workers than cores never run at once, so a larger prefs.num_threads (up to INT32_MAX) gets no more slots:
    // the workspace stays a few tiles per core whatever the caller asks.
    plan->slots = problem->num_threads > 0 ? std::min<int64_t>(problem->num_threads, cores) : cores;
    // Pre-pack when key tiles are read by more than one query tile and one pair fits the budget; a single query tile
    // (decode) packs per task, which keeps every (batch, kv head) pair a parallel task.
    const int64_t keys = d.pattern == SATTN_PATTERN_LANDMARK ? d.params.num_landmarks : d.kv_len;
    const int64_t k_tiles = (keys + problem->tile_k - 1) / problem->tile_k;
    const int64_t q_tiles = (d.q_len + problem->tile_q - 1) / problem->tile_q;
    const int64_t pair_floats = k_tiles * packed_tile_floats(problem->tile_k, d.head_dim, d.head_dim_v);
    const int64_t pairs = d.batch * d.num_kv_heads;
    if (sattn_is_integer_precision(d.precision)) plan->quantized_bytes = quantized_workspace(d, keys);
    if (plan->selecting != 0) plan->task_counters = d.batch * d.num_kv_heads * q_tiles;
    if (plan->selecting == SATTN_PATTERN_LSH) {
      plan->lsh_projection_t = lsh_projection_t(d);
      plan->lsh_bytes = lsh_workspace(d);
    }
    if (q_tiles > 1 && pair_floats * static_cast<int64_t>(sizeof(float)) <= kPackBudgetBytes) {
      plan->pair_floats = pair_floats;
      plan->chunk_pairs = std::min(pairs, kPackBudgetBytes / static_cast<int64_t>(sizeof(float)) / pair_floats);
    }
    // Decode (one query tile, tiles packed per task) with fewer (batch, kv head) pairs than workers: one task per pair
    // would leave workers idle, so the keys are split into ranges of at least kMinSplitTiles tiles, about two tasks
    // per worker, merged by their maxima at the end.
    if (plan->pair_floats == 0 && plan->selecting == 0 && q_tiles == 1 && pairs < plan->slots) {
      const int64_t wanted = (2 * plan->slots + pairs - 1) / pairs;
      const int64_t splits = std::clamp<int64_t>(wanted, 1, std::max<int64_t>(1, k_tiles / kMinSplitTiles));
      if (splits > 1) {
        plan->split_tiles = (k_tiles + splits - 1) / splits;
        plan->splits = (k_tiles + plan->split_tiles - 1) / plan->split_tiles;  // no empty range
        plan->partial_rows = (d.num_q_heads / d.num_kv_heads) * std::min(problem->tile_q, d.q_len);
        const int64_t dv_pad = (d.head_dim_v + kColPad - 1) / kColPad * kColPad;
        plan->partial_floats = pairs * q_tiles * plan->splits * plan->partial_rows * (dv_pad + 2);
        plan->split_counters = pairs * q_tiles;
      }
    }
    *state = plan.release();
  });
}

void plan_destroy(void* state) { delete static_cast<Plan*>(state); }

const char* kernel_name(const void* state) { return static_cast<const Plan*>(state)->kernel.c_str(); }

// Scratch lives in the caller's workspace: one slot per worker, each sized by the tile (never by Lq x Lk).
size_t workspace_size(const void* state) {
  const Plan& plan = *static_cast<const Plan*>(state);
  return static_cast<size_t>(plan.slots * plan.slot_floats + plan.chunk_pairs * plan.pair_floats +
                             plan.partial_floats) *
             sizeof(float) +
         static_cast<size_t>(plan.split_counters) * sizeof(int64_t) + plan.quantized_bytes +
         static_cast<size_t>(plan.task_counters) * sizeof(int64_t) + plan.lsh_bytes;
}

sattn_status can_implement(const void*, const sattn_run_args*) { return SATTN_OK; }

// Runs attention blocks [begin, end) (block = pair * num_q_tiles + query tile; whole pairs), each as params.splits
// tasks (task = block * splits + key range), on the workers, each with its own scratch slot. The workers take tasks
// from a shared counter, last query tile of each pair first: under causal masking the last tiles are the longest, so
// the longest go first and the short ones fill in at the end (no worker idles while another still has several tasks
// queued, as a static split would leave it).
void attend_tasks(const Plan& plan, const KernelParams& params, float* scratch, int64_t begin, int64_t end) {
  const int64_t blocks = end - begin, q_tiles = params.view->num_q_tiles, pairs = blocks / q_tiles;
  const int64_t tasks = blocks * params.splits, slots = std::min(plan.slots, tasks);
  std::atomic<int64_t> next{0};
  parallel_for(slots, plan.problem.num_threads, 1, [&](int64_t first_slot, int64_t last_slot) {
    for (int64_t c = first_slot; c < last_slot; ++c)
      for (int64_t n = next.fetch_add(1, std::memory_order_relaxed); n < tasks;
           n = next.fetch_add(1, std::memory_order_relaxed)) {
        const int64_t block = n / params.splits, range = n % params.splits;
        const int64_t pair = begin / q_tiles + block % pairs, qt = q_tiles - 1 - block / pairs;
        plan.run_task(params, scratch + c * plan.slot_floats, (pair * q_tiles + qt) * params.splits + range);
      }
  });
}

sattn_status run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                 size_t workspace_bytes, void*, sattn_run_counters* counters) {
  return boundary([&] {
    const Plan& plan = *static_cast<const Plan*>(state);
    if (layout == nullptr && plan.selecting == 0)
      throw Failure{SATTN_ERROR_INTERNAL, "cpu backend: the core passed no layout"};
    if (workspace_bytes < workspace_size(state) || (workspace == nullptr && workspace_size(state) > 0))
      throw Failure{SATTN_ERROR_INVALID_ARGUMENT, "cpu backend: the workspace is smaller than workspace_size"};
    const sattn_attention_desc& desc = plan.desc;
    sattn_layout_view view{};
    view.struct_size = sizeof view;
    if (layout != nullptr) {
      check(host->get_layout_view(layout, &view));
    } else {  // the kernel selects: a view of the tile grid alone (no spans; every batch and head shares it)
      view.tile_q = plan.problem.tile_q;
      view.tile_k = plan.problem.tile_k;
      view.num_q_tiles = (desc.q_len + view.tile_q - 1) / view.tile_q;
      view.num_k_tiles = (desc.kv_len + view.tile_k - 1) / view.tile_k;
      view.q_len = desc.q_len;
      view.kv_len = desc.kv_len;
      view.batches = view.heads = view.head_divisor = 1;
    }
    if (view.tile_q != plan.problem.tile_q || view.tile_k != plan.problem.tile_k)  // the scratch is sized by them
      throw Failure{SATTN_ERROR_INTERNAL, "cpu backend: the layout's tiles differ from the plan's"};
    const sattn_attention_desc& d = plan.desc;
    KernelParams params{&view,          args->q, args->k,    args->v,      args->o, args->lse,   d.batch, d.num_q_heads,
                        d.num_kv_heads, d.q_len, d.head_dim, d.head_dim_v, d.scale, d.precision, nullptr, 0};
    float* scratch = static_cast<float*>(workspace);
    if (plan.selecting != 0) {
      params.selecting = plan.selecting;
      params.causal = (d.flags & SATTN_FLAG_CAUSAL) != 0u;
      params.topk_k = d.params.topk_k;
      params.nm_n = d.params.nm_n;
      params.nm_m = d.params.nm_m;
      params.selection = plan.selection;
      params.kept_per_task = reinterpret_cast<int64_t*>(static_cast<char*>(workspace) + workspace_size(state) -
                                                        plan.lsh_bytes - plan.task_counters * sizeof(int64_t));
      std::fill(params.kept_per_task, params.kept_per_task + plan.task_counters, int64_t{0});
    }
    LshTables lsh{};
    if (plan.selecting == SATTN_PATTERN_LSH) {
      // The workers' scratch slots serve the hash first (each holds far more than lsh_hash_scratch_floats).
      lsh = prepare_lsh(plan.problem, *args, plan.lsh_projection_t, plan.hash_lsh_rows,
                        LshScratch{scratch, plan.slot_floats, plan.slots},
                        static_cast<char*>(workspace) + workspace_size(state) - plan.lsh_bytes);
      params.lsh = &lsh;
    }
    sattn_tensor quantized[3];  // int8/int4: Q, K, V as the quantised integers; params points here
    if (plan.quantized_bytes > 0) {
      void* operands = static_cast<char*>(workspace) + (workspace_size(state) - plan.lsh_bytes -
                                                        plan.task_counters * sizeof(int64_t) - plan.quantized_bytes);
      prepare_quantized(plan.problem, *args, view, view.kv_len, operands, params, quantized);
    }
    const int64_t pairs = d.batch * d.num_kv_heads;
    if (plan.splits > 1 && view.num_k_tiles > 0) {  // the view's tiles are the plan's (checked above)
      params.splits = plan.splits;
      params.split_tiles = plan.split_tiles;
      params.partial_rows = plan.partial_rows;
      params.partials = scratch + plan.slots * plan.slot_floats;  // no packed pairs when splitting
      params.split_done = reinterpret_cast<int64_t*>(params.partials + plan.partial_floats);
      std::fill(params.split_done, params.split_done + plan.split_counters, int64_t{0});
    }
    if (plan.pair_floats == 0 ||
        view.num_k_tiles * packed_tile_floats(view.tile_k, d.head_dim, d.head_dim_v) != plan.pair_floats) {
      attend_tasks(plan, params, scratch, 0, pairs * view.num_q_tiles);
    } else {
      float* packed = scratch + plan.slots * plan.slot_floats;
      params.packed = packed;
      for (int64_t first = 0; first < pairs; first += plan.chunk_pairs) {
        const int64_t chunk = std::min(plan.chunk_pairs, pairs - first);
        params.packed_first_pair = first;
        const int64_t tiles_per_pair = view.num_k_tiles, tile_floats = plan.pair_floats / tiles_per_pair;
        parallel_for(chunk * tiles_per_pair, plan.problem.num_threads, 4, [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t)
            plan.pack_kv_tile(params, first + t / tiles_per_pair, t % tiles_per_pair, packed + t * tile_floats);
        });
        attend_tasks(plan, params, scratch, first * view.num_q_tiles, (first + chunk) * view.num_q_tiles);
      }
    }
    // The core counts kept pairs from its layout; a selecting run reports its own (in counters of a core that knows
    // the field).
    if (plan.selecting != 0 && counters != nullptr &&
        counters->struct_size >= offsetof(sattn_run_counters, kept_pairs) + sizeof(int64_t)) {
      int64_t kept = 0;
      for (int64_t t = 0; t < plan.task_counters; ++t) kept += params.kept_per_task[t];
      counters->kept_pairs = kept;
    }
  });
}

constexpr uint32_t kAllPatterns = ((1u << SATTN_PATTERN_COUNT) - 1u) & ~(1u << SATTN_PATTERN_AUTO);
constexpr uint32_t kPrecisions = (1u << SATTN_PRECISION_FP32) | (1u << SATTN_PRECISION_BF16) |
                                 (1u << SATTN_PRECISION_FP16) | (1u << SATTN_PRECISION_INT8) |
                                 (1u << SATTN_PRECISION_INT4);

const sattn_backend_ops kOps{sizeof(sattn_backend_ops),
                             SATTN_BACKEND_ABI_VERSION,
                             "cpu",
                             "flash-style tiled SIMD attention (AMX, AVX-512 with or without its dot-product "
                             "instructions, AVX2 or portable, chosen at plan time): every pattern and precision",
                             SATTN_DEVICE_CPU,
                             0u,
                             kAllPatterns,
                             kPrecisions,
                             probe,
                             supports,
                             cost,
                             tile_shape,
                             plan_create,
                             plan_destroy,
                             kernel_name,
                             workspace_size,
                             can_implement,
                             run,
                             selects_itself};

}  // namespace
}  // namespace sattn_cpu

extern "C" const sattn_backend_ops* sattn_cpu_backend_entry(uint32_t abi, const sattn_host_api* api) {
  if (abi != SATTN_BACKEND_ABI_VERSION || api == nullptr || api->struct_size < sizeof(sattn_host_api)) return nullptr;
  sattn_cpu::host = api;
  return &sattn_cpu::kOps;
}
