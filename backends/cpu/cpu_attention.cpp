#include "cpu_attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.hpp"
#include "core/precision.hpp"
#include "core/tensor_io.hpp"

namespace sattn::cpu {
namespace {

// Scratch of one worker: the kept keys of the current row with their scores.
struct RowScratch {
  std::vector<int64_t> keys;
  std::vector<float> scores;
  std::vector<uint8_t> mask;
  std::vector<float> accumulator;
};

float score(const Operands& ops, int64_t q_row, int64_t k_row, float scale) {
  const int64_t D = ops.q.dim;
  if (ops.q.quantized != nullptr) {
    const int8_t* q = ops.q.quantized + q_row * D;
    const int8_t* k = ops.k.quantized + k_row * D;
    // Exact: at most 127 * 127 per term, so the contract's int32 sum for any D below 133144; int64 beyond.
    int64_t dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += static_cast<int32_t>(q[d]) * static_cast<int32_t>(k[d]);
    return scale * ops.q.scales[q_row] * ops.k.scales[k_row] * static_cast<float>(dot);
  }
  const float* q = ops.q.values + q_row * D;
  const float* k = ops.k.values + k_row * D;
  float dot = 0.0f;
  for (int64_t d = 0; d < D; ++d) dot += q[d] * k[d];
  return scale * dot;
}

// Collects the kept keys of query row i with their scores.
void score_row(const sattn_problem& problem, const sattn_layout& layout, const Operands& ops, int64_t b, int64_t hq,
               int64_t i, int64_t row, RowScratch& s) {
  const sattn_attention_desc& d = problem.desc;
  const Geometry& g = layout.geometry;
  const int64_t q_row = (b * d.num_q_heads + hq) * d.q_len + i;
  const int64_t k_base = (b * d.num_kv_heads + hq / g.group) * g.kv_len;
  s.keys.clear();
  s.scores.clear();
  for (int64_t n = layout.row_ptr[static_cast<size_t>(row)]; n < layout.row_ptr[static_cast<size_t>(row) + 1]; ++n) {
    const int64_t kt = layout.cols[static_cast<size_t>(n)];
    const int64_t j0 = g.k_begin(kt), j1 = g.k_end(kt);
    const bool full = layout.full[static_cast<size_t>(n)] != 0;
    if (!full) layout.row_mask(b, hq, i, j0, j1, s.mask.data());
    for (int64_t j = j0; j < j1; ++j) {
      if (!full && s.mask[static_cast<size_t>(j - j0)] == 0) continue;
      s.keys.push_back(j);
      s.scores.push_back(score(ops, q_row, k_base + j, d.scale));
    }
  }
}

// Softmax over the row's scores and P.V; writes O and LSE. Probabilities are rounded to bf16/fp16 before P.V as
// docs/patterns.md says; the denominator sums the unrounded fp32 probabilities. int8/int4 apply V's per-channel
// scales after the normalisation and add K smoothing's shift back to the LSE.
void finish_row(const sattn_problem& problem, const sattn_layout& layout, const Operands& ops,
                const sattn_run_args& args, int64_t b, int64_t hq, int64_t i, RowScratch& s) {
  const sattn_attention_desc& d = problem.desc;
  const int64_t Dv = d.head_dim_v;
  std::fill(s.accumulator.begin(), s.accumulator.end(), 0.0f);
  float lse = -std::numeric_limits<float>::infinity();
  if (!s.keys.empty()) {
    const float max_score = *std::max_element(s.scores.begin(), s.scores.end());
    const int64_t kv_head = b * d.num_kv_heads + hq / layout.geometry.group;
    const int64_t v_base = kv_head * layout.geometry.kv_len;
    float denominator = 0.0f;
    for (size_t n = 0; n < s.keys.size(); ++n) {
      const float p = std::exp(s.scores[n] - max_score);
      denominator += p;
      const float weight = round_to_precision(p, d.precision);
      const int64_t v_row = (v_base + s.keys[n]) * Dv;
      if (ops.v.quantized != nullptr) {
        for (int64_t c = 0; c < Dv; ++c)
          s.accumulator[static_cast<size_t>(c)] += weight * static_cast<float>(ops.v.quantized[v_row + c]);
      } else {
        for (int64_t c = 0; c < Dv; ++c) s.accumulator[static_cast<size_t>(c)] += weight * ops.v.values[v_row + c];
      }
    }
    for (int64_t c = 0; c < Dv; ++c)
      s.accumulator[static_cast<size_t>(c)] *=
          (ops.v.scales != nullptr ? ops.v.scales[kv_head * Dv + c] : 1.0f) / denominator;
    lse = max_score + std::log(denominator);
    if (ops.lse_shift != nullptr) lse += ops.lse_shift[(b * d.num_q_heads + hq) * d.q_len + i];
  }
  scatter_row(*args.o, b, hq, i, s.accumulator.data(), Dv);
  if (args.lse != nullptr) store_scalar(*args.lse, b, hq, i, lse);
}

}  // namespace

void run_attention(const sattn_problem& problem, const sattn_layout& layout, const Operands& ops,
                   const sattn_run_args& args) {
  const sattn_attention_desc& d = problem.desc;
  const Geometry& g = layout.geometry;
  const int64_t tasks = d.batch * d.num_q_heads * g.num_q_tiles;
  parallel_for(tasks, problem.num_threads, 1, [&](int64_t begin, int64_t end) {
    RowScratch scratch;
    scratch.mask.resize(static_cast<size_t>(g.tile_k));
    scratch.accumulator.resize(static_cast<size_t>(d.head_dim_v));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t qt = t % g.num_q_tiles, hq = (t / g.num_q_tiles) % d.num_q_heads;
      const int64_t b = t / (g.num_q_tiles * d.num_q_heads);
      const int64_t row = layout.row_index(b, hq, qt);
      for (int64_t i = g.q_begin(qt); i < g.q_end(qt); ++i) {
        score_row(problem, layout, ops, b, hq, i, row, scratch);
        finish_row(problem, layout, ops, args, b, hq, i, scratch);
      }
    }
  });
}

}  // namespace sattn::cpu
