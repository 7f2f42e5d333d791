#include "cpu_lsh.hpp"

#include <sattn_kernels.h>

#include <algorithm>
#include <atomic>

#include "cpu_carver.hpp"
#include "cpu_host.hpp"

namespace sattn_cpu {
namespace {

// fn(slot scratch, n) for n in [0, count), the workers taking items from a shared counter, each with its own slot.
template <typename Fn>
void for_each_in_slots(int64_t count, const LshScratch& scratch, int32_t threads, const Fn& fn) {
  std::atomic<int64_t> next{0};
  parallel_for(std::min(scratch.slots, count), threads, 1, [&](int64_t first_slot, int64_t last_slot) {
    for (int64_t slot = first_slot; slot < last_slot; ++slot)
      for (int64_t n = next.fetch_add(1, std::memory_order_relaxed); n < count;
           n = next.fetch_add(1, std::memory_order_relaxed))
        fn(scratch.base + slot * scratch.slot_floats, n);
  });
}

// The buckets of every row of a [B, heads, len, D] tensor, hashed kW rows at a time by the ISA path's `hash`.
void hash_tensor(const sattn_tensor& t, int64_t heads, int64_t len, const std::vector<float>& projection_t,
                 LshHashFn hash, const LshScratch& scratch, int32_t threads, int32_t* buckets) {
  const int64_t D = t.shape[3], count = t.shape[0] * heads * len, block = 256;
  const LshHashJob job{&t, heads, len, D, static_cast<int64_t>(projection_t.size()) / D, projection_t.data(), buckets};
  for_each_in_slots((count + block - 1) / block, scratch, threads,
                    [&](float* slot, int64_t n) { hash(job, n * block, std::min(block, count - n * block), slot); });
}

// order[0, n) = the items 0..n-1 (enumerated as item(e), e = 0..n-1) sorted by bucket, in enumeration order within a
// bucket. With nb counters fitting the slot a counting sort (linear, stable); otherwise a comparison sort.
template <typename Item>
void sort_by_bucket(const int32_t* bucket, int64_t n, int64_t nb, const Item& item, int32_t* order, float* slot,
                    int64_t slot_floats) {
  if (nb + 1 <= slot_floats) {
    int32_t* start = reinterpret_cast<int32_t*>(slot);  // start[b]: where bucket b's items begin
    std::fill(start, start + nb + 1, 0);
    for (int64_t e = 0; e < n; ++e) ++start[bucket[item(e)] + 1];
    for (int64_t b = 0; b < nb; ++b) start[b + 1] += start[b];
    for (int64_t e = 0; e < n; ++e) {
      const int32_t it = item(e);
      order[start[bucket[it]]++] = it;
    }
    return;
  }
  for (int64_t e = 0; e < n; ++e) order[e] = item(e);
  // Enumeration rank of an item, to break ties as the counting sort does.
  std::sort(order, order + n, [&](int32_t a, int32_t b) {
    return bucket[a] != bucket[b] ? bucket[a] < bucket[b] : item.rank(a) < item.rank(b);
  });
}

struct Pieces {
  int32_t *q_bucket, *k_bucket, *q_order, *k_order, *k_sorted_bucket;
};
Pieces carve(const sattn_attention_desc& d, Carver& carver) {
  const int64_t q_rows = d.batch * d.num_q_heads * d.q_len, k_rows = d.batch * d.num_kv_heads * d.kv_len;
  Pieces p{};
  p.q_bucket = carver.take<int32_t>(q_rows);
  p.k_bucket = carver.take<int32_t>(k_rows);
  p.q_order = carver.take<int32_t>(q_rows);
  p.k_order = carver.take<int32_t>(k_rows);
  p.k_sorted_bucket = carver.take<int32_t>(k_rows);
  return p;
}

}  // namespace

std::vector<float> lsh_projection_t(const sattn_attention_desc& d) {
  const int64_t D = d.head_dim, half = d.params.lsh_buckets / 2;
  std::vector<float> projection_t(static_cast<size_t>(D * half));
  for (int64_t c = 0; c < half; ++c)
    for (int64_t r = 0; r < D; ++r)
      projection_t[static_cast<size_t>(c * D + r)] = sattn_lsh_projection(d.params.lsh_seed, r, half, c);
  return projection_t;
}

size_t lsh_workspace(const sattn_attention_desc& d) {
  Carver measure(nullptr);
  carve(d, measure);
  return measure.used();
}

LshTables prepare_lsh(const sattn_problem& problem, const sattn_run_args& args, const std::vector<float>& projection_t,
                      LshHashFn hash, const LshScratch& scratch, void* tables) {
  const sattn_attention_desc& d = *problem.desc;
  Carver carver(tables);
  const Pieces p = carve(d, carver);
  const int32_t threads = problem.num_threads;
  hash_tensor(*args.q, d.num_q_heads, d.q_len, projection_t, hash, scratch, threads, p.q_bucket);
  hash_tensor(*args.k, d.num_kv_heads, d.kv_len, projection_t, hash, scratch, threads, p.k_bucket);
  const int64_t group = d.num_q_heads / d.num_kv_heads, rows = group * d.q_len, Lq = d.q_len, Lk = d.kv_len;
  // Every pair on its own: keys by (bucket, index); the G heads' rows by (bucket, position, head), so rows that
  // share a bucket and a stretch of positions share blocks (and, under causal masking, the same keys).
  const int64_t nb = d.params.lsh_buckets;
  struct KeyItems {  // keys in index order
    int32_t operator()(int64_t e) const { return static_cast<int32_t>(e); }
    int64_t rank(int32_t key) const { return key; }
  };
  struct RowItems {  // row codes (head within the group * Lq + i) in (position, head) order
    int64_t group, Lq;
    int32_t operator()(int64_t e) const { return static_cast<int32_t>((e % group) * Lq + e / group); }
    int64_t rank(int32_t code) const { return (code % Lq) * group + code / Lq; }
  };
  for_each_in_slots(d.batch * d.num_kv_heads, scratch, threads, [&](float* slot, int64_t pair) {
    const int32_t* k_bucket = p.k_bucket + pair * Lk;
    int32_t* k_order = p.k_order + pair * Lk;
    sort_by_bucket(k_bucket, Lk, nb, KeyItems{}, k_order, slot, scratch.slot_floats);
    for (int64_t j = 0; j < Lk; ++j) p.k_sorted_bucket[pair * Lk + j] = k_bucket[k_order[j]];
    // The pair's G heads are consecutive in [B, Hq, Lq]: its rows' buckets start at pair * rows.
    sort_by_bucket(p.q_bucket + pair * rows, rows, nb, RowItems{group, Lq}, p.q_order + pair * rows, slot,
                   scratch.slot_floats);
  });
  return LshTables{p.q_bucket, p.k_bucket, p.q_order, p.k_order, p.k_sorted_bucket};
}

}  // namespace sattn_cpu
