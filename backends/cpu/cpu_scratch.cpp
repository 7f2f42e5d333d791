#include "cpu_kernel.hpp"

#include <algorithm>

namespace sattn_cpu {
namespace {
int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
}  // namespace

// Must add up what carve() in cpu_kernel.inc lays out: each piece rounded up to 16 floats (64 bytes).
int64_t scratch_floats(int64_t tile_q, int64_t tile_k, int64_t group, int64_t head_dim, int64_t head_dim_v) {
  const int64_t rows = round_up(group * tile_q, kRowPad), tk = round_up(tile_k, kColPad);
  const int64_t dv = round_up(head_dim_v, kColPad);
  const int64_t pieces[] = {
      rows * head_dim, head_dim * tk, tk * dv, rows * tk, rows * tk / 2,
      rows * dv,       rows,          rows,    rows,      head_dim > head_dim_v ? head_dim : head_dim_v};
  int64_t total = 0;
  for (const int64_t n : pieces) total += round_up(n, 16);
  return total;
}

int64_t packed_tile_floats(int64_t tile_k, int64_t head_dim, int64_t head_dim_v) {
  const int64_t tk = round_up(tile_k, kColPad);
  const int64_t staging = head_dim > head_dim_v ? head_dim : head_dim_v;  // a key row on its way to K^T
  return round_up(head_dim * tk, 16) + round_up(tk * round_up(head_dim_v, kColPad), 16) + round_up(staging, 16);
}

}  // namespace sattn_cpu
