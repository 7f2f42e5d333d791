// The amx path: the flash kernel built with AVX-512 (cpu_kernel.inc) plus AMX-BF16 tile GEMMs for bf16 precision
// (cpu_amx.inc). Flags in CMakeLists.txt.
#define SATTN_CPU_ISA_NS amx
#define SATTN_CPU_OWN_ENTRIES
#include "cpu_kernel.inc"
// cpu_vnni.inc and cpu_amx.inc follow cpu_kernel.inc: they reuse its flash loop, loaders, softmax and outputs.
#include "cpu_vnni.inc"
#include "cpu_amx.inc"
