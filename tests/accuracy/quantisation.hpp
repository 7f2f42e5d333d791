// What the accuracy suites add for the int8 and int4 precisions: keys shaped like those of trained models (a large
// offset per channel shared by every key, which K smoothing exists for) and the bounds the library is held to.
// The quantised computation itself is simulated by the reference (sattn_ref::quantised_attention).
#pragma once

#include "reference.hpp"

#include <cstdint>
#include <random>
#include <vector>

namespace sattn_acc {

bool is_integer_precision(int precision);

// K [B, Hk, Lk, D] as N(0, 1) plus, per (batch, kv head, channel), an offset of random sign and magnitude uniform
// in [bias / 2, bias].
std::vector<float> draw_biased_keys(std::mt19937& generator, const sattn_ref::Problem& problem, double bias);

// The library (exact CPU backend, P.V accumulated in fp32) against the float64 simulation of the quantised
// computation: O as relative error, LSE as absolute error.
double simulation_o_tolerance();
double simulation_lse_tolerance();

}  // namespace sattn_acc
