// Internal helpers of the reference: validated shapes, row addressing, integer arithmetic with the rounding
// docs/patterns.md uses, the float32 dot product of selections and the rules shared by several patterns.
#pragma once

#include "reference.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace sattn_ref::detail {

// The problem's sizes after checking them against each other and against the inputs; G = Hq / Hk.
struct Shape {
  int64_t B, Hq, Hk, G, Lq, Lk, D, Dv;

  // p_i of docs/patterns.md: queries are aligned to the bottom-right of the key range.
  [[nodiscard]] int64_t position(int64_t i) const { return i + Lk - Lq; }
  [[nodiscard]] int64_t kv_head(int64_t hq) const { return hq / G; }
};

Shape validated_shape(const Problem& problem, const Inputs& inputs);

// Read-only rows of the [B, H, L, X] inputs.
struct InputRows {
  const Shape& shape;
  const Inputs& inputs;

  [[nodiscard]] std::span<const float> q(int64_t b, int64_t hq, int64_t i) const;
  [[nodiscard]] std::span<const float> k(int64_t b, int64_t hk, int64_t j) const;
  [[nodiscard]] std::span<const float> v(int64_t b, int64_t hk, int64_t j) const;
};

// Row i of query head hq in a [B, Hq, Lq, Lk] mask.
std::span<uint8_t> mask_row(std::vector<uint8_t>& mask, const Shape& shape, int64_t b, int64_t hq, int64_t i);

// Division rounding toward minus infinity, and the matching non-negative remainder (positions may be negative).
int64_t floor_div(int64_t a, int64_t b);
int64_t floor_mod(int64_t a, int64_t b);
int64_t ceil_div(int64_t a, int64_t b);  // a >= 0, b > 0

// The selection dot product: float32, accumulated in increasing d order.
float dot_f32(std::span<const float> a, std::span<const float> b);

// The n best of `candidates` by descending score, ties to the lower index (n may exceed the candidate count).
std::vector<int64_t> best_indices(const std::vector<int64_t>& candidates, const std::vector<float>& score_of_index,
                                  int64_t n);

// global_tokens g (when g > 0): keys j < g are kept, and a query at p < g keeps every key. Then causal removes
// keys j > p. Every pattern ends its row with this (patterns without global tokens pass g = 0).
void apply_global_and_causal(std::span<uint8_t> row, int64_t p, int64_t global_tokens, bool causal);

// The pattern rules, each filling a zeroed [B, Hq, Lq, Lk] mask.
void mask_dense(const Problem&, const Shape&, std::vector<uint8_t>& mask);
void mask_sliding_window(const Problem&, const Shape&, std::vector<uint8_t>& mask);
void mask_block_local_global(const Problem&, const Shape&, std::vector<uint8_t>& mask);
void mask_block_mask(const Problem&, const Inputs&, const Shape&, std::vector<uint8_t>& mask);
void mask_block_topk(const Problem&, const Inputs&, const Shape&, std::vector<uint8_t>& mask);
void mask_nm_structured(const Problem&, const Inputs&, const Shape&, std::vector<uint8_t>& mask);
void mask_topk_per_query(const Problem&, const Inputs&, const Shape&, std::vector<uint8_t>& mask);
void mask_lsh(const Problem&, const Inputs&, const Shape&, std::vector<uint8_t>& mask);

// Landmark keys and values of one (batch, kv head): m rows of D and m rows of Dv.
struct Landmarks {
  std::vector<double> keys, values;
};
Landmarks landmarks(const Problem&, const Inputs&, const Shape&, int64_t b, int64_t hk);

// SplitMix64 as docs/patterns.md defines it (the LSH projection's generator).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();

 private:
  uint64_t state_;
};

}  // namespace sattn_ref::detail
