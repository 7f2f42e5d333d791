#include "runner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>

#include "device_problem.hpp"
#include "enum_names.hpp"

namespace sattn_bench {
namespace {

// Timed runs of one problem take about this long when --reps is not given.
constexpr double kTimedSecondsPerProblem = 2.0;
// The exact backend of correctness mode.
constexpr const char* kReferenceBackend = "reference";

bool is_unsupported(sattn_status status) {
  return status == SATTN_ERROR_NOT_SUPPORTED || status == SATTN_ERROR_BACKEND_UNAVAILABLE;
}

// A 16-bit output cannot be closer to the exact result than its own rounding, and the tested and the exact output
// are each rounded: they may differ by one unit in the last place (relative 2^-7 for bf16, 2^-10 for f16).
double output_rounding_floor(int32_t dtype) {
  switch (dtype) {
    case SATTN_DTYPE_BF16:
      return 0x1.0p-7;
    case SATTN_DTYPE_F16:
      return 0x1.0p-10;
    default:
      return 0.0;
  }
}

// The same shapes, flags, dtype, precision and quantisation scales, attending to every key.
Problem dense_variant(const Problem& problem) {
  Problem dense = problem;
  const sattn_pattern_params defaults = SATTN_PATTERN_PARAMS_INIT;
  dense.desc.pattern = SATTN_PATTERN_DENSE;
  dense.desc.params = defaults;
  dense.desc.params.scale_q = problem.desc.params.scale_q;
  dense.desc.params.scale_k = problem.desc.params.scale_k;
  dense.desc.params.scale_v = problem.desc.params.scale_v;
  dense.mask_density = Problem{}.mask_density;
  return dense;
}

}  // namespace

std::string verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass:
      return "PASS";
    case Verdict::fail:
      return "FAIL";
    case Verdict::ok:
      return "OK";
    case Verdict::unsupported:
      return "UNSUPPORTED";
    case Verdict::error:
      return "ERROR";
  }
  return "?";
}

void BenchRunner::validate(const Problem& problem) const {
  try {
    Plan plan(problem.desc, options_.backend, options_.threads);
  } catch (const SattnError& error) {
    if (error.status() == SATTN_ERROR_INVALID_ARGUMENT) {
      throw ProblemError(problem.origin + ": libsattn rejects this problem: " + error.what() +
                         "\n  in problem: " + format_problem(problem));
    }
  }
}

ProblemRecord BenchRunner::run(int index, const Problem& problem) {
  ProblemRecord record;
  record.index = index;
  record.problem = problem;
  record.text = format_problem(problem);
  try {
    Plan plan(problem.desc, options_.backend, options_.threads);
    record.plan = plan.details();
    record.verdict = Verdict::ok;
    if (options_.mode == Mode::plan) {
      PlanCostResult cost;
      cost.timing = time_runs([&] { Plan timed(problem.desc, options_.backend, options_.threads); }, options_.reps,
                              kTimedSecondsPerProblem);
      cost.plan_bytes = record.plan->plan_bytes;
      cost.num_spans = record.plan->num_spans;
      record.plan_cost = cost;
      return record;
    }
    const ProblemInputs inputs = make_inputs(problem, options_.seed);
    if (options_.mode != Mode::perf) {
      record.correctness = check_correctness(problem, plan, inputs);
      record.verdict = record.correctness->passed ? Verdict::pass : Verdict::fail;
      record.plan = plan.details();  // a backend may name its kernel only once it has run
    }
    if (options_.mode != Mode::corr) {
      record.performance = measure(problem, plan, inputs, *record.plan);
      record.plan = plan.details();
    }
  } catch (const SattnError& error) {
    record.verdict = is_unsupported(error.status()) ? Verdict::unsupported : Verdict::error;
    record.message = error.what();
  } catch (const std::bad_alloc&) {
    record.verdict = Verdict::error;
    record.message = "out of host memory for the tensors of this problem";
  }
  return record;
}

