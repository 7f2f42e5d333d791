// The block layout of every pattern against the brute-force kept sets of tests/reference (written from
// docs/patterns.md alone): a key is kept exactly when its tile is listed and, for a partial tile, the element
// predicate keeps it; full tiles are wholly kept, no listed tile is empty, and kept_pairs counts exactly.
#include <catch2/catch.hpp>
#include <random>
#include <sstream>

#include <sattn_kernels.h>

#include "core/descriptor.hpp"
#include "layout/rules.hpp"
#include "reference.hpp"

namespace {

struct Case {
  std::string name;
  sattn_attention_desc desc;
};

sattn_attention_desc base(int64_t hq, int64_t hk, int64_t lq, int64_t lk, bool causal) {
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = 2;
  d.num_q_heads = hq;
  d.num_kv_heads = hk;
  d.q_len = lq;
  d.kv_len = lk;
  d.head_dim = 8;
  d.head_dim_v = 4;
  d.flags = causal ? SATTN_FLAG_CAUSAL : 0u;
  return d;
}

std::vector<Case> cases_for(int32_t pattern) {
  struct Shape {
    int64_t hq, hk, lq, lk;
  };
  const Shape shapes[] = {{2, 2, 45, 45}, {4, 2, 29, 70}, {4, 1, 70, 29}, {2, 1, 1, 33}};
  std::vector<Case> cases;
  for (const Shape& s : shapes)
    for (const bool causal : {false, true}) {
      sattn_attention_desc d = base(s.hq, s.hk, s.lq, s.lk, causal);
      d.pattern = pattern;
      sattn_pattern_params& p = d.params;
      std::vector<std::pair<std::string, sattn_pattern_params>> variants;
      switch (pattern) {
        case SATTN_PATTERN_DENSE:
          variants.push_back({"", p});
          break;
        case SATTN_PATTERN_SLIDING_WINDOW:
          p.window_size = 3, p.block_size = 8, variants.push_back({"w3", p});
          p.dilation = 3, variants.push_back({"w3 d3", p});
          p.wrap = 1, variants.push_back({"w3 d3 wrap", p});
          p.dilation = 1, p.window_size = 20, variants.push_back({"w20 wrap", p});
          p.wrap = 0, p.window_size = 4, p.global_tokens = 5, variants.push_back({"w4 g5", p});
          p.wrap = 1, p.dilation = 2, variants.push_back({"w4 d2 g5 wrap", p});
          break;
        case SATTN_PATTERN_BLOCK_TOPK:
          p.block_size = 8, p.keep_ratio = 0.3f, variants.push_back({"b8 r.3", p});
          p.global_tokens = 11, variants.push_back({"b8 r.3 g11", p});
          p.global_tokens = 0, p.comp_block_size = 4, variants.push_back({"b8 r.3 c4", p});
          p.comp_block_size = 5, p.topk_blocks = 2, variants.push_back({"b8 n2 c5", p});
          p.block_size = 16, p.comp_block_size = 0, p.topk_blocks = 100, variants.push_back({"b16 n100", p});
          break;
        case SATTN_PATTERN_BLOCK_LOCAL_GLOBAL:
          p.block_size = 8, variants.push_back({"b8 l1", p});
          p.local_blocks = 0, p.global_tokens = 9, variants.push_back({"b8 l0 g9", p});
          p.local_blocks = 2, p.block_size = 7, variants.push_back({"b7 l2 g9", p});
          break;
        case SATTN_PATTERN_NM_STRUCTURED:
          p.nm_n = 2, p.nm_m = 4, p.block_size = 16, variants.push_back({"2:4", p});
          p.nm_n = 1, p.nm_m = 5, variants.push_back({"1:5", p});
          p.nm_n = 3, p.nm_m = 3, variants.push_back({"3:3", p});
          break;
        case SATTN_PATTERN_TOPK_PER_QUERY:
          p.topk_k = 5, p.block_size = 16, variants.push_back({"k5", p});
          p.topk_k = 200, variants.push_back({"k200", p});
          break;
        case SATTN_PATTERN_LSH:
          p.lsh_buckets = 4, p.lsh_seed = 7, p.block_size = 16, variants.push_back({"nb4", p});
          p.lsh_buckets = 2, p.lsh_seed = 123456789, variants.push_back({"nb2", p});
          break;
        default:
          break;
      }
      for (auto& [label, params] : variants) {
        sattn_attention_desc v = d;
        v.params = params;
        std::ostringstream name;
        name << "Hq" << s.hq << " Hk" << s.hk << " Lq" << s.lq << " Lk" << s.lk << (causal ? " causal " : " ") << label;
        cases.push_back({name.str(), v});
      }
    }
  return cases;
}

struct Tensors {
  std::vector<float> q, k, v;
  sattn_tensor tq{}, tk{}, tv{};
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  explicit Tensors(const sattn_attention_desc& d, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    auto fill = [&](std::vector<float>& x, int64_t h, int64_t l, int64_t dim, sattn_tensor& t) {
      x.resize(static_cast<size_t>(d.batch * h * l * dim));
      for (float& value : x) value = dist(rng);
      t = {x.data(), SATTN_DEVICE_CPU, 0, SATTN_DTYPE_F32, 4, {d.batch, h, l, dim}, {h * l * dim, l * dim, dim, 1}};
    };
    fill(q, d.num_q_heads, d.q_len, d.head_dim, tq);
    fill(k, d.num_kv_heads, d.kv_len, d.head_dim, tk);
    fill(v, d.num_kv_heads, d.kv_len, d.head_dim_v, tv);
    args.q = &tq;
    args.k = &tk;
    args.v = &tv;
  }
};

// Whether the layout keeps key j for query i of (b, hq): through the public view and the shared predicates.
bool layout_keeps(const sattn_layout_view& view, int64_t b, int64_t hq, int64_t i, int64_t j) {
  const int64_t row = sattn_layout_row(&view, b, hq, i / view.tile_q), kt = j / view.tile_k;
  for (int64_t n = view.row_ptr[row]; n < view.row_ptr[row + 1]; ++n) {
    const sattn_tile_span& span = view.spans[n];
    if (kt >= span.k_begin && kt < span.k_end) return sattn_tile_keeps(&view, &span, kt, i, j) != 0;
  }
  return false;
}

// Tile shapes the layouts are checked with: the pattern's block, shapes that cut across it, one tile per element.
constexpr std::pair<int64_t, int64_t> kTileShapes[] = {{8, 8}, {5, 7}, {16, 4}, {64, 64}, {1, 3}};

std::unique_ptr<sattn_layout> layout_for(const sattn::ResolvedProblem& resolved, int64_t tile_q, int64_t tile_k,
                                         const sattn_run_args* args) {
  const sattn_problem problem = resolved.problem(tile_q, tile_k);
  return sattn::make_layout(problem, args, 0);
}

// Checks a layout against the brute-force kept mask [B, Hq, Lq, Lk]: the same keys, exact kept_pairs, spans
// ascending, no listed tile empty (for layouts of one query head), FULL tiles wholly and CAUSAL tiles causally kept.
void check_against(const sattn_layout& layout, const sattn_attention_desc& d, const std::vector<uint8_t>& expected) {
  const sattn_layout_view view = layout.view();
  auto want = [&](int64_t b, int64_t hq, int64_t i, int64_t j) {
    return expected[static_cast<size_t>(((b * d.num_q_heads + hq) * d.q_len + i) * d.kv_len + j)] != 0;
  };
  int64_t kept = 0, mismatches = 0;
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t hq = 0; hq < d.num_q_heads; ++hq)
      for (int64_t i = 0; i < d.q_len; ++i)
        for (int64_t j = 0; j < d.kv_len; ++j) {
          const bool expect = want(b, hq, i, j), got = layout_keeps(view, b, hq, i, j);
          kept += expect;
          if (expect != got && mismatches++ < 5)
            FAIL_CHECK("b" << b << " hq" << hq << " i" << i << " j" << j << ": reference " << expect << ", layout "
                           << got);
        }
  REQUIRE(mismatches == 0);
  CHECK(layout.kept_pairs == kept);

  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t hq = 0; hq < d.num_q_heads; ++hq)
      for (int64_t qt = 0; qt < view.num_q_tiles; ++qt) {
        const int64_t row = sattn_layout_row(&view, b, hq, qt);
        const int64_t i0 = qt * view.tile_q, i1 = std::min(d.q_len, i0 + view.tile_q);
        int64_t previous_end = 0;
        for (int64_t n = view.row_ptr[row]; n < view.row_ptr[row + 1]; ++n) {
          const sattn_tile_span& span = view.spans[n];
          CHECK(span.k_begin >= previous_end);
          CHECK(span.k_begin < span.k_end);
          previous_end = span.k_end;
          for (int64_t kt = span.k_begin; kt < span.k_end; ++kt) {
            const int64_t j0 = kt * view.tile_k, j1 = std::min(d.kv_len, j0 + view.tile_k);
            int64_t tile_kept = 0, causal_mismatch = 0;
            for (int64_t i = i0; i < i1; ++i)
              for (int64_t j = j0; j < j1; ++j) {
                tile_kept += want(b, hq, i, j);
                if (span.kind == SATTN_TILE_CAUSAL)
                  causal_mismatch += want(b, hq, i, j) != (j <= i + d.kv_len - d.q_len);
              }
            // Tiles shared by the G heads of a kv head must keep something for at least one of them.
            if (layout.heads == d.num_q_heads || d.num_q_heads == d.num_kv_heads) CHECK(tile_kept > 0);
            if (span.kind == SATTN_TILE_FULL) CHECK(tile_kept == (i1 - i0) * (j1 - j0));
            CHECK(causal_mismatch == 0);
          }
        }
      }
}

