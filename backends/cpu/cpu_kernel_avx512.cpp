// The flash kernel built for the avx512 path (flags in CMakeLists.txt).
#define SATTN_CPU_ISA_NS avx512
#include "cpu_kernel.inc"
