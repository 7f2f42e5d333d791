// Patterns whose kept set depends only on the descriptor: dense, sliding_window (with dilation, wrap and global
// tokens) and block_local_global. Their layouts are built once per plan and shared by every batch and head.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "core/checked_math.hpp"
#include "layout/rules.hpp"

namespace sattn {
namespace {

void append_tile_range(const Geometry& g, int64_t first_key, int64_t last_key, std::vector<int32_t>& out) {
  first_key = std::max<int64_t>(first_key, 0);
  last_key = std::min(last_key, g.kv_len - 1);
  for (int64_t kt = first_key / g.tile_k; first_key <= last_key && kt <= last_key / g.tile_k; ++kt)
    out.push_back(static_cast<int32_t>(kt));
}

void sort_unique(std::vector<int32_t>& tiles) {
  std::sort(tiles.begin(), tiles.end());
  tiles.erase(std::unique(tiles.begin(), tiles.end()), tiles.end());
}

// Shared by every batch and head.
class SharedRule : public PatternRule {
 public:
  explicit SharedRule(const Geometry& g) : g_(g) {}
  int64_t batches() const override { return 1; }
  int64_t heads() const override { return 1; }

 protected:
  Geometry g_;
};

class DenseRule final : public SharedRule {
 public:
  using SharedRule::SharedRule;
  void candidates(int64_t, int64_t, int64_t, std::vector<int32_t>& out) const override {
    for (int64_t kt = 0; kt < g_.num_k_tiles; ++kt) out.push_back(static_cast<int32_t>(kt));
  }
  TileClass classify(int64_t, int64_t, int64_t, int64_t) const override { return TileClass::Full; }
  void keep_row(int64_t, int64_t, int64_t, int64_t j0, int64_t j1, uint8_t* out) const override {
    std::memset(out, 1, static_cast<size_t>(j1 - j0));
  }
};

// Both operands of the congruence's product are below 2^62, so it needs 128 bits (a GCC/clang extension).
__extension__ typedef __int128 WideInt;

// Which offsets r (mod n) the steps d*t, t in [t_lo, t_hi], reach on a ring of n positions. Solving the linear
// congruence d*t = r (mod n) makes this O(1) per key whatever the window's width, so huge windows cannot stall it.
class RingSteps {
 public:
  RingSteps(int64_t d, int64_t n, int64_t t_lo, int64_t t_hi) : t_lo_(t_lo), t_hi_(t_hi) {
    const int64_t step = d % n;
    gcd_ = std::gcd(step, n);  // gcd(0, n) = n: every step lands where it started
    period_ = n / gcd_;
    inverse_ = period_ == 1 ? 0 : modular_inverse(step / gcd_, period_);
  }

  // r in [0, n).
  bool reaches(int64_t r) const {
    if (r % gcd_ != 0) return false;
    const auto t0 = static_cast<int64_t>(static_cast<WideInt>(r / gcd_) * inverse_ % period_);
    const int64_t first = t_lo_ + positive_mod(t0 - t_lo_, period_);  // smallest t >= t_lo with d*t = r (mod n)
    return first <= t_hi_;
  }

 private:
  // x with a*x = 1 (mod m), for gcd(a, m) = 1 (extended Euclid).
  static int64_t modular_inverse(int64_t a, int64_t m) {
    int64_t old_r = a, r = m, old_s = 1, s = 0;
    while (r != 0) {
      const int64_t q = old_r / r;
      old_r = std::exchange(r, old_r - q * r);
      old_s = std::exchange(s, old_s - q * s);
    }
    return positive_mod(old_s, m);
  }

  int64_t t_lo_, t_hi_, gcd_ = 1, period_ = 1, inverse_ = 0;
};

// Keys j = p + d*t for t in [-w, w] ([-w, 0] when causal), optionally on a ring of kv_len, plus global tokens.
class SlidingWindowRule final : public SharedRule {
 public:
  SlidingWindowRule(const Geometry& g, const sattn_pattern_params& p)
      : SharedRule(g),
        dilation_(p.dilation),
        reach_back_(p.window_size * p.dilation),
        reach_ahead_(g.causal ? 0 : p.window_size * p.dilation),
        wrap_(p.wrap != 0),
        ring_(p.dilation, g.kv_len, -p.window_size, g.causal ? 0 : p.window_size),
        global_{p.global_tokens} {}

  void candidates(int64_t, int64_t, int64_t qt, std::vector<int32_t>& out) const override {
    const int64_t p_first = g_.position(g_.q_begin(qt)), p_last = g_.position(g_.q_end(qt) - 1);
    if (global_.query(p_first)) return append_tile_range(g_, 0, g_.kv_len - 1, out);
    const int64_t lo = p_first - reach_back_, hi = p_last + reach_ahead_;
    if (!wrap_) {
      append_tile_range(g_, lo, hi, out);
    } else if (hi - lo + 1 >= g_.kv_len) {
      append_tile_range(g_, 0, g_.kv_len - 1, out);
    } else {
      const int64_t start = positive_mod(lo, g_.kv_len), stop = start + (hi - lo);
      append_tile_range(g_, start, std::min(stop, g_.kv_len - 1), out);
      if (stop >= g_.kv_len) append_tile_range(g_, 0, stop - g_.kv_len, out);
    }
    if (global_.g > 0) append_tile_range(g_, 0, global_.g - 1, out);
    sort_unique(out);
  }

