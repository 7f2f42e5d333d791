// The flash kernel built for the portable path (flags in CMakeLists.txt).
#define SATTN_CPU_ISA_NS portable
#include "cpu_kernel.inc"
