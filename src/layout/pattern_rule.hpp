// A data-dependent or user-given pattern as the generic layout builder sees it: which key tiles a query tile may
// touch and the element predicate. Causal masking is applied by the builder on top of every rule, never inside one.
// Patterns that depend only on the descriptor do not come through here: analytic_layout.cpp builds them from their
// element rule by interval arithmetic.
#pragma once

#include <sattn_backend.h>

#include <cstdint>
#include <vector>

namespace sattn {

// Positions and tiles of one problem. Query i sits at p_i = i + (Lk - Lq) (bottom-right alignment).
struct Geometry {
  int64_t batch, q_heads, kv_heads, group;
  int64_t q_len, kv_len;  // kv_len: the attended key sequence (the landmarks for landmark attention)
  int64_t offset;         // Lk - Lq of the original problem
  int64_t tile_q, tile_k, num_q_tiles, num_k_tiles;
  bool causal;

  static Geometry of(const sattn_problem& problem, int64_t attended_kv_len);
  int64_t position(int64_t i) const { return i + offset; }
  int64_t q_begin(int64_t qt) const { return qt * tile_q; }
  int64_t q_end(int64_t qt) const { return qt * tile_q + tile_q < q_len ? qt * tile_q + tile_q : q_len; }
  int64_t k_begin(int64_t kt) const { return kt * tile_k; }
  int64_t k_end(int64_t kt) const { return kt * tile_k + tile_k < kv_len ? kt * tile_k + tile_k : kv_len; }
};

// global_tokens = g (docs/patterns.md): keys j < g are kept by every query and queries at p < g keep every key.
// With g = 0 nobody is global, in particular not the queries at negative positions that Lq > Lk creates.
struct GlobalTokens {
  int64_t g = 0;
  bool key(int64_t j) const { return j < g; }
  bool query(int64_t p) const { return g > 0 && p < g; }
};

class PatternRule {
 public:
  virtual ~PatternRule() = default;
  // Layout rows exist per (batch', head') with batch' in [0, batches()) and head' in [0, heads()); heads() is 1,
  // the kv head count or the query head count.
  virtual int64_t batches() const = 0;
  virtual int64_t heads() const = 0;
  // Ascending, unique key tiles that may hold a kept key for query tile qt of (batch', head') (a superset is fine:
  // the builder drops tiles that keep nothing).
  virtual void candidates(int64_t b, int64_t h, int64_t qt, std::vector<int32_t>& out) const = 0;
  // Without causal: out[j - j0] = keep(i, j) for query i of (batch b, query head hq), keys j in [j0, j1) of one
  // candidate tile.
  virtual void keep_row(int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const = 0;
  // true when, without causal, every query of tile qt of (batch', head') keeps every key of candidate tile kt: the
  // builder then classifies the tile without evaluating keep_row element by element (block patterns whose blocks
  // are the tiles). false: not known, evaluate.
  virtual bool keeps_whole_tile(int64_t b, int64_t h, int64_t qt, int64_t kt) const {
    (void)b, (void)h, (void)qt, (void)kt;
    return false;
  }
};

}  // namespace sattn
