#include "cpu_isa.hpp"

#include <cstdlib>
#include <cstring>

namespace sattn_cpu {
namespace {

struct Path {
  const char* name;
  TaskFn run_task;
  PackFn pack_kv_tile;
  bool (*available)();
};

// The paths built into this binary, best first. Only the portable one exists off x86 (SATTN_CPU_X86 unset).
#if SATTN_CPU_X86
bool has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}
bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif
bool always() { return true; }

const Path kPaths[] = {
#if SATTN_CPU_X86
    {"avx512", avx512::run_task, avx512::pack_kv_tile, has_avx512},
    {"avx2", avx2::run_task, avx2::pack_kv_tile, has_avx2},
#endif
    {"portable", portable::run_task, portable::pack_kv_tile, always}};

}  // namespace

IsaChoice choose_isa() {
  IsaChoice choice;
  const char* forced = std::getenv("SATTN_CPU_ISA");
  const bool any = forced == nullptr || forced[0] == '\0';
  bool known = false;
  for (const Path& path : kPaths) {
    if (!any && std::strcmp(forced, path.name) != 0) continue;
    known = true;
    if (!path.available()) {
      if (any) continue;  // not forced: the next best path
      choice.refusal = std::string("cpu backend: SATTN_CPU_ISA=") + forced + " but this CPU lacks that instruction set";
      return choice;
    }
    choice.name = path.name;
    choice.run_task = path.run_task;
    choice.pack_kv_tile = path.pack_kv_tile;
    return choice;
  }
  if (!known) {
    choice.refusal = std::string("cpu backend: SATTN_CPU_ISA=") + forced +
                     " is not a path of this build (x86-64: avx512, avx2, portable; elsewhere: portable)";
  }
  return choice;
}

}  // namespace sattn_cpu
