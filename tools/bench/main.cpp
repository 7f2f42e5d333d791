// sattn-bench: runs attention problems through libsattn for correctness and speed (see --help).
#include <chrono>
#include <fstream>
#include <iostream>

#include "json_report.hpp"
#include "machine.hpp"
#include "options.hpp"
#include "runner.hpp"
#include "table_report.hpp"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

bool backend_is_registered(const std::string& name, std::string& known_names) {
  bool found = false;
  for (int32_t index = 0; index < sattn_backend_count(); ++index) {
    sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
    if (sattn_backend_get_info(index, &info) != SATTN_OK || info.name == nullptr) continue;
    known_names += (known_names.empty() ? "" : ", ") + std::string(info.name);
    found = found || name == info.name;
  }
  return found;
}

int run_benchmark(const sattn_bench::Options& options) {
  sattn_bench::BenchRunner runner(options);
  // Invalid problems stop the run before anything runs: nothing is worse than a typo found an hour in.
  for (const sattn_bench::Problem& problem : options.problems) runner.validate(problem);

  // With --json=- the JSON owns standard output and the table moves to standard error.
  const bool json_to_stdout = options.json_path == "-";
  std::ostream& table = json_to_stdout ? std::cerr : std::cout;
  const sattn_bench::Machine machine = sattn_bench::describe_machine();
  sattn_bench::print_table_header(table, machine, options, options.problems.size());

  const auto start = std::chrono::steady_clock::now();
  std::vector<sattn_bench::ProblemRecord> records;
  for (size_t index = 0; index < options.problems.size(); ++index) {
    records.push_back(runner.run(static_cast<int>(index + 1), options.problems[index]));
    sattn_bench::print_table_row(table, records.back());
  }
  const double total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sattn_bench::print_summary(table, records, total_seconds);

  if (json_to_stdout) {
    sattn_bench::write_json_report(std::cout, machine, options, records, total_seconds);
  } else if (!options.json_path.empty()) {
    std::ofstream file(options.json_path);
    sattn_bench::write_json_report(file, machine, options, records, total_seconds);
    if (!file) {
      std::cerr << "sattn-bench: cannot write " << options.json_path << "\n";
      return kExitFailed;
    }
  }
  const sattn_bench::Summary summary = sattn_bench::summarize(records);
  return summary.failed + summary.errors > 0 ? kExitFailed : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const sattn_bench::Options options = sattn_bench::parse_options(argc, argv);
    if (options.show_help) {
      std::cout << sattn_bench::help_text();
      return 0;
    }
    std::string known_backends;
    if (!options.backend.empty() && !backend_is_registered(options.backend, known_backends)) {
      throw sattn_bench::UsageError("no backend '" + options.backend + "' (registered: " + known_backends + ")");
    }
    return run_benchmark(options);
  } catch (const sattn_bench::UsageError& error) {
    std::cerr << "sattn-bench: " << error.what() << "\n(sattn-bench --help lists the options)\n";
    return kExitBadInput;
  } catch (const sattn_bench::ProblemError& error) {
    std::cerr << "sattn-bench: bad problem: " << error.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& error) {
    std::cerr << "sattn-bench: " << error.what() << "\n";
    return kExitFailed;
  }
}
