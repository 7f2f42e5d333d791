// What sattn-bench learns about one problem; the table and the JSON report are views of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "accuracy.hpp"
#include "plan.hpp"
#include "problem.hpp"
#include "timing.hpp"

namespace sattn_bench {

enum class Verdict {
  pass,         // correctness checked and within tolerance
  fail,         // correctness checked and out of tolerance
  ok,           // timed only
  unsupported,  // the backend does not implement the problem (not a failure)
  error,        // a libsattn call failed
};

struct CorrectnessResult {
  Accuracy accuracy;
  double tolerance = 0.0;
  bool passed = false;
  std::string reference_backend;
  std::string reference_kernel;
};

struct PerformanceResult {
  Timing timing;
  int64_t kept_pairs = 0;
  bool kept_pairs_measured = true;  // false: the backend has no counter; estimated from the plan's density
  double density = 0.0;
  double flops = 0.0;         // per run, kept pairs only
  double tflops = 0.0;        // flops / median
  double dense_median = 0.0;  // NaN when the dense problem could not run
  double speedup = 0.0;       // dense_median / median
  std::string dense_note;     // why there is no dense time
};

// --mode=plan: what creating the plan costs.
struct PlanCostResult {
  Timing timing;  // of sattn_plan_create + sattn_plan_destroy
  size_t plan_bytes = 0;
  int64_t num_spans = 0;
};

struct ProblemRecord {
  int index = 0;
  Problem problem;
  std::string text;  // canonical problem text
  Verdict verdict = Verdict::error;
  std::string message;
  std::optional<PlanDetails> plan;
  std::optional<CorrectnessResult> correctness;
  std::optional<PerformanceResult> performance;
  std::optional<PlanCostResult> plan_cost;
};

std::string verdict_name(Verdict verdict);

}  // namespace sattn_bench
