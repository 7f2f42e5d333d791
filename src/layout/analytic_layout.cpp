// Layouts of the patterns that depend only on the descriptor (dense, sliding_window with dilation, ring wrap and
// global tokens, block_local_global, and landmark's dense attention to its landmarks). Each query row keeps a union of
// a few arithmetic progressions of keys, so per query tile the touched tiles, the wholly kept tiles and the tiles cut
// only by the causal diagonal follow from interval arithmetic over its rows: O(tile_q) work and a few spans per query
// tile, never a walk over all key tiles. Kept pairs are counted per row in O(1).
#include <sattn_kernels.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "core/checked_math.hpp"
#include "core/descriptor.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "layout/block_layout.hpp"

namespace sattn {
namespace {

// Products of a step and a window's width need 128 bits (a GCC/clang extension).
__extension__ typedef __int128 WideInt;

// Keys lo, lo + step, ..., hi (hi - lo is a multiple of step).
struct Lattice {
  int64_t lo, hi, step;
  int64_t count_from(int64_t first) const {  // members >= first
    if (first <= lo) return (hi - lo) / step + 1;
    if (first > hi) return 0;
    const int64_t start = lo + ceil_div(first - lo, step) * step;
    return start > hi ? 0 : (hi - start) / step + 1;
  }
};

// Inclusive range of keys or of tiles.
struct Range {
  int64_t lo, hi;
};

// The kept keys of one query row.
struct RowKeys {
  std::vector<Lattice> parts;  // the global-key prefix (if any) first; the other parts are disjoint
  int64_t global_hi = -1;      // keys [0, global_hi] are the global prefix
  bool exact = true;           // false: parts hold a superset (the ring's hull), count by evaluating the rule
};

// Ring windows with more distinct steps than this are listed by their hull instead of point by point.
constexpr int64_t kMaxRingPoints = 4096;

int64_t ceil_div_signed(int64_t a, int64_t b) { return -sattn_floor_div(-a, b); }

void sort_merge(std::vector<Range>& ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  size_t out = 0;
  for (const Range& r : ranges) {
    if (out > 0 && r.lo <= ranges[out - 1].hi + 1)
      ranges[out - 1].hi = std::max(ranges[out - 1].hi, r.hi);
    else
      ranges[out++] = r;
  }
  ranges.resize(out);
}

// a := a intersect b, both sorted and disjoint.
void intersect(std::vector<Range>& a, const std::vector<Range>& b, std::vector<Range>& scratch) {
  scratch.clear();
  size_t x = 0, y = 0;
  while (x < a.size() && y < b.size()) {
    const int64_t lo = std::max(a[x].lo, b[y].lo), hi = std::min(a[x].hi, b[y].hi);
    if (lo <= hi) scratch.push_back({lo, hi});
    if (a[x].hi < b[y].hi)
      ++x;
    else
      ++y;
  }
  a.swap(scratch);
}

bool contains(const std::vector<Range>& ranges, int64_t x) {
  for (const Range& r : ranges)
    if (x >= r.lo && x <= r.hi) return true;
  return false;
}

class AnalyticRows {
 public:
  AnalyticRows(const Geometry& g, const sattn_element_rule& rule) : g_(g), rule_(rule) {}

  void keys(int64_t i, bool causal, RowKeys& out) const {
    out.parts.clear();
    out.global_hi = -1;
    out.exact = true;
    const int64_t p = g_.position(i), n = g_.kv_len;
    const int64_t last = causal ? std::min(n - 1, p) : n - 1;
    if (last < 0) return;
    const int64_t globals = rule_.global_tokens;
    if ((globals > 0 && p < globals) || rule_.kind == SATTN_RULE_ALL) {
      out.parts.push_back({0, last, 1});
      return;
    }
    if (globals > 0) {
      out.global_hi = std::min(globals - 1, last);
      out.parts.push_back({0, out.global_hi, 1});
    }
    switch (rule_.kind) {
      case SATTN_RULE_BAND:
        band_keys(p, last, out);
        break;
      case SATTN_RULE_BLOCK_BAND:
        block_band_keys(i, last, out);
        break;
      case SATTN_RULE_RING:
        ring_keys(p, last, out);
        break;
      default:
        break;
    }
  }

