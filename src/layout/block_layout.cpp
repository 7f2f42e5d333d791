#include "layout/block_layout.hpp"

#include <sattn_kernels.h>

#include <algorithm>
#include <cstring>

#include "core/checked_math.hpp"
#include "core/descriptor.hpp"
#include "core/parallel.hpp"

namespace sattn {

Geometry Geometry::of(const sattn_problem& problem, int64_t attended_kv_len) {
  const sattn_attention_desc& d = *problem.desc;
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

void RowSpans::add(int64_t kt, int32_t kind, const uint64_t* tile_bits, int64_t tile_words) {
  const auto k = static_cast<int32_t>(kt);
  const bool continues = !spans.empty() && spans.back().kind == kind && spans.back().k_end == k;
  if (continues) {
    ++spans.back().k_end;
  } else {
    spans.push_back({k, k + 1, kind, 0, kind == SATTN_TILE_BITS ? static_cast<int64_t>(bits.size()) : 0});
  }
  if (kind == SATTN_TILE_BITS) bits.insert(bits.end(), tile_bits, tile_bits + tile_words);
}

void RowSpans::add_range(int64_t k_begin, int64_t k_end, int32_t kind) {
  if (k_begin >= k_end) return;
  if (!spans.empty() && spans.back().kind == kind && spans.back().k_end == k_begin) {
    spans.back().k_end = static_cast<int32_t>(k_end);
    return;
  }
  spans.push_back({static_cast<int32_t>(k_begin), static_cast<int32_t>(k_end), kind, 0, 0});
}

std::unique_ptr<sattn_layout> empty_layout(const Geometry& geometry, int64_t batches, int64_t heads) {
  auto layout = std::make_unique<sattn_layout>();
  layout->geometry = geometry;
  layout->batches = batches;
  layout->heads = heads;
  layout->head_divisor = heads == geometry.q_heads ? 1 : geometry.group;
  layout->words_per_row = ceil_div(geometry.tile_k, 64);
  layout->rule = dense_rule(geometry);
  return layout;
}

sattn_element_rule dense_rule(const Geometry& geometry) {
  sattn_element_rule rule{};
  rule.struct_size = sizeof(sattn_element_rule);
  rule.kind = SATTN_RULE_ALL;
  rule.causal = geometry.causal ? 1 : 0;
  rule.q_offset = geometry.offset;
  rule.kv_len = geometry.kv_len;
  rule.dilation = 1;
  return rule;
}

void assemble_rows(sattn_layout& layout, std::vector<RowSpans>& rows) {
  size_t total_spans = 0, total_bits = 0;
  for (const RowSpans& row : rows) {
    total_spans += row.spans.size();
    total_bits += row.bits.size();
  }
  layout.row_ptr.assign(rows.size() + 1, 0);
  layout.spans.reserve(total_spans);
  layout.bits.reserve(total_bits);
  int64_t kept = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    RowSpans& row = rows[r];
    const auto bits_base = static_cast<int64_t>(layout.bits.size());
    for (sattn_tile_span span : row.spans) {
      if (span.kind == SATTN_TILE_BITS) span.bits += bits_base;
      layout.spans.push_back(span);
    }
    layout.bits.insert(layout.bits.end(), row.bits.begin(), row.bits.end());
    layout.row_ptr[r + 1] = static_cast<int64_t>(layout.spans.size());
    kept += row.kept;
    row = RowSpans{};  // release as we go: peak memory stays near one copy
  }
  const Geometry& g = layout.geometry;
  layout.kept_pairs = kept * (g.batch / layout.batches) * (g.q_heads / layout.heads);
}

namespace {

// The query head whose predicate stands for every head of layout head h (rules shared by G heads ignore hq).
int64_t representative_q_head(const Geometry& g, int64_t heads, int64_t h) {
  if (heads == g.q_heads) return h;
  if (heads == g.kv_heads) return h * g.group;
  return 0;
}

// Scratch of one worker of the generic builder.
struct TileScratch {
  std::vector<int32_t> candidates;
  std::vector<uint8_t> mask;
  std::vector<uint64_t> words;
};

void build_row(const Geometry& g, const PatternRule& rule, int64_t heads, int64_t b, int64_t h, int64_t qt,
               int64_t words_per_row, TileScratch& s, RowSpans& row) {
  const int64_t i0 = g.q_begin(qt), i1 = g.q_end(qt);
  const int64_t p_last = g.position(i1 - 1);
  const int64_t hq = representative_q_head(g, heads, h);
  s.candidates.clear();
  rule.candidates(b, h, qt, s.candidates);
  for (const int32_t kt : s.candidates) {
    const int64_t j0 = g.k_begin(kt), j1 = g.k_end(kt);
    if (g.causal && j0 > p_last) break;         // candidates ascend: every later tile is in the future too
    if (rule.keeps_whole_tile(b, h, qt, kt)) {  // FULL, or CAUSAL where the diagonal cuts it: counted by rows
      int64_t kept = 0;
      for (int64_t i = i0; i < i1; ++i)
        kept += g.causal ? std::clamp<int64_t>(g.position(i) + 1, j0, j1) - j0 : j1 - j0;
      if (kept == 0) continue;
      row.add(kt, kept == (i1 - i0) * (j1 - j0) ? SATTN_TILE_FULL : SATTN_TILE_CAUSAL, nullptr, 0);
      row.kept += kept;
      continue;
    }
    std::fill(s.words.begin(), s.words.end(), 0);
    int64_t kept = 0, kept_without_causal = 0;
    for (int64_t i = i0; i < i1; ++i) {
      rule.keep_row(b, hq, i, j0, j1, s.mask.data());
      const int64_t causal_end = g.causal ? std::clamp<int64_t>(g.position(i) + 1, j0, j1) : j1;
      uint64_t* words = &s.words[static_cast<size_t>((i - i0) * words_per_row)];
      for (int64_t j = j0; j < j1; ++j) {
        if (s.mask[static_cast<size_t>(j - j0)] == 0) continue;
        ++kept_without_causal;
        if (j >= causal_end) continue;
        ++kept;
        words[(j - j0) / 64] |= uint64_t{1} << ((j - j0) % 64);
      }
    }
    if (kept == 0) continue;
    const int64_t area = (i1 - i0) * (j1 - j0);
    int32_t kind = SATTN_TILE_BITS;
    if (kept == area)
      kind = SATTN_TILE_FULL;
    else if (kept_without_causal == area)
      kind = SATTN_TILE_CAUSAL;
    row.add(kt, kind, s.words.data(), static_cast<int64_t>(s.words.size()));
    row.kept += kept;
  }
}

}  // namespace

std::unique_ptr<sattn_layout> build_layout(const Geometry& geometry, std::shared_ptr<const PatternRule> rule,
                                           int32_t num_threads) {
  auto layout = empty_layout(geometry, rule->batches(), rule->heads());
  const Geometry& g = layout->geometry;
  const int64_t heads = layout->heads, words_per_row = layout->words_per_row;
  const int64_t rows = layout->batches * heads * g.num_q_tiles;
  std::vector<RowSpans> built(static_cast<size_t>(rows));
  parallel_for(rows, num_threads, 4, [&](int64_t begin, int64_t end) {
    TileScratch scratch;
    scratch.mask.resize(static_cast<size_t>(g.tile_k));
    scratch.words.resize(static_cast<size_t>(g.tile_q * words_per_row));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t qt = r % g.num_q_tiles;
      const int64_t h = (r / g.num_q_tiles) % heads;
      const int64_t b = r / (g.num_q_tiles * heads);
      build_row(g, *rule, heads, b, h, qt, words_per_row, scratch, built[static_cast<size_t>(r)]);
    }
  });
  assemble_rows(*layout, built);
  return layout;
}

}  // namespace sattn

