// SPEC's symmetric per-tensor quantisation of the int8 and int4 precisions, applied by the harness (not by the
// reference, which stays exact) to build what an ideal integer computation would multiply.
#pragma once

#include "reference.hpp"

#include <vector>

namespace sattn_acc {

// Q, K and V as x_q * s with x_q = clamp(round_half_even(x / s), -qmax, qmax) and s the given scale (params.scale_q/k/v) or
// max|x| / qmax over the whole tensor; qmax = 127 (int8) or 7 (int4). Other precisions: the inputs unchanged.
sattn_ref::Inputs quantised_inputs(const sattn_ref::Problem& problem, const sattn_ref::Inputs& inputs);

bool is_integer_precision(int precision);

// One tensor quantised and dequantised: scale `given_scale` when > 0, else max|x| / levels.
std::vector<float> quantise_tensor(const std::vector<float>& values, float given_scale, float levels);

// What exact arithmetic on quantised operands gives (int8/int4 only): the kept sets are selected on the inputs as
// given (SPEC) and the scores and values use the quantised copies. For landmark (docs/patterns.md): the landmarks are
// pooled from the inputs as given, then quantised with the per-tensor scales of the landmark tensors.
sattn_ref::Result ideal_quantised_attention(const sattn_ref::Problem& problem, const sattn_ref::Inputs& inputs);

}  // namespace sattn_acc
