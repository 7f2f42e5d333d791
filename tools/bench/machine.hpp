// The machine a benchmark ran on, for the table header and the JSON.
#pragma once

#include <string>

namespace sattn_bench {

struct Machine {
  std::string cpu_model;  // "model name" of /proc/cpuinfo, "unknown" where it is missing
  unsigned logical_cpus = 0;
};

Machine describe_machine();

}  // namespace sattn_bench
