#include "problem_data.hpp"

#include "core/splitmix.hpp"

#include <algorithm>

namespace sattn_bench {
namespace {

enum class TensorRole : uint64_t { q = 1, k = 2, v = 3, block_mask = 4 };

// Independent streams per tensor from one user seed.
uint64_t role_seed(uint64_t seed, TensorRole role) {
  return sattn::SplitMix64(seed ^ (static_cast<uint64_t>(role) * 0xD1B54A32D192ED03ull)).next();
}

int64_t ceil_div(int64_t numerator, int64_t denominator) { return (numerator + denominator - 1) / denominator; }

// Keeps each block with probability mask_density, and the block holding each query block's last position (the
// diagonal under bottom-right alignment), so that causal rows are rarely empty.
HostTensor make_block_mask(const Problem& problem, uint64_t seed) {
  const sattn_attention_desc& desc = problem.desc;
  const int64_t block = desc.params.block_size > 0 ? desc.params.block_size : 64;
  const int64_t query_blocks = ceil_div(desc.q_len, block);
  const int64_t key_blocks = ceil_div(desc.kv_len, block);
  HostTensor mask(SATTN_DTYPE_U8, {desc.batch, 1, query_blocks, key_blocks});
  sattn::SplitMix64 generator(role_seed(seed, TensorRole::block_mask));
  for (int64_t batch = 0; batch < desc.batch; ++batch) {
    for (int64_t query_block = 0; query_block < query_blocks; ++query_block) {
      const int64_t last_row = std::min(query_block * block + block - 1, desc.q_len - 1);
      const int64_t last_position = last_row + desc.kv_len - desc.q_len;
      const int64_t row_start = (batch * query_blocks + query_block) * key_blocks;
      for (int64_t key_block = 0; key_block < key_blocks; ++key_block) {
        const bool diagonal = last_position >= 0 && key_block == std::min(last_position / block, key_blocks - 1);
        const bool keep = diagonal || generator.next_unit() < static_cast<float>(problem.mask_density);
        mask.set(row_start + key_block, keep ? 1.0f : 0.0f);
      }
    }
  }
  return mask;
}

}  // namespace

ProblemInputs make_inputs(const Problem& problem, uint64_t seed) {
  const sattn_attention_desc& desc = problem.desc;
  ProblemInputs inputs{
      HostTensor(desc.dtype, {desc.batch, desc.num_q_heads, desc.q_len, desc.head_dim}),
      HostTensor(desc.dtype, {desc.batch, desc.num_kv_heads, desc.kv_len, desc.head_dim}),
      HostTensor(desc.dtype, {desc.batch, desc.num_kv_heads, desc.kv_len, desc.head_dim_v}),
      std::nullopt,
  };
  inputs.q.fill_uniform(role_seed(seed, TensorRole::q), -2.0f, 2.0f);
  inputs.k.fill_uniform(role_seed(seed, TensorRole::k), -2.0f, 2.0f);
  inputs.v.fill_uniform(role_seed(seed, TensorRole::v), -2.0f, 2.0f);
  if (desc.pattern == SATTN_PATTERN_BLOCK_MASK) inputs.block_mask = make_block_mask(problem, seed);
  return inputs;
}

ProblemOutputs make_outputs(const sattn_attention_desc& desc) {
  ProblemOutputs outputs{HostTensor(desc.dtype, {desc.batch, desc.num_q_heads, desc.q_len, desc.head_dim_v}),
                         std::nullopt};
  if (desc.flags & SATTN_FLAG_WANT_LSE) {
    outputs.lse = HostTensor(SATTN_DTYPE_F32, {desc.batch, desc.num_q_heads, desc.q_len});
  }
  return outputs;
}

sattn_run_args make_run_args(const ProblemInputs& inputs, const ProblemOutputs& outputs) {
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &inputs.q.view();
  args.k = &inputs.k.view();
  args.v = &inputs.v.view();
  args.o = &outputs.o.view();
  args.lse = outputs.lse ? &outputs.lse->view() : nullptr;
  args.block_mask = inputs.block_mask ? &inputs.block_mask->view() : nullptr;
  return args;
}

}  // namespace sattn_bench
