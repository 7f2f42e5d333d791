// Which instruction-set path of the kernel runs: the best this CPU has, or the one SATTN_CPU_ISA names
// (avx512, avx2 or portable) when the CPU has it. Decided at plan time; one binary serves every x86-64.
#pragma once

#include <string>

#include "cpu_kernel.hpp"

namespace sattn_cpu {

struct IsaChoice {
  const char* name = nullptr;  // "avx512", "avx2", "portable"; nullptr when refused
  TaskFn run_task = nullptr;
  PackFn pack_kv_tile = nullptr;
  std::string refusal;  // why SATTN_CPU_ISA cannot be honoured
};

IsaChoice choose_isa();

}  // namespace sattn_cpu
