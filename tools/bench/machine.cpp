#include "machine.hpp"

#include <fstream>
#include <thread>

namespace sattn_bench {

Machine describe_machine() {
  Machine machine{"unknown", std::thread::hardware_concurrency()};
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (!line.starts_with("model name")) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    if (start != std::string::npos) machine.cpu_model = line.substr(start);
    break;
  }
  return machine;
}

}  // namespace sattn_bench
