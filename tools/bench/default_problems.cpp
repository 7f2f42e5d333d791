#include "default_problems.hpp"

#include <array>
#include <string>
#include <string_view>

namespace sattn_bench {

std::vector<Problem> default_problems() {
  // GQA with 4 query heads per kv head, causal, bf16 compute on f32 tensors: a decoder layer's prefill. The length
  // keeps the whole set (a correctness check and a timing of every pattern) near a minute on two cores.
  constexpr std::string_view kShape = "b1hq8hk2lq2048lk2048d64 causal precision=bf16 dtype=f32";
  constexpr std::array<std::string_view, 9> kPatterns{
      "pattern=dense",
      "pattern=sliding_window window_size=256",
      "pattern=sliding_window window_size=256 global_tokens=16",
      "pattern=block_topk block_size=64 keep_ratio=0.12 global_tokens=16",
      "pattern=block_local_global block_size=64 local_blocks=2 global_tokens=16",
      "pattern=nm_structured nm_n=2 nm_m=4",
      "pattern=topk_per_query topk_k=64",
      "pattern=lsh lsh_buckets=8 lsh_seed=1",
      "pattern=landmark num_landmarks=64",  // landmark is not defined with causal: this one drops it below
  };
  std::vector<Problem> problems;
  for (const std::string_view pattern : kPatterns) {
    std::string text = std::string(kShape) + " " + std::string(pattern);
    if (pattern.starts_with("pattern=landmark")) text.replace(text.find(" causal"), 7, "");
    problems.push_back(parse_problem(text, "default set"));
  }
  return problems;
}

}  // namespace sattn_bench
