// The amx path: the flash kernel built with AVX-512 (cpu_kernel.inc) plus AMX-BF16 tile GEMMs for bf16 precision
// (cpu_amx.inc). Flags in CMakeLists.txt.
#define SATTN_CPU_ISA_NS amx
#define SATTN_CPU_OWN_ENTRIES
#include "cpu_kernel.inc"
// cpu_amx.inc follows cpu_kernel.inc: it reuses its masking, softmax and output pieces.
#include "cpu_amx.inc"
