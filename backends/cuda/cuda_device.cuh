// Device helpers both kernels share: element loads and stores by dtype, and walking a layout row's key tiles.
#pragma once

#include <sattn_kernels.h>

#include <cuda_runtime.h>

#include "cuda_kernels.hpp"

namespace sattn_cuda {

__device__ inline float load_element(const void* base, int64_t index, int32_t dtype) {
  if (dtype == SATTN_DTYPE_F32) return static_cast<const float*>(base)[index];
  const uint16_t bits = static_cast<const uint16_t*>(base)[index];
  return dtype == SATTN_DTYPE_BF16 ? sattn_bf16_to_float(bits) : sattn_f16_to_float(bits);
}

__device__ inline void store_element(void* base, int64_t index, int32_t dtype, float value) {
  if (dtype == SATTN_DTYPE_F32) {
    static_cast<float*>(base)[index] = value;
    return;
  }
  static_cast<uint16_t*>(base)[index] =
      dtype == SATTN_DTYPE_BF16 ? sattn_float_to_bf16(value) : sattn_float_to_f16(value);
}

// Offset in elements of row `row` of head h of batch b.
__device__ inline int64_t row_offset(const Operand& t, int64_t b, int64_t h, int64_t row) {
  return b * t.stride[0] + h * t.stride[1] + row * t.stride[2];
}

// Whether query row i keeps key j in a tile of the given span: the core's tile kinds by sattn_tile_keeps, the
// backend's own (CudaTileKind) from the run's selection. b and hq locate the row for the latter.
__device__ inline bool tile_keeps(const KernelParams& p, const sattn_tile_span& span, int64_t tile, int64_t b,
                                  int64_t hq, int64_t i, int64_t j) {
  const sattn_element_rule& rule = *p.layout.rule;
  switch (span.kind) {
    case kTileBlockMask: {  // the block's mask bit, or a global token (block_topk), then causal
      if (i >= p.q_len || j >= p.kv_len) return false;  // rows and keys past the ends have no mask entry
      const Selection& s = p.selection;
      const int64_t h = s.mask_head_divisor == 0 ? 0 : hq / s.mask_head_divisor;
      const bool kept = s.block_mask[b * s.mask_stride[0] + h * s.mask_stride[1] + i / s.block_size * s.mask_stride[2] +
                                     j / s.block_size * s.mask_stride[3]] != 0;
      return sattn_rule_keeps(&rule, i, j) || (kept && (!rule.causal || j <= i + rule.q_offset));
    }
    case kTileBuckets: {
      const Selection& s = p.selection;
      const int64_t position = i + rule.q_offset;
      const bool kept =
          j == position || s.q_buckets[(b * p.q_heads + hq) * p.q_len + i] ==
                               s.k_buckets[(b * p.kv_heads + hq / (p.q_heads / p.kv_heads)) * p.kv_len + j];
      return kept && (!rule.causal || j <= position);
    }
    default:
      return sattn_tile_keeps(&p.layout, &span, tile, i, j) != 0;
  }
}

// The key tiles of one layout row in ascending order: span by span, tile by tile. Every thread of a block walks
// the same row, so the cursor stays uniform and the branches it takes do not diverge.
struct TileCursor {
  const sattn_tile_span* spans;
  int64_t span, span_end, tile;

