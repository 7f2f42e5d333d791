#include "layout/block_layout.hpp"

#include <algorithm>
#include <cstring>

#include "core/checked_math.hpp"
#include "core/descriptor.hpp"
#include "core/parallel.hpp"

namespace sattn {

Geometry Geometry::of(const sattn_problem& problem, int64_t attended_kv_len) {
  const sattn_attention_desc& d = problem.desc;
  Geometry g{};
  g.batch = d.batch;
  g.q_heads = d.num_q_heads;
  g.kv_heads = d.num_kv_heads;
  g.group = d.num_q_heads / d.num_kv_heads;
  g.q_len = d.q_len;
  g.kv_len = attended_kv_len;
  g.offset = d.kv_len - d.q_len;
  g.tile_q = problem.tile_q;
  g.tile_k = problem.tile_k;
  g.num_q_tiles = ceil_div(g.q_len, g.tile_q);
  g.num_k_tiles = ceil_div(g.kv_len, g.tile_k);
  g.causal = is_causal(d);
  return g;
}

namespace {

struct RowTiles {
  std::vector<int32_t> cols;
  std::vector<uint8_t> full;
  int64_t kept = 0;
};

// The query head whose predicate stands for every head of layout head h (rules shared by G heads ignore hq).
int64_t representative_q_head(const Geometry& g, int64_t heads, int64_t h) {
  if (heads == g.q_heads) return h;
  if (heads == g.kv_heads) return h * g.group;
  return 0;
}

void build_row(const Geometry& g, const sattn_layout& layout, int64_t b, int64_t h, int64_t qt,
               std::vector<int32_t>& candidates, std::vector<uint8_t>& mask, RowTiles& row) {
  const PatternRule& rule = *layout.rule;
  const int64_t i0 = g.q_begin(qt), i1 = g.q_end(qt);
  const int64_t p_first = g.position(i0), p_last = g.position(i1 - 1);
  const int64_t hq = representative_q_head(g, layout.heads, h);
  candidates.clear();
  rule.candidates(b, h, qt, candidates);
  for (const int32_t kt : candidates) {
    const int64_t j0 = g.k_begin(kt), j1 = g.k_end(kt);
    if (g.causal && j0 > p_last) break;  // candidates ascend: every later tile is in the future too
    TileClass cls = rule.classify(b, h, qt, kt);
    if (cls == TileClass::Empty) continue;
    if (cls == TileClass::Full && g.causal && j1 - 1 > p_first) cls = TileClass::Unknown;
    const int64_t area = (i1 - i0) * (j1 - j0);
    int64_t kept = area;
    if (cls == TileClass::Unknown) {
      kept = 0;
      for (int64_t i = i0; i < i1; ++i) {
        layout.row_mask(b, hq, i, j0, j1, mask.data());
        for (int64_t j = 0; j < j1 - j0; ++j) kept += mask[j];
      }
      if (kept == 0) continue;
    }
    row.cols.push_back(kt);
    row.full.push_back(kept == area ? 1 : 0);
    row.kept += kept;
  }
}

}  // namespace

std::unique_ptr<sattn_layout> build_layout(const Geometry& geometry, std::shared_ptr<const PatternRule> rule,
                                           int32_t num_threads) {
  auto layout = std::make_unique<sattn_layout>();
  layout->geometry = geometry;
  layout->batches = rule->batches();
  layout->heads = rule->heads();
  layout->rule = std::move(rule);
  const Geometry& g = layout->geometry;
  const int64_t rows = layout->batches * layout->heads * g.num_q_tiles;
  std::vector<RowTiles> tiles(static_cast<size_t>(rows));
  parallel_for(rows, num_threads, 4, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> candidates;
    std::vector<uint8_t> mask(static_cast<size_t>(g.tile_k));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t qt = r % g.num_q_tiles;
      const int64_t h = (r / g.num_q_tiles) % layout->heads;
      const int64_t b = r / (g.num_q_tiles * layout->heads);
      build_row(g, *layout, b, h, qt, candidates, mask, tiles[static_cast<size_t>(r)]);
    }
  });

  layout->row_ptr.resize(static_cast<size_t>(rows) + 1);
  layout->row_ptr[0] = 0;
  int64_t kept = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const RowTiles& row = tiles[static_cast<size_t>(r)];
    layout->row_ptr[static_cast<size_t>(r) + 1] =
        layout->row_ptr[static_cast<size_t>(r)] + static_cast<int64_t>(row.cols.size());
    kept += row.kept;
  }
  layout->cols.reserve(static_cast<size_t>(layout->row_ptr.back()));
  layout->full.reserve(static_cast<size_t>(layout->row_ptr.back()));
  for (const RowTiles& row : tiles) {
    layout->cols.insert(layout->cols.end(), row.cols.begin(), row.cols.end());
    layout->full.insert(layout->full.end(), row.full.begin(), row.full.end());
  }
  layout->kept_pairs = kept * (g.batch / layout->batches) * (g.q_heads / layout->heads);
  return layout;
}

}  // namespace sattn

int64_t sattn_layout::row_index(int64_t b, int64_t hq, int64_t qt) const {
  const sattn::Geometry& g = geometry;
  const int64_t bb = batches == 1 ? 0 : b;
  int64_t h = 0;
  if (heads == g.q_heads)
    h = hq;
  else if (heads == g.kv_heads)
    h = hq / g.group;
  return (bb * heads + h) * g.num_q_tiles + qt;
}

void sattn_layout::row_mask(int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const {
  rule->keep_row(b, hq, i, j0, j1, out);
  if (geometry.causal) {
    const int64_t p = geometry.position(i);
    for (int64_t j = std::max(j0, p + 1); j < j1; ++j) out[j - j0] = 0;
  }
}

double sattn_layout::density() const {
  const sattn::Geometry& g = geometry;
  // Relative to full attention over the original keys, so landmark attention reports m / kv_len.
  const double pairs = static_cast<double>(g.batch) * static_cast<double>(g.q_heads) * static_cast<double>(g.q_len) *
                       static_cast<double>(g.offset + g.q_len);
  return pairs > 0 ? static_cast<double>(kept_pairs) / pairs : 0.0;
}

sattn_layout_view sattn_layout::view() const {
  sattn_layout_view v{};
  v.tile_q = geometry.tile_q;
  v.tile_k = geometry.tile_k;
  v.num_q_tiles = geometry.num_q_tiles;
  v.num_k_tiles = geometry.num_k_tiles;
  v.batches = batches;
  v.heads = heads;
  v.row_ptr = row_ptr.data();
  v.cols = cols.data();
  v.full = full.data();
  v.keys = derived_keys.empty() ? nullptr : derived_keys.data();
  v.values = derived_values.empty() ? nullptr : derived_values.data();
  v.kv_len = geometry.kv_len;
  return v;
}

size_t sattn_layout::memory_bytes() const {
  return sizeof(*this) + row_ptr.capacity() * sizeof(int64_t) + cols.capacity() * sizeof(int32_t) + full.capacity() +
         (derived_keys.capacity() + derived_values.capacity()) * sizeof(float);
}

int64_t sattn_layout::num_spans() const { return static_cast<int64_t>(cols.size()); }
