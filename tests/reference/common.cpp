// Shape checks, row addressing and the small rules every pattern of the reference shares.
#include "detail.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace sattn_ref::detail {
namespace {

void require(bool condition, const std::string& what) {
  if (!condition) throw std::invalid_argument("sattn_ref: " + what);
}

size_t element_count(std::initializer_list<int64_t> sizes) {
  int64_t count = 1;
  for (int64_t size : sizes) count *= size;
  return static_cast<size_t>(count);
}

}  // namespace

Shape validated_shape(const Problem& problem, const Inputs& inputs) {
  const Problem& p = problem;
  require(p.B > 0 && p.Hq > 0 && p.Hk > 0 && p.Lq > 0 && p.Lk > 0 && p.D > 0 && p.Dv > 0,
          "every size must be positive");
  require(p.Hq % p.Hk == 0, "Hq must be a multiple of Hk");
  require(p.pattern > SATTN_PATTERN_AUTO && p.pattern < SATTN_PATTERN_COUNT,
          "the pattern must be explicit, got " + std::to_string(p.pattern));
  require(inputs.q.size() == element_count({p.B, p.Hq, p.Lq, p.D}), "q must hold B*Hq*Lq*D values");
  require(inputs.k.size() == element_count({p.B, p.Hk, p.Lk, p.D}), "k must hold B*Hk*Lk*D values");
  require(inputs.v.size() == element_count({p.B, p.Hk, p.Lk, p.Dv}), "v must hold B*Hk*Lk*Dv values");
  return Shape{p.B, p.Hq, p.Hk, p.Hq / p.Hk, p.Lq, p.Lk, p.D, p.Dv};
}

std::span<const float> InputRows::q(int64_t b, int64_t hq, int64_t i) const {
  const int64_t offset = ((b * shape.Hq + hq) * shape.Lq + i) * shape.D;
  return std::span<const float>(inputs.q).subspan(static_cast<size_t>(offset), static_cast<size_t>(shape.D));
}

std::span<const float> InputRows::k(int64_t b, int64_t hk, int64_t j) const {
  const int64_t offset = ((b * shape.Hk + hk) * shape.Lk + j) * shape.D;
  return std::span<const float>(inputs.k).subspan(static_cast<size_t>(offset), static_cast<size_t>(shape.D));
}

std::span<const float> InputRows::v(int64_t b, int64_t hk, int64_t j) const {
  const int64_t offset = ((b * shape.Hk + hk) * shape.Lk + j) * shape.Dv;
  return std::span<const float>(inputs.v).subspan(static_cast<size_t>(offset), static_cast<size_t>(shape.Dv));
}

std::span<uint8_t> mask_row(std::vector<uint8_t>& mask, const Shape& shape, int64_t b, int64_t hq, int64_t i) {
  const int64_t offset = ((b * shape.Hq + hq) * shape.Lq + i) * shape.Lk;
  return std::span<uint8_t>(mask).subspan(static_cast<size_t>(offset), static_cast<size_t>(shape.Lk));
}

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t quotient = a / b;
  const bool rounded_toward_zero_upward = (a % b != 0) && ((a < 0) != (b < 0));
  return rounded_toward_zero_upward ? quotient - 1 : quotient;
}

int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

float dot_f32(std::span<const float> a, std::span<const float> b) {
  float acc = 0.0f;
  for (size_t d = 0; d < a.size(); ++d) acc += a[d] * b[d];
  return acc;
}

std::vector<int64_t> best_indices(const std::vector<int64_t>& candidates, const std::vector<float>& score_of_index,
                                  int64_t n) {
  std::vector<int64_t> order = candidates;
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    const float sx = score_of_index[static_cast<size_t>(x)];
    const float sy = score_of_index[static_cast<size_t>(y)];
    return sx != sy ? sx > sy : x < y;
  });
  if (n < static_cast<int64_t>(order.size())) order.resize(static_cast<size_t>(std::max<int64_t>(n, 0)));
  return order;
}

void apply_global_and_causal(std::span<uint8_t> row, int64_t p, int64_t global_tokens, bool causal) {
  const int64_t length = static_cast<int64_t>(row.size());
  if (global_tokens > 0) {
    // Global queries see everything; every query sees the global keys.
    const int64_t global_keys = p < global_tokens ? length : std::min(global_tokens, length);
    for (int64_t j = 0; j < global_keys; ++j) row[static_cast<size_t>(j)] = 1;
  }
  if (causal) {
    for (int64_t j = std::max<int64_t>(p + 1, 0); j < length; ++j) row[static_cast<size_t>(j)] = 0;
  }
}

uint64_t SplitMix64::next() {
  state_ += 0x9E3779B97F4A7C15ull;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace sattn_ref::detail
