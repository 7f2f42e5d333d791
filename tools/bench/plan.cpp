#include "plan.hpp"

namespace sattn_bench {

void check(sattn_status status, std::string_view action) {
  if (status == SATTN_OK) return;
  throw SattnError(status, std::string(action) + ": " + sattn_status_string(status) + ": " + sattn_last_error());
}

Plan::Plan(const sattn_attention_desc& desc, const std::string& backend, int threads) {
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  if (!backend.empty()) {
    prefs.backend = backend.c_str();
    prefs.flags |= SATTN_PREF_STRICT;
  }
  prefs.num_threads = threads;
  check(sattn_plan_create(&desc, &prefs, &plan_), "sattn_plan_create");
}

Plan::~Plan() { sattn_plan_destroy(plan_); }

void Plan::run(const sattn_run_args& args) {
  if (!prepared_) {
    check(sattn_plan_can_implement(plan_, &args), "sattn_plan_can_implement");
    size_t bytes = 0;
    check(sattn_plan_workspace_size(plan_, &bytes), "sattn_plan_workspace_size");
    workspace_ = AlignedBuffer(bytes);
    prepared_ = true;
  }
  check(sattn_plan_run(plan_, &args, workspace_.data(), workspace_.size(), nullptr), "sattn_plan_run");
}

void Plan::run_on_device(const sattn_run_args& args, void* workspace, size_t workspace_bytes) {
  if (!prepared_) {
    check(sattn_plan_can_implement(plan_, &args), "sattn_plan_can_implement");
    prepared_ = true;
  }
  check(sattn_plan_run(plan_, &args, workspace, workspace_bytes, nullptr), "sattn_plan_run");
}

size_t Plan::workspace_size() const {
  size_t bytes = 0;
  check(sattn_plan_workspace_size(plan_, &bytes), "sattn_plan_workspace_size");
  return bytes;
}

PlanDetails Plan::details() const {
  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  check(sattn_plan_get_info(plan_, &info), "sattn_plan_get_info");
  const auto text = [](const char* value) { return value != nullptr ? std::string(value) : std::string(); };
  return PlanDetails{info.pattern,         text(info.backend),  text(info.kernel), text(info.reason),
                     info.block_size_q,    info.block_size_k,   info.density,      info.estimated_flops,
                     info.estimated_bytes, info.workspace_size, info.plan_bytes,   info.num_spans};
}

sattn_plan_stats Plan::stats() const {
  sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
  check(sattn_plan_get_stats(plan_, &stats), "sattn_plan_get_stats");
  return stats;
}

}  // namespace sattn_bench
