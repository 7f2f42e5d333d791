// The built-in exact CPU backend: every pattern, precision, stride and GQA shape, computed from the core's block
// layout. It is the reference other backends are tested against, so clarity wins over speed here.
#include <sattn_backend.h>

#include <string>

#include "core/error.hpp"
#include "core/names.hpp"
#include "core/parallel.hpp"
#include "cpu_attention.hpp"
#include "cpu_operands.hpp"
#include "registry/registry.hpp"

namespace sattn::cpu {
namespace {

struct CpuPlan {
  sattn_problem problem;
  std::string kernel;
  size_t workspace;
};

int cpu_probe() { return 1; }

sattn_status cpu_supports(const sattn_problem*) { return SATTN_OK; }

// Rough seconds at a few GFLOP/s per core; only compared against other backends' estimates.
double cpu_cost(const sattn_problem* problem) {
  const sattn_attention_desc& d = problem->desc;
  const double pairs = static_cast<double>(d.batch) * static_cast<double>(d.num_q_heads) *
                       static_cast<double>(d.q_len) * static_cast<double>(d.kv_len);
  return 2.0 * pairs * static_cast<double>(d.head_dim + d.head_dim_v) / 4e9;
}

// Keys the kernel attends: the landmarks for landmark attention, else the run's keys.
int64_t attended_kv_rows(const sattn_problem& problem) {
  return problem.desc.pattern == SATTN_PATTERN_LANDMARK ? problem.desc.params.num_landmarks : problem.desc.kv_len;
}

sattn_status cpu_plan_create(const sattn_problem* problem, void** state) {
  return guarded([&] {
    auto plan = std::make_unique<CpuPlan>();
    plan->problem = *problem;
    plan->kernel = std::string("cpu_exact_rowwise_") + precision_name(problem->desc.precision) +
                   (parallel_runtime_available() ? "_tbb" : "_serial");
    plan->workspace = operands_workspace(*problem, attended_kv_rows(*problem));
    *state = plan.release();
  });
}

void cpu_plan_destroy(void* state) { delete static_cast<CpuPlan*>(state); }

const char* cpu_kernel_name(const void* state) { return static_cast<const CpuPlan*>(state)->kernel.c_str(); }

size_t cpu_workspace_size(const void* state) { return static_cast<const CpuPlan*>(state)->workspace; }

sattn_status cpu_can_implement(const void*, const sattn_run_args*) { return SATTN_OK; }

sattn_status cpu_run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace, size_t,
                     void*, sattn_run_counters*) {
  return guarded([&] {
    const CpuPlan& plan = *static_cast<const CpuPlan*>(state);
    require(layout != nullptr, "the cpu backend needs the core's block layout");
    const Operands operands =
        prepare_operands(plan.problem, *args, layout->derived_keys.empty() ? nullptr : layout->derived_keys.data(),
                         layout->derived_values.empty() ? nullptr : layout->derived_values.data(),
                         attended_kv_rows(plan.problem), workspace);
    run_attention(plan.problem, *layout, operands, *args);
  });
}

constexpr uint32_t kAllPatterns = (1u << SATTN_PATTERN_COUNT) - 1u;
constexpr uint32_t kAllPrecisions = (1u << (SATTN_PRECISION_INT4 + 1)) - 1u;

}  // namespace
}  // namespace sattn::cpu

namespace sattn {

const sattn_backend_ops* cpu_backend_ops() {
  static const sattn_backend_ops ops{
      sizeof(sattn_backend_ops),
      SATTN_BACKEND_ABI_VERSION,
      "cpu",
      "exact CPU reference: every pattern and precision (oneTBB threads when built with it)",
      SATTN_DEVICE_CPU,
      0u,
      cpu::kAllPatterns,
      cpu::kAllPrecisions,
      cpu::cpu_probe,
      cpu::cpu_supports,
      cpu::cpu_cost,
      cpu::cpu_plan_create,
      cpu::cpu_plan_destroy,
      cpu::cpu_kernel_name,
      cpu::cpu_workspace_size,
      cpu::cpu_can_implement,
      cpu::cpu_run};
  return &ops;
}

}  // namespace sattn