// The reference's kept sets; mask (block_mask only) is [B, mask_heads, blocks, blocks].
std::vector<uint8_t> brute_force(const sattn_attention_desc& d, const Tensors& t, const std::vector<uint8_t>* mask,
                                 int64_t mask_heads) {
  sattn_ref::Problem rp{d.batch, d.num_q_heads, d.num_kv_heads, d.q_len, d.kv_len, d.head_dim, d.head_dim_v};
  rp.causal = (d.flags & SATTN_FLAG_CAUSAL) != 0;
  rp.pattern = d.pattern;
  rp.params = d.params;
  sattn_ref::Inputs in;
  in.q = t.q;
  in.k = t.k;
  in.v = t.v;
  if (mask != nullptr) {
    in.block_mask = *mask;
    in.mask_heads = mask_heads;
  }
  return sattn_ref::kept_mask(rp, in);
}

void check_layout(const Case& c, uint32_t seed) {
  const sattn::ResolvedProblem resolved = sattn::resolve_problem(&c.desc, nullptr);
  const sattn_attention_desc& d = resolved.desc;
  Tensors t(d, seed);
  const std::vector<uint8_t> expected = brute_force(d, t, nullptr, 1);
  for (const auto& [tile_q, tile_k] : kTileShapes) {
    INFO(c.name << " tiles " << tile_q << "x" << tile_k);
    const auto layout = layout_for(resolved, tile_q, tile_k, &t.args);
    check_against(*layout, d, expected);
  }
}

}  // namespace

