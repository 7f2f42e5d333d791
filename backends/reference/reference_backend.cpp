// The built-in exact backend "reference": every pattern, precision, stride and GQA shape, computed row by row from
// the core's block layout. Correctness modes and tests hold every other backend to it, so clarity wins over speed
// here. It is built like a plugin: only the public headers, the host API for everything it shares with the core.
#include <sattn_backend.h>
#include <sattn_kernels.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

#include "reference_attention.hpp"
#include "reference_host.hpp"
#include "reference_operands.hpp"

namespace sattn_reference {

const sattn_host_api* host = nullptr;

namespace {

struct Plan {
  sattn_attention_desc desc;  // the plan's own copy: problem.desc points here
  sattn_problem problem;
  std::string kernel;
  size_t workspace;
};

int probe() { return 1; }

sattn_status supports(const sattn_problem*) { return SATTN_OK; }

// Rough seconds at a few GFLOP/s; only compared against other backends' estimates.
double cost(const sattn_problem* problem) {
  const sattn_attention_desc& d = *problem->desc;
  const double pairs = static_cast<double>(d.batch) * static_cast<double>(d.num_q_heads) *
                       static_cast<double>(d.q_len) * static_cast<double>(d.kv_len);
  return 2.0 * pairs * static_cast<double>(d.head_dim + d.head_dim_v) / 4e9;
}

// Tiles of the pattern's own block size where it has one (so block patterns need no masks), else 64 x 64; wider
// where a sequence would otherwise need more than 2^31 - 1 tiles (layouts index tiles with int32).
void tile_shape(const sattn_problem* problem, int64_t* tile_q, int64_t* tile_k) {
  const sattn_attention_desc& d = *problem->desc;
  const int64_t block = d.params.block_size;
  const int64_t longest = std::max(d.q_len, d.kv_len);
  const int64_t needed = (longest + INT32_MAX - 1) / INT32_MAX;  // the narrowest tile that keeps the count in int32
  *tile_q = *tile_k = std::clamp<int64_t>(std::max(block > 0 && block <= 65536 ? block : 64, needed), 1, 65536);
}

// Keys the kernel attends: the landmarks for landmark attention, else the run's keys.
int64_t attended_kv_rows(const sattn_attention_desc& d) {
  return d.pattern == SATTN_PATTERN_LANDMARK ? d.params.num_landmarks : d.kv_len;
}

sattn_status plan_create(const sattn_problem* problem, const sattn_layout*, void** state) {
  return boundary([&] {
    auto plan = std::make_unique<Plan>();
    plan->desc = *problem->desc;
    plan->problem = *problem;
    plan->problem.desc = &plan->desc;
    plan->kernel = std::string("reference_rowwise_") + sattn_precision_name(plan->desc.precision);
    plan->workspace = operands_workspace(plan->problem, attended_kv_rows(plan->desc));
    *state = plan.release();
  });
}

void plan_destroy(void* state) { delete static_cast<Plan*>(state); }

const char* kernel_name(const void* state) { return static_cast<const Plan*>(state)->kernel.c_str(); }

size_t workspace_size(const void* state) { return static_cast<const Plan*>(state)->workspace; }

sattn_status can_implement(const void*, const sattn_run_args*) { return SATTN_OK; }

sattn_status run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace, size_t,
                 void*, sattn_run_counters*) {
  return boundary([&] {
    const Plan& plan = *static_cast<const Plan*>(state);
    if (layout == nullptr) throw Failure{SATTN_ERROR_INTERNAL, "reference backend: the core passed no layout"};
    sattn_layout_view view{};
    view.struct_size = sizeof view;
    check(host->get_layout_view(layout, &view));
    const Operands operands =
        prepare_operands(plan.problem, *args, view.keys, view.values, attended_kv_rows(plan.desc), workspace);
    run_attention(plan.problem, view, operands, *args);
  });
}

constexpr uint32_t kAllPatterns = ((1u << SATTN_PATTERN_COUNT) - 1u) & ~(1u << SATTN_PATTERN_AUTO);
constexpr uint32_t kAllPrecisions = (1u << (SATTN_PRECISION_INT4 + 1)) - 1u;

const sattn_backend_ops kOps{sizeof(sattn_backend_ops),
                             SATTN_BACKEND_ABI_VERSION,
                             "reference",
                             "exact row-wise attention: every pattern and precision; what other backends are tested "
                             "against",
                             SATTN_DEVICE_CPU,
                             0u,
                             kAllPatterns,
                             kAllPrecisions,
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
                             nullptr};  // selects_itself: the core builds every layout

}  // namespace
}  // namespace sattn_reference

extern "C" const sattn_backend_ops* sattn_reference_backend_entry(uint32_t abi, const sattn_host_api* api) {
  if (abi != SATTN_BACKEND_ABI_VERSION || api == nullptr || api->struct_size < sizeof(sattn_host_api)) return nullptr;
  sattn_reference::host = api;
  return &sattn_reference::kOps;
}
