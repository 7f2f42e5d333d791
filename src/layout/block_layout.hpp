// The canonical intermediate form: per (batch', head', query tile) ascending spans of key tiles, each FULL, CAUSAL,
// RULE (the analytic element rule) or BITS (packed masks), for the tile shape the chosen backend asked for. Built
// once per plan for patterns that depend only on the descriptor (O(L / tile) memory: a few spans per query tile) and
// per run for data-dependent ones; immutable once built, so any number of threads may read it.
#pragma once

#include <sattn_backend.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "layout/pattern_rule.hpp"

struct sattn_layout {
  sattn::Geometry geometry{};
  int64_t batches = 1, heads = 1, head_divisor = 1;
  std::vector<int64_t> row_ptr;
  std::vector<sattn_tile_span> spans;
  std::vector<uint64_t> bits;
  int64_t words_per_row = 1;
  sattn_element_rule rule{};
  std::vector<float> derived_keys, derived_values;  // landmark: [B, Hk, m, D] and [B, Hk, m, Dv]
  int64_t kept_pairs = 0;                           // exact, over every batch and query head

  int64_t row_index(int64_t b, int64_t hq, int64_t qt) const;
  double density() const;
  size_t memory_bytes() const;
  int64_t num_spans() const { return static_cast<int64_t>(spans.size()); }
  sattn_layout_view view() const;
};

namespace sattn {

// One layout row under construction.
struct RowSpans {
  std::vector<sattn_tile_span> spans;
  std::vector<uint64_t> bits;  // BITS words, span.bits relative to this row until assembled
  int64_t kept = 0;
  // Appends tile kt of the given kind, extending the last span when it continues it.
  void add(int64_t kt, int32_t kind, const uint64_t* tile_bits, int64_t tile_words);
  void add_range(int64_t k_begin, int64_t k_end, int32_t kind);
};

// Shell of a layout: geometry, sharing, words per bit row and a rule for CAUSAL tiles.
std::unique_ptr<sattn_layout> empty_layout(const Geometry& geometry, int64_t batches, int64_t heads);
// The rule of dense attention over the geometry (causal when it is): what CAUSAL tiles and dense layouts read.
sattn_element_rule dense_rule(const Geometry& geometry);
// Concatenates the rows (in row order) into the layout's CSR arrays and sets kept_pairs from the rows' counts.
void assemble_rows(sattn_layout& layout, std::vector<RowSpans>& rows);

// The generic builder of data-dependent and user-given patterns: evaluates the rule (and causal) on every element
// of every candidate tile, drops tiles that keep nothing, and classifies the rest exactly.
std::unique_ptr<sattn_layout> build_layout(const Geometry& geometry, std::shared_ptr<const PatternRule> rule,
                                           int32_t num_threads);

// Patterns that depend only on the descriptor (dense, sliding_window, block_local_global, and landmark's dense
// attention to its landmarks): spans by interval arithmetic per query tile, exact kept pairs by counting per row.
sattn_element_rule element_rule_of(const sattn_problem& problem, const Geometry& geometry);
std::unique_ptr<sattn_layout> build_analytic_layout(const Geometry& geometry, const sattn_element_rule& rule,
                                                    int32_t num_threads);

}  // namespace sattn