TEST_CASE("layouts match the brute-force kept sets of every pattern", "[layout]") {
  const int32_t patterns[] = {SATTN_PATTERN_DENSE,
                              SATTN_PATTERN_SLIDING_WINDOW,
                              SATTN_PATTERN_BLOCK_TOPK,
                              SATTN_PATTERN_BLOCK_LOCAL_GLOBAL,
                              SATTN_PATTERN_NM_STRUCTURED,
                              SATTN_PATTERN_TOPK_PER_QUERY,
                              SATTN_PATTERN_LSH};
  uint32_t seed = 1;
  for (const int32_t pattern : patterns)
    for (const Case& c : cases_for(pattern)) check_layout(c, seed++);
}

TEST_CASE("block_mask layouts keep exactly the caller's blocks, then causal, on any tile shape", "[layout]") {
  for (const bool causal : {false, true})
    for (const int64_t mask_batches : {int64_t{1}, int64_t{2}})
      for (const int64_t mask_heads : {int64_t{1}, int64_t{4}}) {
        sattn_attention_desc desc = base(4, 2, 29, 70, causal);
        desc.pattern = SATTN_PATTERN_BLOCK_MASK;
        desc.params.block_size = 8;
        const sattn::ResolvedProblem resolved = sattn::resolve_problem(&desc, nullptr);
        Tensors t(resolved.desc, 99);
        const int64_t nq = 4, nk = 9;
        std::vector<uint8_t> blocks(static_cast<size_t>(mask_batches * mask_heads * nq * nk));
        std::mt19937 rng(5);
        for (auto& x : blocks) x = static_cast<uint8_t>(rng() % 3 == 0 ? (rng() % 255) + 1 : 0);
        sattn_tensor m{blocks.data(),
                       SATTN_DEVICE_CPU,
                       0,
                       SATTN_DTYPE_U8,
                       4,
                       {mask_batches, mask_heads, nq, nk},
                       {mask_heads * nq * nk, nq * nk, nk, 1}};
        t.args.block_mask = &m;
        std::vector<uint8_t> per_batch = blocks;
        if (mask_batches == 1) per_batch.insert(per_batch.end(), blocks.begin(), blocks.end());
        const auto expected = brute_force(resolved.desc, t, &per_batch, mask_heads);
        for (const auto& [tile_q, tile_k] : kTileShapes) {
          INFO("causal " << causal << " mask " << mask_batches << "x" << mask_heads << " tiles " << tile_q << "x"
                         << tile_k);
          const auto layout = layout_for(resolved, tile_q, tile_k, &t.args);
          CHECK(layout->batches == mask_batches);
          check_against(*layout, resolved.desc, expected);
        }
      }
}

