#include "json_report.hpp"

#include "enum_names.hpp"
#include "json_writer.hpp"
#include "sattn.h"
#include "table_report.hpp"

namespace sattn_bench {
namespace {

using sattn_tools::JsonWriter;

void write_desc(JsonWriter& json, const Problem& problem) {
  const sattn_attention_desc& desc = problem.desc;
  json.begin_object();
  const std::pair<const char*, int64_t> shape[] = {
      {"batch", desc.batch},           {"num_q_heads", desc.num_q_heads}, {"num_kv_heads", desc.num_kv_heads},
      {"q_len", desc.q_len},           {"kv_len", desc.kv_len},           {"head_dim", desc.head_dim},
      {"head_dim_v", desc.head_dim_v},
  };
  for (const auto& [name, value] : shape) {
    json.key(name);
    json.integer(value);
  }
  json.key("flags");
  json.integer(desc.flags);
  json.key("causal");
  json.boolean((desc.flags & SATTN_FLAG_CAUSAL) != 0);
  json.key("want_lse");
  json.boolean((desc.flags & SATTN_FLAG_WANT_LSE) != 0);
  json.key("dtype");
  json.string(sattn_tools::dtype_name(desc.dtype));
  json.key("precision");
  json.string(sattn_tools::precision_name(desc.precision));
  json.key("pattern");
  json.string(sattn_tools::pattern_name(desc.pattern));
  json.key("scale");
  json.number(desc.scale);
  json.key("params");
  json.begin_object();
  for (const ParamValue& param : param_values(desc.params)) {
    json.key(param.name);
    if (const auto* real = std::get_if<float>(&param.value)) {
      json.number(*real);
    } else if (const auto* seed = std::get_if<uint64_t>(&param.value)) {
      json.unsigned_integer(*seed);
    } else {
      json.integer(std::get<int64_t>(param.value));
    }
  }
  json.end_object();
  if (desc.pattern == SATTN_PATTERN_BLOCK_MASK) {
    json.key("mask_density");
    json.number(problem.mask_density);
  }
  json.end_object();
}

void write_plan(JsonWriter& json, const PlanDetails& plan) {
  json.begin_object();
  json.key("backend");
  json.string(plan.backend);
  json.key("kernel");
  json.string(plan.kernel);
  json.key("pattern");
  json.string(sattn_tools::pattern_name(plan.pattern));
  json.key("reason");
  json.string(plan.reason);
  json.key("block_size_q");
  json.integer(plan.block_size_q);
  json.key("block_size_k");
  json.integer(plan.block_size_k);
  json.key("density");
  json.number(plan.density);
  json.key("estimated_flops");
  json.number(plan.estimated_flops);
  json.key("estimated_bytes");
  json.number(plan.estimated_bytes);
  json.key("workspace_size");
  json.integer(static_cast<int64_t>(plan.workspace_size));
  json.key("plan_bytes");
  json.integer(static_cast<int64_t>(plan.plan_bytes));
  json.key("num_spans");
  json.integer(plan.num_spans);
  json.end_object();
}

void write_correctness(JsonWriter& json, const CorrectnessResult& result) {
  json.begin_object();
  json.key("passed");
  json.boolean(result.passed);
  json.key("max_abs_error");
  json.number(result.accuracy.max_abs_error);
  json.key("max_abs_reference");
  json.number(result.accuracy.max_abs_reference);
  json.key("relative_error");
  json.number(result.accuracy.relative_error);
  json.key("tolerance");
  json.number(result.tolerance);
  json.key("reference_backend");
  json.string(result.reference_backend);
  json.key("reference_kernel");
  json.string(result.reference_kernel);
  json.end_object();
}

void write_performance(JsonWriter& json, const PerformanceResult& result) {
  json.begin_object();
  json.key("reps");
  json.integer(static_cast<int64_t>(result.timing.seconds.size()));
  json.key("times_s");
  json.begin_array();
  for (const double seconds : result.timing.seconds) json.number(seconds);
  json.end_array();
  json.key("median_s");
  json.number(result.timing.median);
  json.key("min_s");
  json.number(result.timing.minimum);
  json.key("kept_pairs");
  json.integer(result.kept_pairs);
  json.key("kept_pairs_measured");
  json.boolean(result.kept_pairs_measured);
  json.key("density");
  json.number(result.density);
  json.key("flops");
  json.number(result.flops);
  json.key("tflops");
  json.number(result.tflops);
  json.key("dense_median_s");
  json.number(result.dense_median);  // null when the dense problem could not run
  json.key("speedup_vs_dense");
  json.number(result.speedup);
  if (!result.dense_note.empty()) {
    json.key("dense_note");
    json.string(result.dense_note);
  }
  json.end_object();
}

void write_record(JsonWriter& json, const ProblemRecord& record) {
  json.begin_object();
  json.key("index");
  json.integer(record.index);
  json.key("problem");
  json.string(record.text);
  json.key("origin");
  json.string(record.problem.origin);
  json.key("result");
  json.string(verdict_name(record.verdict));
  json.key("message");
  json.string(record.message);
  json.key("desc");
  write_desc(json, record.problem);
  json.key("plan");
  if (record.plan) {
    write_plan(json, *record.plan);
  } else {
    json.null();
  }
  json.key("correctness");
  if (record.correctness) {
    write_correctness(json, *record.correctness);
  } else {
    json.null();
  }
  json.key("performance");
  if (record.performance) {
    write_performance(json, *record.performance);
  } else {
    json.null();
  }
  json.key("plan_cost");
  if (record.plan_cost) {
    json.begin_object();
    json.key("median_s");
    json.number(record.plan_cost->timing.median);
    json.key("runs");
    json.integer(static_cast<int64_t>(record.plan_cost->timing.seconds.size()));
    json.key("plan_bytes");
    json.integer(static_cast<int64_t>(record.plan_cost->plan_bytes));
    json.key("num_spans");
    json.integer(record.plan_cost->num_spans);
    json.end_object();
  } else {
    json.null();
  }
  json.end_object();
}

}  // namespace

void write_json_report(std::ostream& out, const Machine& machine, const Options& options,
                       const std::vector<ProblemRecord>& records, double total_seconds) {
  JsonWriter json(out);
  json.begin_object();
  json.key("tool");
  json.string("sattn-bench");
  json.key("library_version");
  json.string(sattn_version_string());
  json.key("mode");
  json.string(mode_name(options.mode));
  json.key("backend_requested");
  json.string(options.backend.empty() ? "automatic" : options.backend);
  json.key("threads");
  json.integer(options.threads);
  json.key("seed");
  json.unsigned_integer(options.seed);
  json.key("reps_requested");
  json.integer(options.reps);
  json.key("default_set");
  json.boolean(options.default_set);
  json.key("machine");
  json.begin_object();
  json.key("cpu_model");
  json.string(machine.cpu_model);
  json.key("logical_cpus");
  json.integer(machine.logical_cpus);
  json.end_object();
  json.key("total_seconds");
  json.number(total_seconds);
  const Summary summary = summarize(records);
  json.key("summary");
  json.begin_object();
  const std::pair<const char*, int> counts[] = {{"problems", static_cast<int>(records.size())},
                                                {"passed", summary.passed},
                                                {"failed", summary.failed},
                                                {"timed_only", summary.timed},
                                                {"unsupported", summary.unsupported},
                                                {"errors", summary.errors}};
  for (const auto& [name, count] : counts) {
    json.key(name);
    json.integer(count);
  }
  json.end_object();
  json.key("problems");
  json.begin_array();
  for (const ProblemRecord& record : records) write_record(json, record);
  json.end_array();
  json.end_object();
}

}  // namespace sattn_bench
