// The flash kernel built for the avx2 path (flags in CMakeLists.txt).
#define SATTN_CPU_ISA_NS avx2
#include "cpu_kernel.inc"
