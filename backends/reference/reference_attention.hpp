// The exact attention: for each query row, the kept keys of the block layout (each span's tiles tested by the
// shared element predicates of sattn_kernels.h), an exact two-pass softmax and P.V as the precisions define.
#pragma once

#include <sattn_backend.h>

#include "reference_operands.hpp"

namespace sattn_reference {

void run_attention(const sattn_problem& problem, const sattn_layout_view& layout, const Operands& operands,
                   const sattn_run_args& args);

}  // namespace sattn_reference
