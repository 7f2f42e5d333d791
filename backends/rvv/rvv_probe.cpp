// Whether the hart has V, asked the kernel's way (the auxiliary vector), in rv64gc code: it runs at registration on
// every riscv64 machine, with or without a vector unit.
#include <sys/auxv.h>

#include "rvv_kernel.hpp"

namespace sattn_rvv {

bool probe_has_vector() {
  constexpr unsigned long kV = 1ul << ('V' - 'A');
  return (getauxval(AT_HWCAP) & kV) != 0;
}

}  // namespace sattn_rvv