int64_t sattn_layout::row_index(int64_t b, int64_t hq, int64_t qt) const {
  const int64_t bb = batches == 1 ? 0 : b;
  const int64_t h = heads == 1 ? 0 : hq / head_divisor;
  return (bb * heads + h) * geometry.num_q_tiles + qt;
}

double sattn_layout::density() const {
  const sattn::Geometry& g = geometry;
  // Relative to full attention over the original keys, so landmark attention reports m / kv_len.
  const double pairs = static_cast<double>(g.batch) * static_cast<double>(g.q_heads) * static_cast<double>(g.q_len) *
                       static_cast<double>(g.offset + g.q_len);
  return pairs > 0 ? static_cast<double>(kept_pairs) / pairs : 0.0;
}

size_t sattn_layout::memory_bytes() const {
  return sizeof(*this) + row_ptr.capacity() * sizeof(int64_t) + spans.capacity() * sizeof(sattn_tile_span) +
         bits.capacity() * sizeof(uint64_t) + (derived_keys.capacity() + derived_values.capacity()) * sizeof(float);
}

sattn_layout_view sattn_layout::view() const {
  sattn_layout_view v{};
  v.struct_size = sizeof(sattn_layout_view);
  v.tile_q = geometry.tile_q;
  v.tile_k = geometry.tile_k;
  v.num_q_tiles = geometry.num_q_tiles;
  v.num_k_tiles = geometry.num_k_tiles;
  v.q_len = geometry.q_len;
  v.kv_len = geometry.kv_len;
  v.batches = batches;
  v.heads = heads;
  v.head_divisor = head_divisor;
  v.row_ptr = row_ptr.data();
  v.spans = spans.data();
  v.bits = bits.empty() ? nullptr : bits.data();
  v.bits_words_per_row = words_per_row;
  v.rule = &rule;
  v.keys = derived_keys.empty() ? nullptr : derived_keys.data();
  v.values = derived_values.empty() ? nullptr : derived_values.data();
  v.kept_pairs = kept_pairs;
  v.num_spans = static_cast<int64_t>(spans.size());
  v.num_bits_words = static_cast<int64_t>(bits.size());
  return v;
}
