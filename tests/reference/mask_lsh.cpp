// lsh: keys and queries are hashed by a random projection R[D][nb/2] drawn from SplitMix64; a query keeps the keys of
// its kv head that fall in its bucket, plus its own position, then causal.
#include "detail.hpp"

#include <stdexcept>

namespace sattn_ref::detail {
namespace {

// R filled row-major (R[0][0], R[0][1], ...), each draw z mapped to (z >> 40) * 2^-23 - 1, exactly in fp32.
std::vector<float> random_projection(uint64_t seed, int64_t rows, int64_t columns) {
  SplitMix64 generator(seed);
  std::vector<float> projection(static_cast<size_t>(rows * columns));
  for (float& value : projection)
    value = static_cast<float>(static_cast<double>(generator.next() >> 40) * 0x1p-23 - 1.0);
  return projection;
}

// argmax over [x.R, -(x.R)] with the first maximum winning; x.R accumulated in fp32 in increasing d order.
int64_t bucket(std::span<const float> x, const std::vector<float>& projection, int64_t half) {
  std::vector<float> projected(static_cast<size_t>(2 * half));
  for (int64_t c = 0; c < half; ++c) {
    float acc = 0.0f;
    for (size_t d = 0; d < x.size(); ++d) acc += x[d] * projection[d * static_cast<size_t>(half) + static_cast<size_t>(c)];
    projected[static_cast<size_t>(c)] = acc;
    projected[static_cast<size_t>(c + half)] = -acc;
  }
  int64_t best = 0;
  for (int64_t c = 1; c < 2 * half; ++c)
    if (projected[static_cast<size_t>(c)] > projected[static_cast<size_t>(best)]) best = c;
  return best;
}

}  // namespace

void mask_lsh(const Problem& problem, const Inputs& inputs, const Shape& shape, std::vector<uint8_t>& mask) {
  const int64_t buckets = problem.params.lsh_buckets;
  if (buckets < 2 || buckets % 2 != 0) throw std::invalid_argument("sattn_ref: lsh needs an even lsh_buckets >= 2");
  const int64_t half = buckets / 2;
  const std::vector<float> projection = random_projection(problem.params.lsh_seed, shape.D, half);
  const InputRows rows{shape, inputs};
  std::vector<int64_t> key_buckets(static_cast<size_t>(shape.Lk));
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hk = 0; hk < shape.Hk; ++hk) {
      for (int64_t j = 0; j < shape.Lk; ++j) key_buckets[static_cast<size_t>(j)] = bucket(rows.k(b, hk, j), projection, half);
      for (int64_t hq = hk * shape.G; hq < (hk + 1) * shape.G; ++hq)
        for (int64_t i = 0; i < shape.Lq; ++i) {
          std::span<uint8_t> row = mask_row(mask, shape, b, hq, i);
          const int64_t query_bucket = bucket(rows.q(b, hq, i), projection, half);
          for (int64_t j = 0; j < shape.Lk; ++j)
            if (key_buckets[static_cast<size_t>(j)] == query_bucket) row[static_cast<size_t>(j)] = 1;
          const int64_t p = shape.position(i);
          if (p >= 0 && p < shape.Lk) row[static_cast<size_t>(p)] = 1;
          apply_global_and_causal(row, p, 0, problem.causal);
        }
    }
}

}  // namespace sattn_ref::detail