CorrectnessResult BenchRunner::check_correctness(const Problem& problem, Plan& plan, const ProblemInputs& inputs) {
  ProblemOutputs tested = make_outputs(problem.desc);
  if (on_device()) {  // the same inputs on the GPU; the output comes back to the host for the comparison
    const DeviceProblem device(inputs, tested, plan.workspace_size());
    plan.run_on_device(device.args(), device.workspace(), device.workspace_bytes());
    device.copy_outputs_to(tested);
  } else {
    plan.run(make_run_args(inputs, tested));
  }

  // The exact run: fp32 on the CPU backend, with the descriptor as given (pattern = auto stays auto, so the
  // selector also fills in the chosen pattern's defaulted parameters), and checked to resolve the tested pattern.
  sattn_attention_desc exact_desc = problem.desc;
  exact_desc.precision = SATTN_PRECISION_FP32;
  const int32_t tested_pattern = plan.details().pattern;
  Plan reference(exact_desc, kReferenceBackend, options_.threads);
  const PlanDetails reference_details = reference.details();
  if (reference_details.backend != kReferenceBackend) {
    throw SattnError(SATTN_ERROR_BACKEND_UNAVAILABLE, "the exact reference ran on backend '" +
                                                          reference_details.backend + "', not '" + kReferenceBackend +
                                                          "' (is $SATTN_BACKEND set?)");
  }
  if (reference_details.pattern != tested_pattern) {
    throw SattnError(SATTN_ERROR_INTERNAL, "the exact reference ran pattern " +
                                               sattn_tools::pattern_name(reference_details.pattern) + " instead of " +
                                               sattn_tools::pattern_name(tested_pattern) +
                                               " (pattern = auto chose differently at fp32)");
  }
  const ProblemOutputs exact = make_outputs(exact_desc);
  reference.run(make_run_args(inputs, exact));

  CorrectnessResult result;
  result.accuracy = compare_outputs(tested.o.to_floats(), exact.o.to_floats());
  result.tolerance =
      std::max(tolerance_for_precision(problem.desc.precision), output_rounding_floor(problem.desc.dtype));
  result.passed = result.accuracy.relative_error <= result.tolerance;
  result.reference_backend = reference_details.backend;
  result.reference_kernel = reference.details().kernel;
  return result;
}

Timing BenchRunner::time_plan(Plan& plan, const ProblemInputs& inputs, const sattn_attention_desc& desc) const {
  const ProblemOutputs outputs = make_outputs(desc);
  if (on_device()) {
    // Device-resident tensors; each run timed by CUDA events around it (time_runs only chooses the count).
    const DeviceProblem device(inputs, outputs, plan.workspace_size());
    CudaDriver& driver = CudaDriver::instance();
    std::vector<double> gpu_seconds;
    Timing timing = time_runs(
        [&] {
          gpu_seconds.push_back(1e-3 * driver.elapsed_ms([&] {
            plan.run_on_device(device.args(), device.workspace(), device.workspace_bytes());
          }));
        },
        options_.reps, kTimedSecondsPerProblem, options_.warm_up);
    timing.seconds.assign(gpu_seconds.end() - static_cast<std::ptrdiff_t>(timing.seconds.size()), gpu_seconds.end());
    timing.median = median_of(timing.seconds);
    timing.minimum = *std::min_element(timing.seconds.begin(), timing.seconds.end());
    return timing;
  }
  const sattn_run_args args = make_run_args(inputs, outputs);
  return time_runs([&] { plan.run(args); }, options_.reps, kTimedSecondsPerProblem, options_.warm_up);
}

PerformanceResult BenchRunner::measure(const Problem& problem, Plan& plan, const ProblemInputs& inputs,
                                       const PlanDetails& details) {
  const sattn_attention_desc& desc = problem.desc;
  PerformanceResult result;
  result.timing = time_plan(plan, inputs, desc);

  const sattn_plan_stats stats = plan.stats();
  const double all_pairs = static_cast<double>(desc.batch) * static_cast<double>(desc.num_q_heads) *
                           static_cast<double>(desc.q_len) * static_cast<double>(desc.kv_len);
  if (stats.kept_pairs >= 0) {
    result.kept_pairs = stats.kept_pairs;
  } else {
    result.kept_pairs = static_cast<int64_t>(std::llround(details.density * all_pairs));
    result.kept_pairs_measured = false;
  }
  result.density = stats.density >= 0.0 ? stats.density : details.density;
  result.flops = 2.0 * static_cast<double>(result.kept_pairs) * static_cast<double>(desc.head_dim + desc.head_dim_v);
  result.tflops = result.timing.median > 0.0 ? result.flops / result.timing.median / 1e12 : 0.0;

  const Problem dense = dense_variant(problem);
  const std::string dense_key = format_problem(dense) + " @" + details.backend;
  if (details.pattern == SATTN_PATTERN_DENSE) {
    dense_medians_[dense_key] = result.timing.median;
    result.dense_median = result.timing.median;
  } else if (!options_.compare_dense) {
    result.dense_median = std::numeric_limits<double>::quiet_NaN();
    result.dense_note = "no dense time: --compare-dense=no";
  } else {
    try {
      result.dense_median = dense_median(dense, details.backend);
    } catch (const SattnError& error) {
      result.dense_median = std::numeric_limits<double>::quiet_NaN();
      result.dense_note = std::string("no dense time: ") + error.what();
    }
  }
  result.speedup = result.dense_median / result.timing.median;
  if (details.pattern == SATTN_PATTERN_DENSE) result.speedup = 1.0;  // by definition, not a ratio of two timings
  return result;
}

double BenchRunner::dense_median(const Problem& dense, const std::string& backend) {
  const std::string key = format_problem(dense) + " @" + backend;
  if (const auto found = dense_medians_.find(key); found != dense_medians_.end()) return found->second;
  Plan plan(dense.desc, backend, options_.threads);
  const ProblemInputs inputs = make_inputs(dense, options_.seed);
  const double median = time_plan(plan, inputs, dense.desc).median;
  dense_medians_[key] = median;
  return median;
}

}  // namespace sattn_bench