  TileClass classify(int64_t, int64_t, int64_t qt, int64_t kt) const override {
    const int64_t p_first = g_.position(g_.q_begin(qt)), p_last = g_.position(g_.q_end(qt) - 1);
    const int64_t j0 = g_.k_begin(kt), j_last = g_.k_end(kt) - 1;
    if (global_.query(p_last) || global_.key(j_last)) return TileClass::Full;
    if (global_.key(j0) || global_.query(p_first) || wrap_ || dilation_ != 1) return TileClass::Unknown;
    if (j0 >= p_last - reach_back_ && j_last <= p_first + reach_ahead_) return TileClass::Full;
    if (j_last < p_first - reach_back_ || j0 > p_last + reach_ahead_) return TileClass::Empty;
    return TileClass::Unknown;
  }

  void keep_row(int64_t, int64_t, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const override {
    const int64_t p = g_.position(i);
    for (int64_t j = j0; j < j1; ++j) out[j - j0] = (global_.key(j) || global_.query(p) || in_window(j - p)) ? 1 : 0;
  }

 private:
  // Whether some t in range gives p + d*t == j (mod kv_len when wrapping); r = j - p.
  bool in_window(int64_t r) const {
    if (!wrap_) return r >= -reach_back_ && r <= reach_ahead_ && r % dilation_ == 0;
    return ring_.reaches(positive_mod(r, g_.kv_len));
  }

  int64_t dilation_, reach_back_, reach_ahead_;
  bool wrap_;
  RingSteps ring_;
  GlobalTokens global_;
};

// Query block qb keeps key blocks within local_blocks of its diagonal block c, plus global tokens.
class BlockLocalGlobalRule final : public SharedRule {
 public:
  BlockLocalGlobalRule(const Geometry& g, const sattn_pattern_params& p)
      : SharedRule(g), local_(p.local_blocks), global_{p.global_tokens} {}

  void candidates(int64_t, int64_t, int64_t qt, std::vector<int32_t>& out) const override {
    if (global_.query(g_.position(g_.q_begin(qt)))) return append_tile_range(g_, 0, g_.kv_len - 1, out);
    const int64_t c = diagonal(qt);
    const int64_t first = std::max<int64_t>(0, c - local_), last = std::min(g_.num_k_tiles - 1, c + local_);
    for (int64_t kt = first; kt <= last; ++kt) out.push_back(static_cast<int32_t>(kt));
    if (global_.g > 0) append_tile_range(g_, 0, global_.g - 1, out);
    sort_unique(out);
  }

  TileClass classify(int64_t, int64_t, int64_t qt, int64_t kt) const override {
    if (is_local(qt, kt)) return TileClass::Full;
    const int64_t p_first = g_.position(g_.q_begin(qt)), p_last = g_.position(g_.q_end(qt) - 1);
    if (global_.query(p_last) || global_.key(g_.k_end(kt) - 1)) return TileClass::Full;
    if (global_.key(g_.k_begin(kt)) || global_.query(p_first)) return TileClass::Unknown;
    return TileClass::Empty;
  }

  void keep_row(int64_t, int64_t, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const override {
    const int64_t p = g_.position(i), qt = i / g_.tile_q;
    for (int64_t j = j0; j < j1; ++j)
      out[j - j0] = (is_local(qt, j / g_.tile_k) || global_.key(j) || global_.query(p)) ? 1 : 0;
  }

 private:
  // c = (qb*b + Lk - Lq) / b, with floor division so positions before the first key stay ordered.
  int64_t diagonal(int64_t qt) const { return floor_div(qt * g_.tile_q + g_.offset, g_.tile_k); }
  bool is_local(int64_t qt, int64_t kt) const {
    const int64_t distance = kt - diagonal(qt);
    return distance >= -local_ && distance <= local_;
  }

  int64_t local_;
  GlobalTokens global_;
};

}  // namespace

std::shared_ptr<const PatternRule> make_static_rule(const sattn_problem& problem, const Geometry& g) {
  const sattn_pattern_params& p = problem.desc.params;
  switch (problem.desc.pattern) {
    case SATTN_PATTERN_DENSE:
      return std::make_shared<DenseRule>(g);
    case SATTN_PATTERN_SLIDING_WINDOW:
      return std::make_shared<SlidingWindowRule>(g, p);
    case SATTN_PATTERN_BLOCK_LOCAL_GLOBAL:
      return std::make_shared<BlockLocalGlobalRule>(g, p);
    default:
      return nullptr;
  }
}

std::shared_ptr<const PatternRule> make_dense_rule(const Geometry& g) { return std::make_shared<DenseRule>(g); }

}  // namespace sattn