TEST_CASE("static layouts are shared by every batch and head", "[layout]") {
  sattn_attention_desc d = base(4, 2, 100, 100, true);
  d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
  d.params.window_size = 10;
  const sattn::ResolvedProblem resolved = sattn::resolve_problem(&d, nullptr);
  const auto layout = layout_for(resolved, 64, 64, nullptr);
  CHECK(layout->batches == 1);
  CHECK(layout->heads == 1);
  CHECK(layout->row_ptr.size() == 2 + 1);  // two query tiles of 64
  CHECK(layout->kept_pairs == 2 * 4 * (55 + 11 * 90));
}

TEST_CASE("ring windows far wider than the sequence stay exact and instant", "[layout]") {
  // With a window of 2^40 steps every reachable residue is hit: all keys for a step coprime to Lk = 10, the keys of
  // the query's parity for a step of 4 (gcd 2), only the query's own position for a step of 10.
  struct Expectation {
    int64_t dilation;
    int64_t residue_class;  // keys j kept iff (j - p) % residue_class == 0
  };
  for (const Expectation e : {Expectation{3, 1}, Expectation{4, 2}, Expectation{10, 10}, Expectation{25, 5}}) {
    sattn_attention_desc d = base(1, 1, 7, 10, false);
    d.batch = 1;
    d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
    d.params.window_size = int64_t{1} << 40;
    d.params.dilation = e.dilation;
    d.params.wrap = 1;
    if (e.dilation > 4) d.params.window_size = 1000;
    const sattn::ResolvedProblem resolved = sattn::resolve_problem(&d, nullptr);
    const auto layout = layout_for(resolved, 64, 64, nullptr);
    const sattn_layout_view view = layout->view();
    INFO("dilation " << e.dilation);
    for (int64_t i = 0; i < 7; ++i)
      for (int64_t j = 0; j < 10; ++j) {
        const int64_t p = i + 3;
        CHECK(layout_keeps(view, 0, 0, i, j) ==
              ((((j - p) % e.residue_class) + e.residue_class) % e.residue_class == 0));
      }
  }
}