  __device__ static TileCursor begin(const sattn_layout_view& layout, int64_t row) {
    TileCursor c{layout.spans, layout.row_ptr[row], layout.row_ptr[row + 1], 0};
    while (c.span < c.span_end && c.spans[c.span].k_begin >= c.spans[c.span].k_end) ++c.span;
    if (c.span < c.span_end) c.tile = c.spans[c.span].k_begin;
    return c;
  }
  __device__ bool valid() const { return span < span_end; }
  __device__ const sattn_tile_span& current() const { return spans[span]; }
  __device__ void advance() {
    if (++tile < spans[span].k_end) return;
    while (++span < span_end && spans[span].k_begin >= spans[span].k_end) {
    }
    if (span < span_end) tile = spans[span].k_begin;
  }
};

// Moves a cursor to the tile with the given ordinal in its row (spans are skipped whole).
__device__ inline void skip_tiles(TileCursor& cursor, int64_t count) {
  while (cursor.valid() && count > 0) {
    const int64_t left = cursor.spans[cursor.span].k_end - cursor.tile;
    if (count < left) {
      cursor.tile += count;
      return;
    }
    count -= left;
    cursor.tile += left - 1;
    cursor.advance();
  }
}

__device__ inline int64_t count_tiles(const sattn_layout_view& layout, int64_t row) {
  int64_t tiles = 0;
  for (int64_t s = layout.row_ptr[row]; s < layout.row_ptr[row + 1]; ++s)
    tiles += max(int64_t{0}, int64_t{layout.spans[s].k_end} - layout.spans[s].k_begin);
  return tiles;
}

// Keep bits (tile_keep_bits' numbering) of a rule evaluated row by row: for each of the thread's rows inside the
// query, row_rule(i, head, position) returns the row's predicate of (column c, key j), asked for the keys up to the
// row's last allowed one (its position under a causal mask, the end of the keys) in increasing column order.
template <class RowRule>
__device__ inline uint32_t row_rule_bits(const KernelParams& p, int64_t k0, int64_t row0, int64_t row1, int64_t head0,
                                         int64_t head1, int quad, RowRule row_rule) {
  constexpr int kKeys = static_cast<int>(kTileK);
  const sattn_element_rule& rule = *p.layout.rule;
  uint32_t bits = 0;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t i = h == 0 ? row0 : row1, head = h == 0 ? head0 : head1;
    if (i >= p.q_len) continue;
    const int64_t position = i + rule.q_offset;
    const int64_t last = rule.causal ? min(position, p.kv_len - 1) : p.kv_len - 1;
    auto keeps = row_rule(i, head, position);
    // Not unrolled: one copy of the rule's code and few registers, in the kernels' busiest stretch.
#pragma unroll 1
    for (int k = 0; k < kKeys / 4; ++k) {  // the row's 16 columns: 8-key column k / 2, element 2 h + k % 2
      const int c = k / 2 * 8 + 2 * quad + k % 2;
      const int64_t j = k0 + c;
      bits |= static_cast<uint32_t>(j <= last && keeps(c, j)) << (k / 2 * 4 + 2 * h + k % 2);
    }
  }
  return bits;
}

// Masked block tiles (kTileBlockMask): one mask lookup per key block the thread's columns reach (one or two at block
// sizes >= 64) instead of an element predicate with two 64-bit divisions per score: a row keeps the global keys,
// everything if it is a global query, and the mask's kept blocks.
__device__ inline uint32_t block_mask_bits(const KernelParams& p, int64_t k0, int64_t b, int64_t row0, int64_t row1,
                                           int64_t head0, int64_t head1, int quad) {
  const sattn_element_rule& rule = *p.layout.rule;
  const Selection& s = p.selection;
  const int64_t block = s.block_size, kb0 = k0 / block;
  return row_rule_bits(p, k0, row0, row1, head0, head1, quad, [&](int64_t i, int64_t head, int64_t position) {
    const bool global_row = rule.global_tokens > 0 && position < rule.global_tokens;
    const int64_t mask_head = s.mask_head_divisor == 0 ? 0 : head / s.mask_head_divisor;
    const uint8_t* const mask_row =
        s.block_mask + b * s.mask_stride[0] + mask_head * s.mask_stride[1] + i / block * s.mask_stride[2];
    int64_t boundary = (kb0 + 1) * block - k0;  // columns below `boundary` are in the current key block
    bool block_kept = mask_row[kb0 * s.mask_stride[3]] != 0;
    return [=](int c, int64_t j) mutable {
      if (c >= boundary) {  // columns only grow: move to the key block of c
        const int64_t kb = j / block;
        boundary = (kb + 1) * block - k0;
        block_kept = mask_row[kb * s.mask_stride[3]] != 0;
      }
      return global_row || j < rule.global_tokens || block_kept;
    };
  });
}

// Bucket tiles (kTileBuckets): the row's bucket once, the keys' buckets straight from the array.
__device__ inline uint32_t bucket_bits(const KernelParams& p, int64_t k0, int64_t b, int64_t row0, int64_t row1,
                                       int64_t head0, int64_t head1, int quad) {
  const Selection& s = p.selection;
  return row_rule_bits(p, k0, row0, row1, head0, head1, quad, [&](int64_t i, int64_t head, int64_t position) {
    const int32_t bucket = s.q_buckets[(b * p.q_heads + head) * p.q_len + i];
    const int32_t* const key_buckets = s.k_buckets + (b * p.kv_heads + head / (p.q_heads / p.kv_heads)) * p.kv_len;
    return [=](int, int64_t j) { return j == position || key_buckets[j] == bucket; };
  });
}

// BITS tiles: one word of the tile's row per row (64 keys), no predicate per score.
__device__ inline uint32_t bit_tile_bits(const KernelParams& p, const TileCursor& cursor, int64_t k0, int64_t row0,
                                         int64_t row1, int quad) {
  constexpr int kKeys = static_cast<int>(kTileK);
  const sattn_tile_span& span = cursor.current();
  const sattn_layout_view& view = p.layout;
  const uint64_t* const tile =
      view.bits + span.bits + (cursor.tile - span.k_begin) * view.tile_q * view.bits_words_per_row;
  uint32_t bits = 0;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t i = h == 0 ? row0 : row1;
    if (i >= p.q_len) continue;
    const uint64_t word = tile[i % view.tile_q * view.bits_words_per_row];
#pragma unroll 1
    for (int k = 0; k < kKeys / 4; ++k) {  // as in row_rule_bits
      const int c = k / 2 * 8 + 2 * quad + k % 2;
      const bool keep = k0 + c < p.kv_len && ((word >> c) & 1u) != 0;
      bits |= static_cast<uint32_t>(keep) << (k / 2 * 4 + 2 * h + k % 2);
    }
  }
  return bits;
}

