// The JSON report of sattn-bench (--json=FILE): the run's settings, the machine, and one record per problem.
#pragma once

#include <ostream>
#include <vector>

#include "machine.hpp"
#include "options.hpp"
#include "record.hpp"

namespace sattn_bench {

void write_json_report(std::ostream& out, const Machine& machine, const Options& options,
                       const std::vector<ProblemRecord>& records, double total_seconds);

}  // namespace sattn_bench
