// An owning wrapper of sattn_plan that turns failed calls into exceptions carrying the status and the library's
// message, and keeps the workspace a run needs.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "aligned_buffer.hpp"
#include "sattn.h"

namespace sattn_bench {

class SattnError : public std::runtime_error {
 public:
  SattnError(sattn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  sattn_status status() const { return status_; }

 private:
  sattn_status status_;
};

// Throws SattnError("<action>: <status name>: <sattn_last_error()>") unless status is SATTN_OK.
void check(sattn_status status, std::string_view action);

// What sattn_plan_get_info reports, copied out of the plan.
struct PlanDetails {
  int32_t pattern = 0;
  std::string backend;
  std::string kernel;
  std::string reason;
  int64_t block_size_q = 0;
  int64_t block_size_k = 0;
  double density = 0.0;
  double estimated_flops = 0.0;
  double estimated_bytes = 0.0;
  size_t workspace_size = 0;
  size_t plan_bytes = 0;  // host memory the plan holds
  int64_t num_spans = 0;  // spans of its static layout
};

class Plan {
 public:
  // backend "" lets the library choose; a named backend is strict (no silent fall back to another one).
  Plan(const sattn_attention_desc& desc, const std::string& backend, int threads);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Checks the tensors once (can_implement) and allocates the workspace before the first run.
  void run(const sattn_run_args& args);
  // A run on device tensors with the caller's device workspace, queued on the default stream.
  void run_on_device(const sattn_run_args& args, void* workspace, size_t workspace_bytes);
  size_t workspace_size() const;
  PlanDetails details() const;
  sattn_plan_stats stats() const;

 private:
  sattn_plan* plan_ = nullptr;
  bool prepared_ = false;
  AlignedBuffer workspace_;
};

}  // namespace sattn_bench
