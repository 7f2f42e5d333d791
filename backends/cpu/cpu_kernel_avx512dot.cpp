// The avx512dot path: the flash kernel built with AVX-512 (cpu_kernel.inc) plus VDPBF16PS GEMMs for bf16 and
// VPDPBUSD integer scores for int8/int4 (cpu_dot.inc). Flags in CMakeLists.txt.
#define SATTN_CPU_ISA_NS avx512dot
#define SATTN_CPU_OWN_ENTRIES
#include "cpu_kernel.inc"
// cpu_vnni.inc and cpu_dot.inc follow cpu_kernel.inc: they reuse its flash loop, loaders, softmax and outputs.
#include "cpu_vnni.inc"
#include "cpu_dot.inc"
