// The exact CPU attention: for each query row, the kept keys of the block layout (full tiles whole, partial tiles
// through the pattern's element predicate), an exact two-pass softmax and P.V as docs/patterns.md's precisions
// define.
#pragma once

#include <sattn_backend.h>

#include <cstdint>

#include "cpu_operands.hpp"
#include "layout/block_layout.hpp"

namespace sattn::cpu {

void run_attention(const sattn_problem& problem, const sattn_layout& layout, const Operands& operands,
                   const sattn_run_args& args);

}  // namespace sattn::cpu