  int64_t count(int64_t i, const RowKeys& keys) const {
    if (!keys.exact) {  // a wide dilated ring window: count its positions in [global_hi + 1, last] in closed form
      const int64_t last = keys.parts.back().hi;
      return keys.global_hi + 1 + ring_positions_at_most(i, last) - ring_positions_at_most(i, keys.global_hi);
    }
    int64_t kept = keys.global_hi + 1;
    for (size_t n = keys.global_hi >= 0 ? 1 : 0; n < keys.parts.size(); ++n)
      kept += keys.parts[n].count_from(keys.global_hi + 1);
    return kept;
  }

 private:
  // p + r for offsets r in [band_lo, band_hi] that are multiples of the dilation, within [0, last].
  void band_keys(int64_t p, int64_t last, RowKeys& out) const {
    const int64_t d = rule_.dilation;
    const int64_t a = std::max<int64_t>(0, p + rule_.band_lo), b = std::min(last, p + rule_.band_hi);
    if (a > b) return;
    const int64_t lo = p + d * ceil_div_signed(a - p, d), hi = p + d * sattn_floor_div(b - p, d);
    if (lo <= hi) out.parts.push_back({lo, hi, d});
  }

  void block_band_keys(int64_t i, int64_t last, RowKeys& out) const {
    const int64_t bs = rule_.block_size;
    const int64_t c = sattn_floor_div((i / bs) * bs + g_.offset, bs);
    // No more than every block on either side matters; the clamp keeps the products below far from overflow.
    const int64_t reach = std::min(rule_.local_blocks, (g_.q_len + g_.kv_len) / bs + 2);
    const int64_t a = std::max<int64_t>(0, (c - reach) * bs), b = std::min(last, (c + reach + 1) * bs - 1);
    if (a <= b) out.parts.push_back({a, b, 1});
  }

  // (p + dilation * t) mod kv_len for steps t in [band_lo, band_hi], within [0, last].
  void ring_keys(int64_t p, int64_t last, RowKeys& out) const {
    const int64_t n = g_.kv_len, width = rule_.band_hi - rule_.band_lo + 1;
    auto clipped = [&](int64_t lo, int64_t hi) {
      hi = std::min(hi, last);
      if (lo <= hi) out.parts.push_back({lo, hi, 1});
    };
    if (width >= rule_.ring_period) {  // every position congruent to p modulo gcd(dilation, kv_len)
      const int64_t gcd = rule_.ring_gcd, first = sattn_positive_mod(p, gcd);
      if (first <= last) out.parts.push_back({first, first + (last - first) / gcd * gcd, gcd});
    } else if (rule_.dilation % n == 1) {  // a contiguous arc of the ring
      const int64_t start = sattn_positive_mod(p + rule_.band_lo, n), end = start + width - 1;
      clipped(start, std::min(end, n - 1));
      if (end >= n) clipped(0, end - n);
    } else if (width <= kMaxRingPoints) {  // distinct positions (width < period), one by one
      const size_t first_point = out.parts.size();
      for (int64_t t = rule_.band_lo; t <= rule_.band_hi; ++t) {
        const int64_t j = sattn_positive_mod(p + rule_.dilation * t, n);
        if (j <= last) out.parts.push_back({j, j, 1});
      }
      std::sort(out.parts.begin() + static_cast<std::ptrdiff_t>(first_point), out.parts.end(),
                [](const Lattice& a, const Lattice& b) { return a.lo < b.lo; });
    } else {
      out.exact = false;
      out.parts.push_back({0, last, 1});
    }
  }

  // How many steps t in [band_lo, band_hi] land at a ring position <= c (c in [-1, kv_len)), for windows narrower
  // than the ring's period (distinct positions). x mod n <= c exactly when floor(x/n) - floor((x - c - 1)/n) = 1,
  // so the count is a difference of two floor sums, O(log n) whatever the window's width.
  int64_t ring_positions_at_most(int64_t i, int64_t c) const {
    if (c < 0) return 0;
    const int64_t n = g_.kv_len, width = rule_.band_hi - rule_.band_lo + 1;
    const int64_t step = rule_.dilation % n;
    const int64_t base = sattn_positive_mod(
        sattn_positive_mod(g_.position(i), n) + static_cast<int64_t>(static_cast<WideInt>(step) * rule_.band_lo % n),
        n);
    // sum floor((base + step s) / n) - sum floor((base - c - 1 + step s) / n); the second base shifted by n to stay
    // non-negative, which adds exactly one per term.
    const WideInt above = floor_sum(width, n, step, base);
    const WideInt below = floor_sum(width, n, step, base - c - 1 + n) - width;
    return static_cast<int64_t>(above - below);
  }

