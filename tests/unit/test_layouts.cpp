// The block layout of every pattern against the brute-force kept sets of tests/reference (written from
// docs/patterns.md alone): a key is kept exactly when its tile is listed and, for a partial tile, the element
// predicate keeps it; full tiles are wholly kept, no listed tile is empty, and kept_pairs counts exactly.
#include <catch2/catch.hpp>
#include <random>
#include <sstream>

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

// Whether the layout keeps key j for query i of (b, hq).
bool layout_keeps(const sattn_layout& layout, int64_t b, int64_t hq, int64_t i, int64_t j, std::vector<uint8_t>& mask) {
  const auto& g = layout.geometry;
  const int64_t row = layout.row_index(b, hq, i / g.tile_q);
  for (int64_t n = layout.row_ptr[static_cast<size_t>(row)]; n < layout.row_ptr[static_cast<size_t>(row) + 1]; ++n) {
    const int64_t kt = layout.cols[static_cast<size_t>(n)];
    if (j / g.tile_k != kt) continue;
    if (layout.full[static_cast<size_t>(n)]) return true;
    layout.row_mask(b, hq, i, g.k_begin(kt), g.k_end(kt), mask.data());
    return mask[static_cast<size_t>(j - g.k_begin(kt))] != 0;
  }
  return false;
}

void check_layout(const Case& c, uint32_t seed) {
  INFO(c.name);
  sattn::ResolvedProblem resolved = sattn::resolve_problem(&c.desc, nullptr);
  const sattn_problem& problem = resolved.problem;
  const sattn_attention_desc& d = problem.desc;
  Tensors t(d, seed);
  const auto layout = sattn::make_layout(problem, &t.args, 0);

  sattn_ref::Problem rp{d.batch, d.num_q_heads, d.num_kv_heads, d.q_len, d.kv_len, d.head_dim, d.head_dim_v};
  rp.causal = (d.flags & SATTN_FLAG_CAUSAL) != 0;
  rp.pattern = d.pattern;
  rp.params = d.params;
  sattn_ref::Inputs in;
  in.q = t.q;
  in.k = t.k;
  in.v = t.v;
  const std::vector<uint8_t> expected = sattn_ref::kept_mask(rp, in);

  std::vector<uint8_t> mask(static_cast<size_t>(layout->geometry.tile_k));
  int64_t kept = 0, mismatches = 0;
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t hq = 0; hq < d.num_q_heads; ++hq)
      for (int64_t i = 0; i < d.q_len; ++i)
        for (int64_t j = 0; j < d.kv_len; ++j) {
          const bool want = expected[static_cast<size_t>(((b * d.num_q_heads + hq) * d.q_len + i) * d.kv_len + j)] != 0;
          const bool got = layout_keeps(*layout, b, hq, i, j, mask);
          kept += want;
          if (want != got && mismatches++ < 5)
            FAIL_CHECK("b" << b << " hq" << hq << " i" << i << " j" << j << ": reference " << want << ", layout "
                           << got);
        }
  REQUIRE(mismatches == 0);
  CHECK(layout->kept_pairs == kept);

  // Tightness: every listed tile keeps something for some row of its query tile, and full tiles keep everything.
  const auto& g = layout->geometry;
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t hq = 0; hq < d.num_q_heads; ++hq)
      for (int64_t qt = 0; qt < g.num_q_tiles; ++qt) {
        const int64_t row = layout->row_index(b, hq, qt);
        for (int64_t n = layout->row_ptr[static_cast<size_t>(row)]; n < layout->row_ptr[static_cast<size_t>(row) + 1];
             ++n) {
          const int64_t kt = layout->cols[static_cast<size_t>(n)];
          int64_t tile_kept = 0;
          for (int64_t i = g.q_begin(qt); i < g.q_end(qt); ++i)
            for (int64_t j = g.k_begin(kt); j < g.k_end(kt); ++j)
              tile_kept += expected[static_cast<size_t>(((b * d.num_q_heads + hq) * d.q_len + i) * d.kv_len + j)];
          const int64_t area = (g.q_end(qt) - g.q_begin(qt)) * (g.k_end(kt) - g.k_begin(kt));
          // Tiles shared by the G heads of a kv head must keep something for at least one of them.
          if (layout->heads == d.num_q_heads || d.num_q_heads == d.num_kv_heads) CHECK(tile_kept > 0);
          if (layout->full[static_cast<size_t>(n)]) CHECK(tile_kept == area);
        }
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

TEST_CASE("block_mask layouts list exactly the caller's blocks, then causal", "[layout]") {
  for (const bool causal : {false, true})
    for (const int64_t mask_heads : {int64_t{1}, int64_t{4}}) {
      sattn_attention_desc d = base(4, 2, 29, 70, causal);
      d.pattern = SATTN_PATTERN_BLOCK_MASK;
      d.params.block_size = 8;
      const sattn_problem problem = sattn::resolve_problem(&d, nullptr).problem;
      Tensors t(problem.desc, 99);
      const int64_t nq = 4, nk = 9;
      std::vector<uint8_t> blocks(static_cast<size_t>(2 * mask_heads * nq * nk));
      std::mt19937 rng(5);
      for (auto& x : blocks) x = static_cast<uint8_t>(rng() % 3 == 0 ? (rng() % 255) + 1 : 0);
      sattn_tensor m{blocks.data(),
                     SATTN_DEVICE_CPU,
                     0,
                     SATTN_DTYPE_U8,
                     4,
                     {2, mask_heads, nq, nk},
                     {mask_heads * nq * nk, nq * nk, nk, 1}};
      t.args.block_mask = &m;
      const auto layout = sattn::make_layout(problem, &t.args, 1);
      sattn_ref::Problem rp{2, 4, 2, 29, 70, 8, 4};
      rp.causal = causal;
      rp.pattern = SATTN_PATTERN_BLOCK_MASK;
      rp.params = problem.desc.params;
      sattn_ref::Inputs in;
      in.q = t.q;
      in.k = t.k;
      in.v = t.v;
      in.block_mask = blocks;
      in.mask_heads = mask_heads;
      const auto expected = sattn_ref::kept_mask(rp, in);
      std::vector<uint8_t> mask(8);
      int64_t mismatches = 0;
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t hq = 0; hq < 4; ++hq)
          for (int64_t i = 0; i < 29; ++i)
            for (int64_t j = 0; j < 70; ++j)
              mismatches += (expected[static_cast<size_t>(((b * 4 + hq) * 29 + i) * 70 + j)] != 0) !=
                            layout_keeps(*layout, b, hq, i, j, mask);
      INFO("causal " << causal << " mask heads " << mask_heads);
      REQUIRE(mismatches == 0);
    }
}

TEST_CASE("static layouts are shared by every batch and head", "[layout]") {
  sattn_attention_desc d = base(4, 2, 100, 100, true);
  d.pattern = SATTN_PATTERN_SLIDING_WINDOW;
  d.params.window_size = 10;
  const sattn_problem problem = sattn::resolve_problem(&d, nullptr).problem;
  const auto layout = sattn::make_layout(problem, nullptr, 1);
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
    const sattn_problem problem = sattn::resolve_problem(&d, nullptr).problem;
    const auto layout = sattn::make_layout(problem, nullptr, 1);
    std::vector<uint8_t> mask(64);
    INFO("dilation " << e.dilation);
    for (int64_t i = 0; i < 7; ++i)
      for (int64_t j = 0; j < 10; ++j) {
        const int64_t p = i + 3;
        CHECK(layout_keeps(*layout, 0, 0, i, j, mask) ==
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