// A whole tile: FULL and inside the keys, every score kept (no mask work).
__device__ inline bool tile_is_whole(const KernelParams& p, const TileCursor& cursor) {
  return cursor.current().kind == SATTN_TILE_FULL && (int64_t{cursor.tile} + 1) * kTileK <= p.kv_len;
}

// Keep bits of the 32 scores a thread holds of one 16-row mma tile against a 64-key tile: bit n * 4 + e for fragment
// element e of the 8-key column n, whose row is row0 (e < 2) or row1 (e >= 2), of query head head0 or head1 (the decode
// split packs several heads into a tile), and whose key is 8 n + 2 quad + (e & 1). By the span's kind: all ones for a
// whole tile inside the sequence; for causal and plain-band tiles one interval per row plus the global keys (two
// comparisons per score); BITS tiles one word per row, masked block tiles one lookup per key block, bucket tiles
// one bucket per row and key; otherwise the layout's predicate per score, in a loop that is not unrolled (one copy of
// its code, few registers).
__device__ inline uint32_t tile_keep_bits(const KernelParams& p, const TileCursor& cursor, int64_t b, int64_t row0,
                                          int64_t row1, int64_t head0, int64_t head1, int quad) {
  constexpr int kKeys = static_cast<int>(kTileK);
  const sattn_tile_span& span = cursor.current();
  const sattn_element_rule& rule = *p.layout.rule;
  const int32_t kind = span.kind;
  const int64_t k0 = cursor.tile * kKeys;
  if (kind == SATTN_TILE_CAUSAL || (kind == SATTN_TILE_RULE && rule.kind == SATTN_RULE_BAND && rule.dilation == 1)) {
    uint32_t bits = 0;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t position = (h == 0 ? row0 : row1) + rule.q_offset;
      const bool causal = kind == SATTN_TILE_CAUSAL || rule.causal;
      const int64_t last = causal ? min(position, p.kv_len - 1) : p.kv_len - 1;
      int64_t lo = 0, hi = last, global_end = 0;
      if (kind == SATTN_TILE_RULE) {
        global_end = min(rule.global_tokens, last + 1);
        if (rule.global_tokens == 0 || position >= rule.global_tokens)
          lo = position + rule.band_lo, hi = min(position + rule.band_hi, last);
      }
      const int lo_c = static_cast<int>(min(max(lo - k0, int64_t{0}), int64_t{kKeys}));
      const int hi_c = static_cast<int>(max(min(hi - k0, int64_t{kKeys - 1}), int64_t{-1}));
      const int global_c = static_cast<int>(min(max(global_end - k0, int64_t{0}), int64_t{kKeys}));
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
        for (int e = 2 * h; e < 2 * h + 2; ++e) {
          const int c = n * 8 + 2 * quad + (e & 1);
          bits |= static_cast<uint32_t>(c < global_c || (c >= lo_c && c <= hi_c)) << (n * 4 + e);
        }
    }
    return bits;
  }
  if (tile_is_whole(p, cursor)) return ~0u;
  // The masked kinds, each in a function of its own.
  if (kind == kTileBlockMask) return block_mask_bits(p, k0, b, row0, row1, head0, head1, quad);
  if (kind == kTileBuckets) return bucket_bits(p, k0, b, row0, row1, head0, head1, quad);
  if (kind == SATTN_TILE_BITS) return bit_tile_bits(p, cursor, k0, row0, row1, quad);
  uint32_t bits = 0;  // other rules, backend kinds, and FULL tiles cut by the end of the keys
#pragma unroll 1
  for (int index = 0; index < 32; ++index) {
    const int n = index / 4, e = index % 4, h = e / 2;
    const int64_t j = k0 + n * 8 + 2 * quad + (e & 1);
    bool keep = j < p.kv_len;
    const int64_t row = h == 0 ? row0 : row1;
    if (keep)
      keep = kind == SATTN_TILE_CAUSAL ? j <= row + rule.q_offset
                                       : tile_keeps(p, span, cursor.tile, b, h == 0 ? head0 : head1, row, j);
    bits |= static_cast<uint32_t>(keep) << index;
  }
  return bits;
}

}  // namespace sattn_cuda
