// Where problems come from: batch files (one per line) and command-line arguments.
#pragma once

#include <string>
#include <vector>

#include "problem.hpp"

namespace sattn_bench {

// One problem per line; '#' starts a comment; blank lines are skipped. Throws ProblemError naming FILE:LINE.
std::vector<Problem> read_batch_file(const std::string& path);

// Command-line arguments that are not options. An argument that starts with a shape word or holds several words
// starts a new problem; any other argument adds its words to the current one, so both
// `b1hq2lq64d16 pattern=lsh lsh_buckets=4` and `"b1hq2lq64d16 pattern=lsh lsh_buckets=4"` are one problem.
std::vector<Problem> problems_from_arguments(const std::vector<std::string>& arguments);

}  // namespace sattn_bench
