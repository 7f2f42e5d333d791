// The canonical intermediate form of DESIGN.md: per (batch, head, query tile) the key tiles to visit, each full or
// partial, plus the pattern's element predicate for partial tiles. Built once per plan for static patterns and per
// run for data-dependent ones; immutable once built, so any number of threads may read it.
#pragma once

#include <sattn_backend.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "layout/pattern_rule.hpp"

struct sattn_layout {
  sattn::Geometry geometry{};
  int64_t batches = 1, heads = 1;
  std::vector<int64_t> row_ptr;
  std::vector<int32_t> cols;
  std::vector<uint8_t> full;
  std::shared_ptr<const sattn::PatternRule> rule;
  std::vector<float> derived_keys, derived_values;  // landmark: [B, Hk, m, D] and [B, Hk, m, Dv]
  int64_t kept_pairs = 0;                           // exact, over every batch and query head

  int64_t row_index(int64_t b, int64_t hq, int64_t qt) const;
  // keep_row of the rule, then causal.
  void row_mask(int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const;
  double density() const;
  size_t memory_bytes() const;
  int64_t num_spans() const;
  sattn_layout_view view() const;
};

namespace sattn {

// Builds the layout of a rule over the geometry, classifying each candidate tile exactly.
std::unique_ptr<sattn_layout> build_layout(const Geometry& geometry, std::shared_ptr<const PatternRule> rule,
                                           int32_t num_threads);

}  // namespace sattn
