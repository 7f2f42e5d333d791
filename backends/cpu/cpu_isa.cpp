#include "cpu_isa.hpp"

#include <sattn_kernels.h>

#if SATTN_CPU_X86
#include <cpuid.h>
#endif

#include <cstdlib>
#include <cstring>

namespace sattn_cpu {
namespace {

struct Path {
  const char* name;
  TaskFn run_task;
  PackFn pack_kv_tile;
  LshHashFn hash_lsh_rows;
  bool (*available)();
  // Problems the path has kernels of its own for; nullptr: all. Others go to the next path (amx is avx512dot plus
  // AMX tiles for bf16, avx512dot is avx512 plus dot-product instructions for bf16 and the integers).
  bool (*applies)(const sattn_attention_desc&);
};

// The paths built into this binary, best first. Only the portable one exists off x86 (SATTN_CPU_X86 unset).
#if SATTN_CPU_X86
bool has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}
bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
// AMX-TILE, AMX-BF16, AMX-INT8 (CPUID 7.0 EDX bits 24, 22, 25) and AVX512_BF16 (CPUID 7.1 EAX bit 5), and Linux
// granting the process the tile state (asked once; a kernel without AMX support refuses).
bool has_amx() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!has_avx512() || __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool tiles = ((edx >> 24) & 1u) != 0 && ((edx >> 22) & 1u) != 0 && ((edx >> 25) & 1u) != 0;
  if (!tiles || __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0 || ((eax >> 5) & 1u) == 0) return false;
  static const bool granted = amx::enable_tiles();
  return granted;
}
// AVX512_VNNI (CPUID 7.0 ECX bit 11) and AVX512_BF16 (CPUID 7.1 EAX bit 5) on top of AVX-512.
bool has_avx512dot() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!has_avx512() || __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0 || ((ecx >> 11) & 1u) == 0) return false;
  return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && ((eax >> 5) & 1u) != 0;
}
// bf16 and the integers.
bool dot_applies(const sattn_attention_desc& d) {
  return d.precision == SATTN_PRECISION_BF16 || sattn_is_integer_precision(d.precision);
}
// bf16 with AMX-sized heads, and int8/int4 with heads of whole 64-byte tile rows. Staying on avx512dot: landmark's
// derived keys; top-k selected by the kernel (not written for AMX tiles: it would run untested here, where no CPU has
// AMX); decode shapes, whose blocks of at most 16 rows (G heads x Lq) would fill 32-row tiles with padding while
// avx512dot reads their K and V in place (cpu_decode.inc).
bool amx_applies(const sattn_attention_desc& d) {
  if (sattn_is_integer_precision(d.precision)) return d.head_dim % 64 == 0;
  const int64_t group = d.num_kv_heads > 0 ? d.num_q_heads / d.num_kv_heads : 1;
  return d.precision == SATTN_PRECISION_BF16 && d.head_dim % 32 == 0 && d.pattern != SATTN_PATTERN_LANDMARK &&
         d.pattern != SATTN_PATTERN_TOPK_PER_QUERY && group * d.q_len > kDecodeRows;
}
#endif
bool always() { return true; }

const Path kPaths[] = {
#if SATTN_CPU_X86
    {"amx", amx::run_task, amx::pack_kv_tile, amx::hash_lsh_rows, has_amx, amx_applies},
    {"avx512dot", avx512dot::run_task, avx512dot::pack_kv_tile, avx512dot::hash_lsh_rows, has_avx512dot, dot_applies},
    {"avx512", avx512::run_task, avx512::pack_kv_tile, avx512::hash_lsh_rows, has_avx512, nullptr},
    {"avx2", avx2::run_task, avx2::pack_kv_tile, avx2::hash_lsh_rows, has_avx2, nullptr},
#endif
    {"portable", portable::run_task, portable::pack_kv_tile, portable::hash_lsh_rows, always, nullptr}};

}  // namespace

IsaChoice choose_isa(const sattn_attention_desc& problem) {
  IsaChoice choice;
  const char* forced = std::getenv("SATTN_CPU_ISA");
  bool any = forced == nullptr || forced[0] == '\0';
  bool known = false;
  for (const Path& path : kPaths) {
    if (!any && std::strcmp(forced, path.name) != 0) continue;
    known = true;
    if (!path.available()) {
      if (any) continue;  // not forced: the next best path
      choice.refusal = std::string("cpu backend: SATTN_CPU_ISA=") + forced + " but this CPU lacks that instruction set";
      return choice;
    }
    if (path.applies != nullptr && !path.applies(problem)) {
      any = true;  // forced to this path, which runs the problem on the next one it has (amx: avx512dot)
      continue;
    }
    choice.name = path.name;
    choice.run_task = path.run_task;
    choice.pack_kv_tile = path.pack_kv_tile;
    choice.hash_lsh_rows = path.hash_lsh_rows;
    return choice;
  }
  if (!known) {
    choice.refusal =
        std::string("cpu backend: SATTN_CPU_ISA=") + forced +
        " is not a path of this build (x86-64: amx, avx512dot, avx512, avx2, portable; elsewhere: portable)";
  }
  return choice;
}

}  // namespace sattn_cpu
