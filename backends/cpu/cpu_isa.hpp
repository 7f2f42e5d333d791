// Which instruction-set path of the kernel runs: the best this CPU has, or the one SATTN_CPU_ISA names
// (avx512, avx2 or portable) when the CPU has it. Decided at plan time; one binary serves every x86-64.
#pragma once

#include <string>

#include "cpu_kernel.hpp"

namespace sattn_cpu {

struct IsaChoice {
  const char* name = nullptr;  // "amx", "avx512", "avx2", "portable"; nullptr when refused
  TaskFn run_task = nullptr;
  PackFn pack_kv_tile = nullptr;
  LshHashFn hash_lsh_rows = nullptr;
  std::string refusal;  // why SATTN_CPU_ISA cannot be honoured
};

// For this problem: a path that has no kernel of its own for it hands it to the next (amx -> avx512).
IsaChoice choose_isa(const sattn_attention_desc& problem);

}  // namespace sattn_cpu
