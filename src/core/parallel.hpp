// parallel_for over [0, n): oneTBB where the build found it, a plain loop otherwise (riscv64 has no oneTBB here).
// Exceptions thrown by the body propagate to the caller in both cases.
#pragma once

#include <cstdint>
#include <functional>

namespace sattn {

// num_threads 0 = all cores. grain: iterations worth a task on their own.
void parallel_for(int64_t n, int32_t num_threads, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

// True when parallel_for really runs in parallel in this build.
bool parallel_runtime_available();

}  // namespace sattn
