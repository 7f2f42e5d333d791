// Factories of the data-dependent and user-given pattern rules, and make_layout(), the one entry point the plan uses.
#pragma once

#include <sattn_backend.h>

#include <memory>
#include <vector>

#include "layout/block_layout.hpp"
#include "layout/pattern_rule.hpp"

namespace sattn {

// The inputs data-dependent selections read: the run's tensors and, for the rules that read every element, contiguous
// fp32 copies of Q and K as given (selection is in fp32). block_topk leaves q and k empty: it reads rows from args.
struct SelectionInputs {
  const sattn_problem& problem;
  const sattn_run_args& args;
  std::vector<float> q, k;  // [B, Hq, Lq, D] and [B, Hk, Lk, D]
};

std::shared_ptr<const PatternRule> make_block_mask_rule(const sattn_problem& problem, const Geometry& g,
                                                        const sattn_tensor& mask);
std::shared_ptr<const PatternRule> make_block_topk_rule(const Geometry& g, const SelectionInputs& in);
std::shared_ptr<const PatternRule> make_row_selection_rule(const Geometry& g, const SelectionInputs& in);  // nm, topk
std::shared_ptr<const PatternRule> make_lsh_rule(const Geometry& g, const SelectionInputs& in);

// Landmark keys and values per (batch, kv head): segment means refined by k-means (docs/patterns.md).
void compute_landmarks(const SelectionInputs& in, std::vector<float>& keys, std::vector<float>& values);

// The layout of a problem for its tile shape (problem.tile_q, tile_k). Static patterns need no args (pass nullptr);
// data-dependent ones read args' tensors, which must have passed check_run_args and live in host memory.
std::unique_ptr<sattn_layout> make_layout(const sattn_problem& problem, const sattn_run_args* args,
                                          int32_t num_threads);

// fp32 dot product accumulated in increasing index order, each product rounded before it is added: the order and
// rounding the selections are defined with. The product is a statement of its own so that no compiler fuses it with
// the sum (clang's default -ffp-contract=on fuses within one expression, into fmadd on riscv64).
inline float dot_f32(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float product = a[i] * b[i];
    acc += product;
  }
  return acc;
}

// Orders candidates for top-k choices: larger score first, ties (and NaN, ranked lowest) to the lower index.
struct ScoreOrder {
  const float* scores;
  bool operator()(int64_t a, int64_t b) const {
    const float sa = rank(scores[a]), sb = rank(scores[b]);
    return sa > sb || (sa == sb && a < b);
  }
  static float rank(float s) { return s == s ? s : -__builtin_inff(); }
};

// Key tiles covering pattern blocks: appends, for each block kb in `blocks` (ascending), the tiles its keys
// [kb * block, min(kv_len, (kb + 1) * block)) overlap. The caller sorts and deduplicates.
void append_block_tiles(const Geometry& g, int64_t block, const std::vector<int32_t>& blocks,
                        std::vector<int32_t>& out);
void sort_unique(std::vector<int32_t>& tiles);

}  // namespace sattn