TEST_CASE("windows beyond 2^60 positions are refused", "[layout]") {
  sattn_attention_desc d = base(1, 1, 7, 10, false);
  d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
  d.params.window_size = int64_t{1} << 40;
  d.params.dilation = int64_t{1} << 21;
  CHECK_THROWS_WITH(sattn::resolve_problem(&d, nullptr), Catch::Contains("must be <= 2^60"));
  d.params.dilation = int64_t{1} << 30;
  CHECK_THROWS_WITH(sattn::resolve_problem(&d, nullptr), Catch::Contains("overflows 64 bits"));
}

namespace {

// The element rule as a generic PatternRule: every tile a candidate, the shared predicate per element. The generic
// builder then classifies tiles exactly, which the analytic builder's interval arithmetic must reproduce.
class RuleByElements final : public sattn::PatternRule {
 public:
  RuleByElements(const sattn::Geometry& g, const sattn_element_rule& rule) : g_(g), rule_(rule) {
    rule_.causal = 0;  // the builder applies causal on top
  }
  int64_t batches() const override { return 1; }
  int64_t heads() const override { return 1; }
  void candidates(int64_t, int64_t, int64_t, std::vector<int32_t>& out) const override {
    for (int64_t kt = 0; kt < g_.num_k_tiles; ++kt) out.push_back(static_cast<int32_t>(kt));
  }
  void keep_row(int64_t, int64_t, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const override {
    for (int64_t j = j0; j < j1; ++j) out[j - j0] = static_cast<uint8_t>(sattn_rule_keeps(&rule_, i, j));
  }

 private:
  sattn::Geometry g_;
  sattn_element_rule rule_;
};

}  // namespace

struct LayoutPair {
  std::unique_ptr<sattn_layout> analytic, elements;
};

// The analytic layout of a descriptor against the element-by-element build of its rule, for a tile shape: the same
// kept pairs and the same keys. Returns both for further checks.
LayoutPair compare_with_elements(const sattn_attention_desc& d, int64_t tile_q, int64_t tile_k) {
  const sattn::ResolvedProblem resolved = sattn::resolve_problem(&d, nullptr);
  const sattn_problem problem = resolved.problem(tile_q, tile_k);
  const sattn::Geometry g = sattn::Geometry::of(problem, resolved.desc.kv_len);
  const sattn_element_rule rule = sattn::element_rule_of(problem, g);
  auto analytic = sattn::build_analytic_layout(g, rule, 1);
  auto elements = sattn::build_layout(g, std::make_shared<RuleByElements>(g, rule), 1);
  REQUIRE(analytic->kept_pairs == elements->kept_pairs);
  const sattn_layout_view a = analytic->view(), e = elements->view();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < d.q_len; ++i)
    for (int64_t j = 0; j < d.kv_len; ++j) mismatches += layout_keeps(a, 0, 0, i, j) != layout_keeps(e, 0, 0, i, j);
  REQUIRE(mismatches == 0);
  return {std::move(analytic), std::move(elements)};
}

TEST_CASE("wide dilated ring windows count their kept pairs in closed form", "[layout]") {
  // Windows of thousands of distinct steps on a ring of a prime length: positions are listed by their hull and
  // counted by floor sums.
  for (const bool causal : {false, true})
    for (const int64_t global : {int64_t{0}, int64_t{37}}) {
      sattn_attention_desc d = base(1, 1, 50, 10007, causal);
      d.batch = 1;
      d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
      d.params.window_size = 5000;  // 5001 or 10001 steps: more than the 4096 listed one by one, fewer than 10007
      d.params.dilation = 3;
      d.params.wrap = 1;
      d.params.global_tokens = global;
      INFO("causal " << causal << " global " << global);
      compare_with_elements(d, 16, 64);
    }
}

