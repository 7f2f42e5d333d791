// Patterns whose kept sets depend only on positions (and, for block_mask, on the caller's layout): dense,
// sliding_window, block_local_global and block_mask.
#include "detail.hpp"

#include <cstdlib>
#include <stdexcept>

namespace sattn_ref::detail {

void mask_dense(const Problem& problem, const Shape& shape, std::vector<uint8_t>& mask) {
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hq = 0; hq < shape.Hq; ++hq)
      for (int64_t i = 0; i < shape.Lq; ++i) {
        std::span<uint8_t> row = mask_row(mask, shape, b, hq, i);
        for (uint8_t& kept : row) kept = 1;
        apply_global_and_causal(row, shape.position(i), 0, problem.causal);
      }
}

// j = p + d*t for t in [-w, w] ([-w, 0] with causal); dropped outside [0, Lk), or taken mod Lk with wrap.
void mask_sliding_window(const Problem& problem, const Shape& shape, std::vector<uint8_t>& mask) {
  const sattn_pattern_params& params = problem.params;
  const int64_t w = params.window_size;
  const int64_t last_t = problem.causal ? 0 : w;
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hq = 0; hq < shape.Hq; ++hq)
      for (int64_t i = 0; i < shape.Lq; ++i) {
        std::span<uint8_t> row = mask_row(mask, shape, b, hq, i);
        const int64_t p = shape.position(i);
        for (int64_t t = -w; t <= last_t; ++t) {
          int64_t j = p + params.dilation * t;
          if (params.wrap != 0) {
            j = floor_mod(j, shape.Lk);
          } else if (j < 0 || j >= shape.Lk) {
            continue;
          }
          row[static_cast<size_t>(j)] = 1;
        }
        apply_global_and_causal(row, p, params.global_tokens, problem.causal);
      }
}

// Query block qb keeps key blocks kb with |kb - c| <= l, c = floor((qb*b + Lk - Lq) / b).
void mask_block_local_global(const Problem& problem, const Shape& shape, std::vector<uint8_t>& mask) {
  const sattn_pattern_params& params = problem.params;
  const int64_t block = params.block_size;
  if (block <= 0) throw std::invalid_argument("sattn_ref: block_local_global needs block_size > 0");
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hq = 0; hq < shape.Hq; ++hq)
      for (int64_t i = 0; i < shape.Lq; ++i) {
        std::span<uint8_t> row = mask_row(mask, shape, b, hq, i);
        const int64_t query_block = i / block;
        const int64_t centre = floor_div(query_block * block + shape.Lk - shape.Lq, block);
        for (int64_t j = 0; j < shape.Lk; ++j) {
          const int64_t key_block = j / block;
          if (std::llabs(key_block - centre) <= params.local_blocks) row[static_cast<size_t>(j)] = 1;
        }
        apply_global_and_causal(row, shape.position(i), params.global_tokens, problem.causal);
      }
}

// mask[b][h or 0][qb][kb] != 0 keeps the whole block; then causal.
void mask_block_mask(const Problem& problem, const Inputs& inputs, const Shape& shape, std::vector<uint8_t>& mask) {
  const int64_t block = problem.params.block_size;
  if (block <= 0) throw std::invalid_argument("sattn_ref: block_mask needs block_size > 0");
  const int64_t heads = inputs.mask_heads;
  if (heads != 1 && heads != shape.Hq) throw std::invalid_argument("sattn_ref: mask_heads must be 1 or Hq");
  const int64_t query_blocks = ceil_div(shape.Lq, block);
  const int64_t key_blocks = ceil_div(shape.Lk, block);
  if (inputs.block_mask.size() != static_cast<size_t>(shape.B * heads * query_blocks * key_blocks))
    throw std::invalid_argument("sattn_ref: block_mask must hold B*mask_heads*ceil(Lq/b)*ceil(Lk/b) bytes");
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hq = 0; hq < shape.Hq; ++hq)
      for (int64_t i = 0; i < shape.Lq; ++i) {
        std::span<uint8_t> row = mask_row(mask, shape, b, hq, i);
        const int64_t mask_head = heads == 1 ? 0 : hq;
        const int64_t block_row = ((b * heads + mask_head) * query_blocks + i / block) * key_blocks;
        for (int64_t j = 0; j < shape.Lk; ++j)
          row[static_cast<size_t>(j)] = inputs.block_mask[static_cast<size_t>(block_row + j / block)] != 0 ? 1 : 0;
        apply_global_and_causal(row, shape.position(i), 0, problem.causal);
      }
}

}  // namespace sattn_ref::detail
