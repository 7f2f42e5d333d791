// The plan behind the opaque sattn_plan handle: the validated problem, the chosen backend and its state, the
// layout of a static pattern, and what get_info reports. Immutable after creation except for run statistics.
#pragma once

#include <sattn.h>
#include <sattn_backend.h>

#include <memory>
#include <mutex>
#include <string>

#include "layout/block_layout.hpp"
#include "registry/registry.hpp"

struct sattn_plan {
  sattn_attention_desc desc{};  // what problem.desc points at
  sattn_problem problem{};
  const sattn::BackendEntry* backend = nullptr;
  void* state = nullptr;                        // the backend's plan
  std::unique_ptr<sattn_layout> static_layout;  // null for patterns whose layout depends on the run
  std::string backend_name, kernel, reason;
  double density_estimate = 0.0, flops_estimate = 0.0, bytes_estimate = 0.0;
  size_t backend_workspace = 0;
  // The backend makes this data-dependent problem's selection itself (run gets layout NULL): it selects on its
  // device (SATTN_BACKEND_SELECTS_ON_DEVICE) or said so through ops.selects_itself at plan creation.
  bool backend_selects = false;

  mutable std::mutex stats_mutex;
  mutable sattn_plan_stats stats{};

  sattn_plan() = default;
  sattn_plan(const sattn_plan&) = delete;
  sattn_plan& operator=(const sattn_plan&) = delete;
  ~sattn_plan();

  // The workspace callers must pass: the backend's plus room to align it to 64 bytes.
  size_t workspace_size() const { return backend_workspace == 0 ? 0 : backend_workspace + 64; }
  // Host bytes the plan holds (its static layout); spans of the static layout (0 when built per run).
  size_t plan_bytes() const;
  int64_t num_spans() const;
};

namespace sattn {

std::unique_ptr<sattn_plan> create_plan(const sattn_attention_desc* desc, const sattn_plan_prefs* prefs);
// The core's checks of the tensors, then the backend's; returns the validated copy of args.
sattn_run_args check_run_args_for(const sattn_plan& plan, const sattn_run_args* args);
void run_plan(const sattn_plan& plan, const sattn_run_args* args, void* workspace, size_t workspace_bytes,
              void* stream);

}  // namespace sattn