  // sum over s in [0, count) of floor((a * s + b) / m), for a, b >= 0 and m > 0 (the Euclid-like reduction).
  static WideInt floor_sum(WideInt count, WideInt m, WideInt a, WideInt b) {
    WideInt sum = 0;
    while (true) {
      if (a >= m) {
        sum += count * (count - 1) / 2 * (a / m);
        a %= m;
      }
      if (b >= m) {
        sum += count * (b / m);
        b %= m;
      }
      const WideInt top = a * count + b;
      if (top < m) return sum;
      count = top / m;
      b = top % m;
      std::swap(m, a);
    }
  }

  const Geometry& g_;
  const sattn_element_rule& rule_;
};

// Key tiles wholly inside a key range.
bool inner_tiles(const Geometry& g, const Range& keys, Range& tiles) {
  tiles.lo = ceil_div(keys.lo, g.tile_k);
  tiles.hi = keys.hi == g.kv_len - 1 ? g.num_k_tiles - 1 : (keys.hi + 1) / g.tile_k - 1;
  return tiles.lo <= tiles.hi;
}

// Scratch of one worker.
struct QueryTileScratch {
  RowKeys keys;
  std::vector<Range> touched, full, full_without_causal, row_ranges, swap;
  std::vector<Range> full_tiles, causal_tiles;
  std::vector<int64_t> cuts;
};

// The step-1 (interval) parts of a row, sorted and merged: what the row keeps wholly.
void interval_parts(const RowKeys& keys, std::vector<Range>& out) {
  out.clear();
  for (size_t n = 0; n < keys.parts.size(); ++n) {
    const Lattice& part = keys.parts[n];
    const bool interval = part.step == 1 || part.lo == part.hi;
    if (interval && (keys.exact || (n == 0 && keys.global_hi >= 0))) out.push_back({part.lo, part.hi});
  }
  sort_merge(out);
}

// Intersection over the query tile's rows of what each keeps wholly (with or without causal).
void wholly_kept(const AnalyticRows& rows, int64_t i0, int64_t i1, bool causal, QueryTileScratch& s,
                 std::vector<Range>& out) {
  out.clear();
  for (int64_t i = i0; i < i1; ++i) {
    rows.keys(i, causal, s.keys);
    interval_parts(s.keys, s.row_ranges);
    if (i == i0)
      out = s.row_ranges;
    else
      intersect(out, s.row_ranges, s.swap);
    if (out.empty()) return;
  }
}

void build_query_tile(const Geometry& g, const AnalyticRows& rows, int64_t qt, QueryTileScratch& s, RowSpans& row) {
  const int64_t i0 = g.q_begin(qt), i1 = g.q_end(qt);
  s.touched.clear();
  for (int64_t i = i0; i < i1; ++i) {
    rows.keys(i, g.causal, s.keys);
    row.kept += rows.count(i, s.keys);
    for (const Lattice& part : s.keys.parts) {
      if (part.step <= g.tile_k) {
        s.touched.push_back({part.lo / g.tile_k, part.hi / g.tile_k});
      } else {
        for (int64_t j = part.lo; j <= part.hi; j += part.step) s.touched.push_back({j / g.tile_k, j / g.tile_k});
      }
    }
  }
  if (s.touched.empty()) return;
  sort_merge(s.touched);

  wholly_kept(rows, i0, i1, g.causal, s, s.full);
  if (g.causal)
    wholly_kept(rows, i0, i1, false, s, s.full_without_causal);
  else
    s.full_without_causal = s.full;
  auto to_tiles = [&](const std::vector<Range>& keys, std::vector<Range>& tiles) {
    tiles.clear();
    Range t{};
    for (const Range& k : keys)
      if (inner_tiles(g, k, t)) tiles.push_back(t);
  };
  to_tiles(s.full, s.full_tiles);
  to_tiles(s.full_without_causal, s.causal_tiles);

  // Tile kinds are constant between consecutive range ends: cut there and classify each piece once.
  s.cuts.clear();
  for (const auto* list : {&s.touched, &s.full_tiles, &s.causal_tiles})
    for (const Range& r : *list) {
      s.cuts.push_back(r.lo);
      s.cuts.push_back(r.hi + 1);
    }
  std::sort(s.cuts.begin(), s.cuts.end());
  s.cuts.erase(std::unique(s.cuts.begin(), s.cuts.end()), s.cuts.end());
  for (size_t n = 0; n + 1 < s.cuts.size(); ++n) {
    const int64_t x = s.cuts[n], y = s.cuts[n + 1];
    if (!contains(s.touched, x)) continue;
    int32_t kind = SATTN_TILE_RULE;
    if (contains(s.full_tiles, x))
      kind = SATTN_TILE_FULL;
    else if (contains(s.causal_tiles, x))
      kind = SATTN_TILE_CAUSAL;
    row.add_range(x, y, kind);
  }
}

// x with a * x = 1 (mod m), for gcd(a, m) = 1 (extended Euclid).
int64_t modular_inverse(int64_t a, int64_t m) {
  int64_t old_r = a, r = m, old_s = 1, s = 0;
  while (r != 0) {
    const int64_t q = old_r / r;
    old_r = std::exchange(r, old_r - q * r);
    old_s = std::exchange(s, old_s - q * s);
  }
  return sattn_positive_mod(old_s, m);
}

}  // namespace

sattn_element_rule element_rule_of(const sattn_problem& problem, const Geometry& g) {
  const sattn_attention_desc& d = *problem.desc;
  const sattn_pattern_params& p = d.params;
  sattn_element_rule rule = dense_rule(g);
  switch (d.pattern) {
    case SATTN_PATTERN_SLIDING_WINDOW:
      rule.global_tokens = p.global_tokens;
      rule.dilation = p.dilation;
      if (p.wrap == 0) {
        rule.kind = SATTN_RULE_BAND;
        rule.band_lo = -p.window_size * p.dilation;
        rule.band_hi = g.causal ? 0 : p.window_size * p.dilation;
      } else {
        // The ring's step congruence dilation * t = r (mod kv_len) is solved once here; the rule's product of two
        // numbers below kv_len fits int64 because the descriptor checks keep kv_len <= 2^31 with wrap.
        require(g.kv_len <= (int64_t{1} << 31), "sliding_window with wrap = 1 needs kv_len <= 2^31, got ", g.kv_len);
        rule.kind = SATTN_RULE_RING;
        rule.band_lo = -p.window_size;
        rule.band_hi = g.causal ? 0 : p.window_size;
        const int64_t step = p.dilation % g.kv_len;
        rule.ring_gcd = std::gcd(step, g.kv_len);  // gcd(0, n) = n: every step lands where it started
        rule.ring_period = g.kv_len / rule.ring_gcd;
        rule.ring_inverse = rule.ring_period == 1 ? 0 : modular_inverse(step / rule.ring_gcd, rule.ring_period);
      }
      break;
    case SATTN_PATTERN_BLOCK_LOCAL_GLOBAL:
      rule.kind = SATTN_RULE_BLOCK_BAND;
      rule.global_tokens = p.global_tokens;
      rule.block_size = p.block_size;
      rule.local_blocks = p.local_blocks;
      break;
    default:  // dense, and landmark's dense attention to its landmarks
      break;
  }
  return rule;
}

std::unique_ptr<sattn_layout> build_analytic_layout(const Geometry& geometry, const sattn_element_rule& rule,
                                                    int32_t num_threads) {
  auto layout = empty_layout(geometry, 1, 1);
  layout->rule = rule;
  const Geometry& g = layout->geometry;
  const AnalyticRows rows(g, layout->rule);
  std::vector<RowSpans> built(static_cast<size_t>(g.num_q_tiles));
  parallel_for(g.num_q_tiles, num_threads, 64, [&](int64_t begin, int64_t end) {
    QueryTileScratch scratch;
    for (int64_t qt = begin; qt < end; ++qt) build_query_tile(g, rows, qt, scratch, built[static_cast<size_t>(qt)]);
  });
  assemble_rows(*layout, built);
  return layout;
}

}  // namespace sattn
