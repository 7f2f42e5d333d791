#include "cpu_lsh.hpp"

#include <sattn_kernels.h>

#include <algorithm>

#include "cpu_host.hpp"

namespace sattn_cpu {
namespace {

size_t aligned_bytes(int64_t count) { return (static_cast<size_t>(count) * sizeof(int32_t) + 63) / 64 * 64; }

// Row (b, h, i) of a 4-D tensor of f32, bf16 or f16 as fp32, exactly (the inputs as given).
void read_row(const sattn_tensor& t, int64_t b, int64_t h, int64_t i, int64_t n, float* dst) {
  const int64_t base = b * t.strides[0] + h * t.strides[1] + i * t.strides[2], step = t.strides[3];
  if (t.dtype == SATTN_DTYPE_F32) {
    const float* src = static_cast<const float*>(t.data) + base;
    for (int64_t d = 0; d < n; ++d) dst[d] = src[d * step];
    return;
  }
  const uint16_t* src = static_cast<const uint16_t*>(t.data) + base;
  for (int64_t d = 0; d < n; ++d)
    dst[d] = t.dtype == SATTN_DTYPE_BF16 ? sattn_bf16_to_float(src[d * step]) : sattn_f16_to_float(src[d * step]);
}

// bucket(x) = the first index of the largest of [x.R, -x.R] (NaN ranked lowest), x.R accumulated in fp32 in
// increasing d: the same expression in the same order as the core's hash, so both give every row the same bucket
// (on baseline x86-64, which has no fused multiply-add, a rounded product then a rounded sum).
void hash_rows(const sattn_tensor& t, int64_t heads, int64_t len, int64_t D, const std::vector<float>& projection,
               int32_t threads, int32_t* buckets) {
  const int64_t half = static_cast<int64_t>(projection.size()) / D;
  parallel_for(t.shape[0] * heads * len, threads, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> x(static_cast<size_t>(D)), projected(static_cast<size_t>(half));
    for (int64_t r = begin; r < end; ++r) {
      read_row(t, r / (heads * len), (r / len) % heads, r % len, D, x.data());
      std::fill(projected.begin(), projected.end(), 0.0f);
      for (int64_t d = 0; d < D; ++d)
        for (int64_t c = 0; c < half; ++c)
          projected[static_cast<size_t>(c)] +=
              x[static_cast<size_t>(d)] * projection[static_cast<size_t>(d * half + c)];
      const auto rank = [](float s) { return s == s ? s : -__builtin_inff(); };
      int64_t best = 0;
      float best_value = rank(projected[0]);
      for (int64_t c = 0; c < 2 * half; ++c) {
        const float v = rank(c < half ? projected[static_cast<size_t>(c)] : -projected[static_cast<size_t>(c - half)]);
        if (v > best_value) {
          best = c;
          best_value = v;
        }
      }
      buckets[r] = static_cast<int32_t>(best);
    }
  });
}

struct Pieces {
  int32_t *q_bucket, *k_bucket, *q_order, *k_order, *k_sorted_bucket;
};
Pieces carve(const sattn_attention_desc& d, char* base, size_t* used) {
  const int64_t q_rows = d.batch * d.num_q_heads * d.q_len, k_rows = d.batch * d.num_kv_heads * d.kv_len;
  size_t at = 0;
  auto take = [&](int64_t count) {
    int32_t* piece = base == nullptr ? nullptr : reinterpret_cast<int32_t*>(base + at);
    at += aligned_bytes(count);
    return piece;
  };
  Pieces p{};
  p.q_bucket = take(q_rows);
  p.k_bucket = take(k_rows);
  p.q_order = take(q_rows);
  p.k_order = take(k_rows);
  p.k_sorted_bucket = take(k_rows);
  *used = at;
  return p;
}

}  // namespace

std::vector<float> lsh_projection(const sattn_attention_desc& d) {
  std::vector<float> projection(static_cast<size_t>(d.head_dim * (d.params.lsh_buckets / 2)));
  uint64_t state = d.params.lsh_seed;
  for (float& r : projection) {  // SplitMix64, each draw mapped to (z >> 40) * 2^-23 - 1
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r = static_cast<float>(z >> 40) * 0x1p-23f - 1.0f;
  }
  return projection;
}

size_t lsh_workspace(const sattn_attention_desc& d) {
  size_t used = 0;
  carve(d, nullptr, &used);
  return used;
}

LshTables prepare_lsh(const sattn_problem& problem, const sattn_run_args& args, const std::vector<float>& projection,
                      void* workspace) {
  const sattn_attention_desc& d = *problem.desc;
  size_t used = 0;
  const Pieces p = carve(d, static_cast<char*>(workspace), &used);
  const int32_t threads = problem.num_threads;
  hash_rows(*args.q, d.num_q_heads, d.q_len, d.head_dim, projection, threads, p.q_bucket);
  hash_rows(*args.k, d.num_kv_heads, d.kv_len, d.head_dim, projection, threads, p.k_bucket);
  const int64_t group = d.num_q_heads / d.num_kv_heads, rows = group * d.q_len, Lq = d.q_len, Lk = d.kv_len;
  // Every pair on its own: keys by (bucket, index); the G heads' rows by (bucket, position, head), so rows that
  // share a bucket and a stretch of positions share blocks (and, under causal masking, the same keys).
  parallel_for(d.batch * d.num_kv_heads, threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const int32_t* k_bucket = p.k_bucket + pair * Lk;
      int32_t* k_order = p.k_order + pair * Lk;
      for (int64_t j = 0; j < Lk; ++j) k_order[j] = static_cast<int32_t>(j);
      std::sort(k_order, k_order + Lk,
                [&](int32_t a, int32_t b) { return k_bucket[a] != k_bucket[b] ? k_bucket[a] < k_bucket[b] : a < b; });
      for (int64_t j = 0; j < Lk; ++j) p.k_sorted_bucket[pair * Lk + j] = k_bucket[k_order[j]];
      const int32_t* q_bucket = p.q_bucket + pair * rows;  // the pair's G heads are consecutive in [B, Hq, Lq]
      int32_t* q_order = p.q_order + pair * rows;
      for (int64_t r = 0; r < rows; ++r) q_order[r] = static_cast<int32_t>(r);
      std::sort(q_order, q_order + rows, [&](int32_t a, int32_t b) {
        if (q_bucket[a] != q_bucket[b]) return q_bucket[a] < q_bucket[b];
        return a % Lq != b % Lq ? a % Lq < b % Lq : a < b;
      });
    }
  });
  return LshTables{p.q_bucket, p.k_bucket, p.q_order, p.k_order, p.k_sorted_bucket};
}

}  // namespace sattn_cpu
