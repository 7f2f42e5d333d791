#include "rvv_kernel.hpp"

namespace sattn_rvv {
namespace {
int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
}  // namespace

// Must add up what carve() in rvv_kernel.cpp lays out: each piece rounded up to 16 floats (64 bytes).
int64_t scratch_floats(int64_t tile_q, int64_t tile_k, int64_t group, int64_t head_dim, int64_t head_dim_v) {
  const int64_t rows = round_up(group * tile_q, 16), chunk = round_up(chunk_rows(), 16);
  const int64_t tk = round_up(tile_k, 16);
  const int64_t pieces[] = {head_dim * rows,    // Q^T, scaled
                            head_dim * tk,      // K^T of the key tile
                            tk * head_dim_v,    // V of the key tile, where it must be converted
                            tk * chunk,         // S^T, then P^T, of one chunk of rows
                            head_dim_v * rows,  // O^T
                            rows,               // running max
                            rows,               // running sum
                            chunk};             // the chunk's rescale factors
  int64_t total = 0;
  for (const int64_t n : pieces) total += round_up(n, 16);
  return total;
}

}  // namespace sattn_rvv
