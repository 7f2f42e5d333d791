// lsh (docs/patterns.md): a SplitMix64 random projection R[D][nb/2] hashes queries and keys to bucket argmax([xR,
// -xR]); a query keeps the keys of its bucket (same batch, its kv head) plus its own position.
#include <algorithm>

#include "core/parallel.hpp"
#include "layout/rules.hpp"
#include "core/splitmix.hpp"

namespace sattn {
namespace {

class LshRule final : public PatternRule {
 public:
  LshRule(const Geometry& g, const SelectionInputs& in) : g_(g) {
    const sattn_attention_desc& d = *in.problem.desc;
    const int64_t D = d.head_dim, half = d.params.lsh_buckets / 2;
    std::vector<float> projection(static_cast<size_t>(D * half));  // row-major R[D][nb/2]
    SplitMix64 rng(d.params.lsh_seed);
    for (float& r : projection) r = rng.next_symmetric();
    q_buckets_ = hash_rows(in.q, g.batch * g.q_heads * g.q_len, D, half, projection, in.problem.num_threads);
    k_buckets_ = hash_rows(in.k, g.batch * g.kv_heads * g.kv_len, D, half, projection, in.problem.num_threads);
    // Distinct buckets of each key tile, for cheap candidate tests; every (batch, kv head, key tile) on its own, in
    // parallel (few kv heads would otherwise leave cores idle).
    tile_buckets_.resize(static_cast<size_t>(g.batch * g.kv_heads * g.num_k_tiles));
    parallel_for(g.batch * g.kv_heads * g.num_k_tiles, in.problem.num_threads, 16, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t bh = task / g.num_k_tiles, kt = task % g.num_k_tiles;
        auto& set = tile_buckets_[static_cast<size_t>(task)];
        for (int64_t j = g.k_begin(kt); j < g.k_end(kt); ++j)
          set.push_back(k_buckets_[static_cast<size_t>(bh * g.kv_len + j)]);
        std::sort(set.begin(), set.end());
        set.erase(std::unique(set.begin(), set.end()), set.end());
      }
    });
  }

  int64_t batches() const override { return g_.batch; }
  int64_t heads() const override { return g_.q_heads; }

  void candidates(int64_t b, int64_t hq, int64_t qt, std::vector<int32_t>& out) const override {
    std::vector<int32_t> wanted;
    for (int64_t i = g_.q_begin(qt); i < g_.q_end(qt); ++i) {
      wanted.push_back(q_bucket(b, hq, i));
      const int64_t p = g_.position(i);
      if (p >= 0 && p < g_.kv_len) out.push_back(static_cast<int32_t>(p / g_.tile_k));  // own position
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    const int64_t bh = b * g_.kv_heads + hq / g_.group;
    for (int64_t kt = 0; kt < g_.num_k_tiles; ++kt) {
      const auto& present = tile_buckets_[static_cast<size_t>(bh * g_.num_k_tiles + kt)];
      if (intersects(wanted, present)) out.push_back(static_cast<int32_t>(kt));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  void keep_row(int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const override {
    const int32_t bucket = q_bucket(b, hq, i);
    const int32_t* keys = &k_buckets_[static_cast<size_t>((b * g_.kv_heads + hq / g_.group) * g_.kv_len)];
    const int64_t p = g_.position(i);
    for (int64_t j = j0; j < j1; ++j) out[j - j0] = (keys[j] == bucket || j == p) ? 1 : 0;
  }

 private:
  int32_t q_bucket(int64_t b, int64_t hq, int64_t i) const {
    return q_buckets_[static_cast<size_t>((b * g_.q_heads + hq) * g_.q_len + i)];
  }

  static bool intersects(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    auto x = a.begin();
    auto y = b.begin();
    while (x != a.end() && y != b.end()) {
      if (*x == *y) return true;
      if (*x < *y)
        ++x;
      else
        ++y;
    }
    return false;
  }

  // bucket(x) = first argmax of [x.R, -x.R], with x.R accumulated in fp32 over d in increasing order.
  static std::vector<int32_t> hash_rows(const std::vector<float>& rows, int64_t count, int64_t D, int64_t half,
                                        const std::vector<float>& projection, int32_t threads) {
    std::vector<int32_t> buckets(static_cast<size_t>(count));
    parallel_for(count, threads, 64, [&](int64_t begin, int64_t end) {
      std::vector<float> projected(static_cast<size_t>(half));
      for (int64_t r = begin; r < end; ++r) {
        std::fill(projected.begin(), projected.end(), 0.0f);
        const float* x = &rows[static_cast<size_t>(r * D)];
        for (int64_t d = 0; d < D; ++d)
          for (int64_t c = 0; c < half; ++c) {
            const float product = x[d] * projection[static_cast<size_t>(d * half + c)];  // rounded: see dot_f32
            projected[static_cast<size_t>(c)] += product;
          }
        int64_t best = 0;
        float best_value = ScoreOrder::rank(projected[0]);
        for (int64_t c = 0; c < 2 * half; ++c) {
          const float v = ScoreOrder::rank(c < half ? projected[static_cast<size_t>(c)]
                                                    : -projected[static_cast<size_t>(c - half)]);
          if (v > best_value) {
            best = c;
            best_value = v;
          }
        }
        buckets[static_cast<size_t>(r)] = static_cast<int32_t>(best);
      }
    });
    return buckets;
  }

  Geometry g_;
  std::vector<int32_t> q_buckets_, k_buckets_;      // [B, Hq, Lq] and [B, Hk, Lk]
  std::vector<std::vector<int32_t>> tile_buckets_;  // per (batch, kv head, key tile)
};

}  // namespace

std::shared_ptr<const PatternRule> make_lsh_rule(const Geometry& g, const SelectionInputs& in) {
  return std::make_shared<LshRule>(g, in);
}

}  // namespace sattn
