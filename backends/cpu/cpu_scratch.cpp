#include "cpu_kernel.hpp"

namespace sattn_cpu {
namespace {
int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
}  // namespace

int64_t scratch_floats(int64_t tile_q, int64_t tile_k, int64_t group, int64_t head_dim, int64_t head_dim_v,
                       SelectionScratch selection) {
  // Rows padded to kRowPad: at least what any path's carve pads a block of group * tile_q rows to.
  return scratch_layout(round_up(group * tile_q, kRowPad), round_up(tile_k, kColPad), round_up(head_dim_v, kColPad),
                        head_dim, head_dim_v, selection)
      .total;
}

int64_t packed_tile_floats(int64_t tile_k, int64_t head_dim, int64_t head_dim_v) {
  const int64_t tk = round_up(tile_k, kColPad);
  // A key or value row on its way, and its bf16 bits (pack_keys_bf16, pack_values_bf16: two value rows).
  const int64_t dv = round_up(head_dim_v, kColPad), wider = head_dim + 1 > dv ? head_dim + 1 : dv;
  return round_up(head_dim * tk, 16) + round_up(tk * dv, 16) + round_up(2 * wider, 16);
}

}  // namespace sattn_cpu
