// The command line of sattn-bench.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "problem.hpp"

namespace sattn_bench {

enum class Mode { perf, corr, both, plan };

struct Options {
  Mode mode = Mode::perf;
  std::string backend;    // "" = automatic selection
  int reps = 0;           // timed runs per problem; 0 = chosen from the warm-up time
  int threads = 0;        // 0 = all cores
  std::string json_path;  // "" = no JSON
  uint64_t seed = 1;
  bool compare_dense = true;  // perf: also time pattern=dense for the speedup column
  bool warm_up = true;        // perf: one untimed run before the timed ones (always when reps is not given)
  bool show_help = false;
  bool default_set = false;  // no problems were given: the built-in set runs
  std::vector<Problem> problems;
};

// A malformed option; main prints it with a pointer to --help and exits with 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws UsageError for bad options and ProblemError for bad problem text.
Options parse_options(int argc, char** argv);

std::string mode_name(Mode mode);
std::string help_text();

}  // namespace sattn_bench
