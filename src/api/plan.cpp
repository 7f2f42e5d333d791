#include "api/plan.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "core/checked_math.hpp"
#include "core/names.hpp"
#include "core/descriptor.hpp"
#include "core/env.hpp"
#include "core/error.hpp"
#include "core/run_args.hpp"
#include "layout/rules.hpp"

sattn_plan::~sattn_plan() {
  if (backend != nullptr && state != nullptr) backend->ops->plan_destroy(state);
}

size_t sattn_plan::plan_bytes() const { return sizeof(*this) + (static_layout ? static_layout->memory_bytes() : 0); }

int64_t sattn_plan::num_spans() const { return static_layout ? static_layout->num_spans() : 0; }

namespace sattn {
namespace {

// The status and message a backend gave through host_api().set_error.
[[noreturn]] void rethrow_backend_failure(sattn_status status, const char* backend, const char* action) {
  const std::string detail = last_error();
  fail(status, "backend ", backend, " ", action, ": ", detail.empty() ? sattn_status_string(status) : detail);
}

bool backend_supports(const BackendEntry& entry, const sattn_problem& problem, std::string& why) {
  const sattn_backend_ops& ops = *entry.ops;
  const sattn_attention_desc& d = *problem.desc;
  if (!entry.available) {
    why = std::string(ops.name) + ": not available on this machine";
    return false;
  }
  if ((ops.pattern_mask & (1u << d.pattern)) == 0u) {
    why = std::string(ops.name) + ": does not implement pattern " + pattern_name(d.pattern);
    return false;
  }
  if ((ops.precision_mask & (1u << d.precision)) == 0u) {
    why = std::string(ops.name) + ": does not implement precision " + precision_name(d.precision);
    return false;
  }
  // The host builds data-dependent layouts from the run's tensors, so it would have to read device memory.
  if (layout_depends_on_run(d.pattern) && ops.device_type != SATTN_DEVICE_CPU &&
      (ops.flags & SATTN_BACKEND_SELECTS_ON_DEVICE) == 0u) {
    why = std::string(ops.name) + ": pattern " + pattern_name(d.pattern) +
          " selects from the tensors, which live on its device, and it does not select on the device";
    return false;
  }
  clear_last_error();
  const sattn_status status = entry.ops->supports(&problem);
  if (status == SATTN_OK) return true;
  why = std::string(entry.ops->name) + ": " + (last_error()[0] ? last_error() : sattn_status_string(status));
  return false;
}

const BackendEntry& choose_backend(const sattn_problem& problem, const sattn_plan_prefs* prefs, std::string& reason) {
  Registry& registry = Registry::instance();
  std::string named = env::text("SATTN_BACKEND").value_or("");
  const char* source = "SATTN_BACKEND";
  if (named.empty() && prefs != nullptr && prefs->backend != nullptr) {
    named = prefs->backend;
    source = "prefs.backend";
  }
  const bool strict = prefs != nullptr && (prefs->flags & SATTN_PREF_STRICT) != 0;
  std::string fallback_note;
  if (!named.empty()) {
    const BackendEntry* entry = registry.find(named);
    std::string names;
    for (const BackendEntry* e : registry.entries()) names += std::string(names.empty() ? "" : ", ") + e->ops->name;
    if (entry == nullptr)
      fail(SATTN_ERROR_BACKEND_UNAVAILABLE, source, " names backend '", named,
           "', which is not registered (known: ", names, ")");
    std::string why;
    if (backend_supports(*entry, problem, why)) {
      reason = std::string("backend ") + entry->ops->name + " named by " + source;
      return *entry;
    }
    if (strict || !entry->available)
      fail(entry->available ? SATTN_ERROR_NOT_SUPPORTED : SATTN_ERROR_BACKEND_UNAVAILABLE, why);
    fallback_note = "; " + why + ", fell back";
  }
  const BackendEntry* best = nullptr;
  double best_cost = 0.0;
  std::string refusals;
  for (const BackendEntry* entry : registry.entries()) {
    std::string why;
    if (!backend_supports(*entry, problem, why)) {
      refusals += "; " + why;
      continue;
    }
    const double cost = entry->ops->cost(&problem);
    if (best == nullptr || cost < best_cost) {
      best = entry;
      best_cost = cost;
    }
  }
  if (best == nullptr) fail(SATTN_ERROR_NOT_SUPPORTED, "no backend supports this problem", refusals);
  std::ostringstream text;
  text << "backend " << best->ops->name << " is the cheapest that supports it (estimated " << best_cost << " s)"
       << fallback_note;
  reason = text.str();
  return *best;
}

// Density of a data-dependent pattern before its layout exists (get_stats has the exact value after a run).
double estimate_density(const sattn_problem& problem) {
  const sattn_attention_desc& d = *problem.desc;
  const sattn_pattern_params& p = d.params;
  const double causal_share = is_causal(d) ? 0.5 : 1.0;
  const double lk = static_cast<double>(d.kv_len);
  switch (d.pattern) {
    case SATTN_PATTERN_BLOCK_TOPK: {
      const double blocks = static_cast<double>(ceil_div(d.kv_len, p.block_size));
      const double kept = p.topk_blocks > 0 ? static_cast<double>(p.topk_blocks)
                                            : std::ceil(static_cast<double>(p.keep_ratio) * blocks * causal_share);
      return std::min(
          1.0,
          (kept + 1.0 + std::ceil(static_cast<double>(p.global_tokens) / static_cast<double>(p.block_size))) / blocks);
    }
    case SATTN_PATTERN_NM_STRUCTURED:
      return causal_share * static_cast<double>(p.nm_n) / static_cast<double>(p.nm_m);
    case SATTN_PATTERN_TOPK_PER_QUERY:
      return std::min(causal_share, static_cast<double>(p.topk_k) / lk);
    case SATTN_PATTERN_LSH:
      return std::min(1.0, causal_share / static_cast<double>(p.lsh_buckets) + 1.0 / lk);
    case SATTN_PATTERN_LANDMARK:
      return static_cast<double>(p.num_landmarks) / lk;
    default:
      return causal_share;  // block_mask: unknown until the mask is seen
  }
}

void fill_estimates(sattn_plan& plan) {
  const sattn_attention_desc& d = plan.desc;
  plan.density_estimate = plan.static_layout ? plan.static_layout->density() : estimate_density(plan.problem);
  const double pairs = static_cast<double>(d.batch) * static_cast<double>(d.num_q_heads) *
                       static_cast<double>(d.q_len) * static_cast<double>(d.kv_len);
  plan.flops_estimate = 2.0 * pairs * plan.density_estimate * static_cast<double>(d.head_dim + d.head_dim_v);
  const double elem = d.dtype == SATTN_DTYPE_F32 ? 4.0 : 2.0;
  const double q_rows = static_cast<double>(d.batch * d.num_q_heads * d.q_len);
  const double k_rows = static_cast<double>(d.batch * d.num_kv_heads * d.kv_len);
  plan.bytes_estimate = elem * (q_rows * static_cast<double>(d.head_dim + d.head_dim_v) +
                                k_rows * static_cast<double>(d.head_dim + d.head_dim_v));
}

// make_layout, with an out-of-memory failure that says what was being built and roughly how much it needed.
std::unique_ptr<sattn_layout> make_layout_or_explain(const sattn_problem& problem, const sattn_run_args* args) {
  try {
    return make_layout(problem, args, problem.num_threads);
  } catch (const std::bad_alloc&) {
    const sattn_attention_desc& d = *problem.desc;
    const double q_tiles = std::ceil(static_cast<double>(d.q_len) / static_cast<double>(problem.tile_q));
    const double k_tiles = std::ceil(static_cast<double>(d.kv_len) / static_cast<double>(problem.tile_k));
    double bytes = q_tiles * 4.0 * sizeof(sattn_tile_span);  // analytic: a few spans per query tile
    if (layout_depends_on_run(d.pattern)) {
      // fp32 copies of Q and K for the selection, then at worst every tile of every row with a bit mask
      const double rows = static_cast<double>(d.batch) * static_cast<double>(d.num_q_heads) * q_tiles;
      bytes = 4.0 * static_cast<double>(d.batch) *
                  (static_cast<double>(d.num_q_heads * d.q_len) + static_cast<double>(d.num_kv_heads * d.kv_len)) *
                  static_cast<double>(d.head_dim) +
              rows * k_tiles * (sizeof(sattn_tile_span) + static_cast<double>(problem.tile_q * problem.tile_k) / 8.0);
    }
    std::ostringstream text;
    text << "out of host memory building the block layout of pattern " << pattern_name(d.pattern) << " (" << d.batch
         << " x " << d.num_q_heads << " heads, " << q_tiles << " query tiles x " << k_tiles << " key tiles of "
         << problem.tile_q << " x " << problem.tile_k << "; up to " << bytes / 1e9 << " GB)";
    fail(SATTN_ERROR_OUT_OF_MEMORY, text.str());
  }
}

// The backend's tile shape for the problem (64 x 64 when it does not say), checked.
void choose_tile_shape(const sattn_backend_ops& ops, sattn_problem& problem) {
  int64_t tile_q = 64, tile_k = 64;
  if (ops.tile_shape != nullptr) ops.tile_shape(&problem, &tile_q, &tile_k);
  constexpr int64_t kMaxTile = 65536;
  if (tile_q < 1 || tile_q > kMaxTile || tile_k < 1 || tile_k > kMaxTile)
    fail(SATTN_ERROR_INTERNAL, "backend ", ops.name, " asked for tiles of ", tile_q, " x ", tile_k,
         " (each must be in [1, ", kMaxTile, "])");
  const sattn_attention_desc& d = *problem.desc;
  const int64_t attended = d.pattern == SATTN_PATTERN_LANDMARK ? d.params.num_landmarks : d.kv_len;
  require(ceil_div(d.q_len, tile_q) <= INT32_MAX && ceil_div(attended, tile_k) <= INT32_MAX, "q_len ", d.q_len,
          " and kv_len ", attended, " give more than 2^31 tiles of ", tile_q, " x ", tile_k);
  problem.tile_q = tile_q;
  problem.tile_k = tile_k;
}

}  // namespace

std::unique_ptr<sattn_plan> create_plan(const sattn_attention_desc* desc, const sattn_plan_prefs* prefs) {
  const ResolvedProblem resolved = resolve_problem(desc, prefs);
  auto plan = std::make_unique<sattn_plan>();
  plan->desc = resolved.desc;
  plan->problem = resolved.problem();
  plan->problem.desc = &plan->desc;
  std::string backend_reason;
  const BackendEntry& backend = choose_backend(plan->problem, prefs, backend_reason);
  plan->reason = resolved.reason + "; " + backend_reason;
  choose_tile_shape(*backend.ops, plan->problem);
  // A static layout is built with O(1) work per query row (exact kept pairs, spans per query tile): 2^30 rows take
  // about half a minute on two cores, so longer queries would stall plan creation rather than fail.
  constexpr int64_t kMaxStaticRows = int64_t{1} << 30;
  if (!layout_depends_on_run(plan->desc.pattern) && plan->desc.q_len > kMaxStaticRows)
    fail(SATTN_ERROR_NOT_SUPPORTED, "pattern ", pattern_name(plan->desc.pattern), " builds its layout per query row at",
         " plan time, for q_len up to 2^30; got q_len ", plan->desc.q_len);
  if (!layout_depends_on_run(plan->desc.pattern)) plan->static_layout = make_layout_or_explain(plan->problem, nullptr);

  if (layout_depends_on_run(plan->desc.pattern))
    plan->backend_selects = (backend.ops->flags & SATTN_BACKEND_SELECTS_ON_DEVICE) != 0u ||
                            (backend.ops->selects_itself != nullptr && backend.ops->selects_itself(&plan->problem) == 1);

  clear_last_error();
  void* state = nullptr;
  const sattn_status status = backend.ops->plan_create(&plan->problem, plan->static_layout.get(), &state);
  if (status != SATTN_OK) rethrow_backend_failure(status, backend.ops->name, "could not plan");
  plan->backend = &backend;
  plan->state = state;
  plan->backend_name = backend.ops->name;
  const char* kernel = backend.ops->kernel_name(state);
  plan->kernel = kernel != nullptr ? kernel : "";
  plan->backend_workspace = backend.ops->workspace_size(state);
  fill_estimates(*plan);
  plan->stats = SATTN_PLAN_STATS_INIT;
  plan->stats.simulated_cycles = plan->stats.instructions = -1;
  plan->stats.energy_pj = -1.0;
  return plan;
}

sattn_run_args check_run_args_for(const sattn_plan& plan, const sattn_run_args* user_args) {
  const sattn_backend_ops& ops = *plan.backend->ops;
  const sattn_run_args args = check_run_args(plan.problem, ops.device_type, user_args);
  clear_last_error();
  if (const sattn_status status = ops.can_implement(plan.state, &args); status != SATTN_OK)
    rethrow_backend_failure(status, ops.name, "cannot run these tensors");
  return args;
}

void run_plan(const sattn_plan& plan, const sattn_run_args* user_args, void* workspace, size_t workspace_bytes,
              void* stream) {
  const sattn_backend_ops& ops = *plan.backend->ops;
  const sattn_run_args args = check_run_args_for(plan, user_args);

  const size_t needed = plan.workspace_size();
  if (workspace_bytes < needed)
    fail(SATTN_ERROR_WORKSPACE_TOO_SMALL, "workspace of ", workspace_bytes, " bytes is smaller than the ", needed,
         " bytes sattn_plan_workspace_size asks for");
  require(needed == 0 || workspace != nullptr, "workspace is NULL but the plan needs ", needed, " bytes");
  void* aligned = workspace;
  if (needed > 0) {
    size_t space = workspace_bytes;  // needed includes 64 bytes of slack, so std::align always succeeds
    std::align(64, plan.backend_workspace, aligned, space);
  }

  std::unique_ptr<sattn_layout> run_layout;
  const sattn_layout* layout = plan.static_layout.get();
  if (layout == nullptr && !plan.backend_selects) {
    run_layout = make_layout_or_explain(plan.problem, &args);
    layout = run_layout.get();
  }
  sattn_run_counters counters{sizeof(sattn_run_counters), 0u, -1, -1, -1.0, -1};
  clear_last_error();
  if (const sattn_status status =
          ops.run(plan.state, &args, layout, aligned, plan.backend_workspace, stream, &counters);
      status != SATTN_OK)
    rethrow_backend_failure(status, ops.name, "failed");

  std::lock_guard<std::mutex> lock(plan.stats_mutex);
  ++plan.stats.runs;
  if (layout != nullptr) {
    plan.stats.kept_pairs = layout->kept_pairs;
    plan.stats.density = layout->density();
  } else if (counters.kept_pairs >= 0) {  // the backend selected and counted
    const sattn_attention_desc& d = plan.desc;
    plan.stats.kept_pairs = counters.kept_pairs;
    plan.stats.density = static_cast<double>(counters.kept_pairs) /
                         (static_cast<double>(d.batch) * static_cast<double>(d.num_q_heads) *
                          static_cast<double>(d.q_len) * static_cast<double>(d.kv_len));
  }
  plan.stats.simulated_cycles = counters.simulated_cycles;
  plan.stats.instructions = counters.instructions;
  plan.stats.energy_pj = counters.energy_pj;
}

}  // namespace sattn
