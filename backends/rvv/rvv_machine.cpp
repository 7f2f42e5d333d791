// The vector unit's geometry, read from the hart (rv64gcv code: call only after probe_has_vector()).
#include <riscv_vector.h>

#include "rvv_kernel.hpp"

namespace sattn_rvv {

// VLMAX at SEW 8, LMUL 1 is vlenb, without inline assembly for the CSR.
int64_t vector_bytes() { return static_cast<int64_t>(__riscv_vsetvlmax_e8m1()); }

int64_t chunk_rows() { return vector_bytes() * kMacLmul / 4; }

}  // namespace sattn_rvv
