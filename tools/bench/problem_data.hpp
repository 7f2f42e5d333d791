// The tensors of one problem: random inputs (and block mask) shared by the tested and the reference runs, and
// per-run outputs.
#pragma once

#include <cstdint>
#include <optional>

#include "host_tensor.hpp"
#include "problem.hpp"

namespace sattn_bench {

struct ProblemInputs {
  HostTensor q;
  HostTensor k;
  HostTensor v;
  std::optional<HostTensor> block_mask;  // block_mask pattern only
};

struct ProblemOutputs {
  HostTensor o;
  std::optional<HostTensor> lse;  // with SATTN_FLAG_WANT_LSE
};

// Q, K, V uniform in [-2, 2) in the problem's dtype; they depend only on the seed and the shapes.
ProblemInputs make_inputs(const Problem& problem, uint64_t seed);
ProblemOutputs make_outputs(const sattn_attention_desc& desc);
// The arguments point into inputs and outputs: build them after both are in their final place.
sattn_run_args make_run_args(const ProblemInputs& inputs, const ProblemOutputs& outputs);

}  // namespace sattn_bench