TEST_CASE("analytic layouts equal the element-by-element build on random windows and tile shapes", "[layout]") {
  std::mt19937 rng(2024);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int round = 0; round < 400; ++round) {
    sattn_attention_desc d = base(2, 1, pick(1, 90), pick(1, 90), pick(0, 1) == 1);
    d.batch = 1;
    d.pattern = pick(0, 2) == 0 ? SATTN_PATTERN_BLOCK_LOCAL_GLOBAL
                                : (pick(0, 4) == 0 ? SATTN_PATTERN_DENSE : SATTN_PATTERN_SLIDING_WINDOW);
    sattn_pattern_params& p = d.params;
    p.global_tokens = pick(0, 2) == 0 ? pick(1, 20) : 0;
    if (d.pattern == SATTN_PATTERN_SLIDING_WINDOW) {
      p.window_size = pick(0, 3) == 0 ? pick(20, 200) : pick(1, 12);
      p.dilation = pick(0, 1) == 0 ? 1 : pick(2, 40);
      p.wrap = pick(0, 2) == 0 ? 1 : 0;
    } else if (d.pattern == SATTN_PATTERN_BLOCK_LOCAL_GLOBAL) {
      p.block_size = pick(1, 20);
      p.local_blocks = pick(0, 3);
    }
    const int64_t tile_q = pick(1, 40), tile_k = pick(1, 40);
    INFO("round " << round << " pattern " << d.pattern << " Lq " << d.q_len << " Lk " << d.kv_len << " causal "
                  << d.flags << " w " << p.window_size << " d " << p.dilation << " wrap " << p.wrap << " g "
                  << p.global_tokens << " b " << p.block_size << " l " << p.local_blocks << " tiles " << tile_q << "x"
                  << tile_k);
    const LayoutPair layouts = compare_with_elements(d, tile_q, tile_k);
    const sattn_layout_view a = layouts.analytic->view(), e = layouts.elements->view();
    // Both list exactly the tiles that keep something, and the analytic one finds every wholly kept tile.
    auto count = [](const sattn_layout_view& v, int32_t kind) {
      int64_t tiles = 0;
      for (int64_t n = 0; n < v.num_spans; ++n)
        if (kind < 0 || v.spans[n].kind == kind) tiles += v.spans[n].k_end - v.spans[n].k_begin;
      return tiles;
    };
    CHECK(count(a, -1) == count(e, -1));
    // (With one key per tile a dilated window's lone keys are wholly kept tiles the analytic builder lists as RULE:
    // exact, merely not the fastest kind.)
    if (tile_k > 1 || p.dilation <= 1) CHECK(count(a, SATTN_TILE_FULL) == count(e, SATTN_TILE_FULL));
  }
}

TEST_CASE("block_topk and lsh layouts stay exact when their selection splits into many parallel tasks", "[layout]") {
  // 38 query blocks and 42 key blocks per kv head: the pooling, the per-query-block selection and lsh's per-tile
  // bucket sets run as many tasks on every core, and must still choose exactly the reference's keys.
  uint32_t seed = 500;
  for (const bool causal : {false, true}) {
    sattn_attention_desc d = base(4, 2, 300, 333, causal);
    d.pattern = SATTN_PATTERN_BLOCK_TOPK;
    d.params.block_size = 8;
    d.params.keep_ratio = 0.2f;
    check_layout({causal ? "block_topk causal b8 r.2" : "block_topk b8 r.2", d}, seed++);
    d.params.comp_block_size = 5;
    check_layout({causal ? "block_topk causal b8 r.2 c5" : "block_topk b8 r.2 c5", d}, seed++);
    d.params = base(4, 2, 300, 333, causal).params;  // the defaults again
    d.pattern = SATTN_PATTERN_LSH;
    d.params.lsh_buckets = 8;
    d.params.lsh_seed = 99;
    d.params.block_size = 16;
    check_layout({causal ? "lsh causal nb8" : "lsh nb8", d}, seed++);
  }
}
