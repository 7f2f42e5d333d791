#include "table_report.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "enum_names.hpp"
#include "sattn.h"

namespace sattn_bench {
namespace {

constexpr int kWhereWidth = 32;  // backend:kernel; longer names push the problem text right

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "-";
  std::ostringstream text;
  text << std::fixed << std::setprecision(decimals) << value;
  return text.str();
}

std::string scientific(double value) {
  if (std::isnan(value)) return "-";
  if (std::isinf(value)) return "inf";
  std::ostringstream text;
  text << std::scientific << std::setprecision(1) << value;
  return text.str();
}

}  // namespace

Summary summarize(const std::vector<ProblemRecord>& records) {
  Summary summary;
  for (const ProblemRecord& record : records) {
    switch (record.verdict) {
      case Verdict::pass:
        ++summary.passed;
        break;
      case Verdict::fail:
        ++summary.failed;
        break;
      case Verdict::ok:
        ++summary.timed;
        break;
      case Verdict::unsupported:
        ++summary.unsupported;
        break;
      case Verdict::error:
        ++summary.errors;
        break;
    }
  }
  return summary;
}

void print_table_header(std::ostream& out, const Machine& machine, const Options& options, size_t problem_count) {
  out << "sattn-bench: libsattn " << sattn_version_string() << ", mode " << mode_name(options.mode) << ", backend "
      << (options.backend.empty() ? "automatic" : options.backend) << ", threads "
      << (options.threads > 0 ? std::to_string(options.threads) : std::string("all")) << ", seed " << options.seed
      << ", reps " << (options.reps > 0 ? std::to_string(options.reps) : std::string("auto")) << "\n"
      << "machine: " << machine.cpu_model << ", " << machine.logical_cpus << " logical CPUs\n"
      << problem_count << (problem_count == 1 ? " problem" : " problems")
      << (options.default_set ? " (the default set)" : "") << "\n\n"
      << std::setw(3) << "#"
      << "  " << std::left << std::setw(11) << "result" << std::right << std::setw(8) << "rel.err" << std::setw(8)
      << "tol" << std::setw(11) << "time(ms)" << std::setw(9) << "TFLOP/s" << std::setw(8) << "density" << std::setw(8)
      << "speedup"
      << "  " << std::left << std::setw(kWhereWidth) << "backend:kernel"
      << "  problem" << std::right << "\n";
}

void print_table_row(std::ostream& out, const ProblemRecord& record) {
  const double nothing = std::nan("");
  const auto& correctness = record.correctness;
  const auto& performance = record.performance;
  const std::string where = record.plan ? record.plan->backend + ":" + record.plan->kernel : std::string("-");
  out << std::setw(3) << record.index << "  " << std::left << std::setw(11) << verdict_name(record.verdict)
      << std::right << std::setw(8) << scientific(correctness ? correctness->accuracy.relative_error : nothing)
      << std::setw(8) << scientific(correctness ? correctness->tolerance : nothing) << std::setw(11)
      << fixed(performance        ? performance->timing.median * 1e3
               : record.plan_cost ? record.plan_cost->timing.median * 1e3
                                  : nothing,
               3)
      << std::setw(9) << fixed(performance ? performance->tflops : nothing, 4) << std::setw(8)
      << fixed(performance        ? performance->density
               : record.plan_cost ? record.plan->density
                                  : nothing,
               4)
      << std::setw(8) << fixed(performance ? performance->speedup : nothing, 2) << "  " << std::left
      << std::setw(kWhereWidth) << where << "  " << record.text << std::right << "\n";
  if (!record.message.empty()) out << "     " << record.message << "\n";
  if (record.plan_cost)
    out << "     plan creation median " << fixed(record.plan_cost->timing.median * 1e3, 3) << " ms over "
        << record.plan_cost->timing.seconds.size() << " runs; the plan holds " << record.plan_cost->plan_bytes
        << " bytes in " << record.plan_cost->num_spans << " spans\n";
  if (record.plan && record.problem.desc.pattern == SATTN_PATTERN_AUTO) {
    out << "     pattern=auto ran " << sattn_tools::pattern_name(record.plan->pattern) << " (" << record.plan->reason
        << ")\n";
  }
  if (performance && !performance->dense_note.empty()) out << "     " << performance->dense_note << "\n";
  out.flush();
}

void print_summary(std::ostream& out, const std::vector<ProblemRecord>& records, double total_seconds) {
  const Summary summary = summarize(records);
  out << "\n"
      << records.size() << (records.size() == 1 ? " problem: " : " problems: ") << summary.passed << " passed, "
      << summary.failed << " failed, " << summary.timed << " timed only, " << summary.unsupported << " unsupported, "
      << summary.errors << " errors; " << fixed(total_seconds, 1) << " s\n";
}

}  // namespace sattn_bench
