// The terminal table of sattn-bench: a header with the machine, one row per problem as it finishes, a summary.
#pragma once

#include <ostream>
#include <vector>

#include "machine.hpp"
#include "options.hpp"
#include "record.hpp"

namespace sattn_bench {

struct Summary {
  int passed = 0;
  int failed = 0;
  int timed = 0;  // OK: timed without a correctness check
  int unsupported = 0;
  int errors = 0;
};

Summary summarize(const std::vector<ProblemRecord>& records);

void print_table_header(std::ostream& out, const Machine& machine, const Options& options, size_t problem_count);
void print_table_row(std::ostream& out, const ProblemRecord& record);
void print_summary(std::ostream& out, const std::vector<ProblemRecord>& records, double total_seconds);

}  // namespace sattn_bench
