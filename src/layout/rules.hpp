// Factories of the pattern rules, and make_layout(), the one entry point backends and the plan use.
#pragma once

#include <sattn_backend.h>

#include <memory>
#include <vector>

#include "layout/block_layout.hpp"
#include "layout/pattern_rule.hpp"

namespace sattn {

// The inputs data-dependent selections read: contiguous fp32 copies of Q and K as given (SPEC: selection in fp32).
struct SelectionInputs {
  const sattn_problem& problem;
  const sattn_run_args& args;
  std::vector<float> q, k;  // [B, Hq, Lq, D] and [B, Hk, Lk, D]
};

// dense, sliding_window, block_local_global; nullptr for the others.
std::shared_ptr<const PatternRule> make_static_rule(const sattn_problem& problem, const Geometry& g);
std::shared_ptr<const PatternRule> make_dense_rule(const Geometry& g);
std::shared_ptr<const PatternRule> make_block_mask_rule(const Geometry& g, const sattn_tensor& mask);
std::shared_ptr<const PatternRule> make_block_topk_rule(const Geometry& g, const SelectionInputs& in);
std::shared_ptr<const PatternRule> make_row_selection_rule(const Geometry& g, const SelectionInputs& in);  // nm, topk
std::shared_ptr<const PatternRule> make_lsh_rule(const Geometry& g, const SelectionInputs& in);

// Landmark keys and values per (batch, kv head): segment means refined by k-means (SPEC.md).
void compute_landmarks(const SelectionInputs& in, std::vector<float>& keys, std::vector<float>& values);

// The layout of a problem. Static patterns need no args (pass nullptr); data-dependent ones read args' tensors,
// which must have passed check_run_args and live in host memory.
std::unique_ptr<sattn_layout> make_layout(const sattn_problem& problem, const sattn_run_args* args,
                                          int32_t num_threads);

// fp32 dot product accumulated in increasing index order, the order SPEC's selections are defined with.
inline float dot_f32(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
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

}  // namespace sattn
