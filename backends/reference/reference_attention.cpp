#include "reference_attention.hpp"

#include <sattn_kernels.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "reference_host.hpp"

namespace sattn_reference {
namespace {

// Scratch of one worker: the kept keys of the current row with their scores.
struct RowScratch {
  std::vector<int64_t> keys;
  std::vector<float> scores;
  std::vector<float> accumulator;
};

struct RowContext {
  const sattn_attention_desc& d;
  const sattn_layout_view& layout;
  const Operands& ops;
  int64_t group;
};

float score(const RowContext& c, int64_t q_row, int64_t k_row) {
  const int64_t D = c.d.head_dim;
  const sattn_quantized_operands& quantized = c.ops.quantized;
  if (quantized.q != nullptr) {
    const int8_t* q = quantized.q + q_row * D;
    const int8_t* k = quantized.k + k_row * D;
    int32_t dot = 0;  // exact: |q||k| <= 127 * 127 per term
    for (int64_t i = 0; i < D; ++i) dot += static_cast<int32_t>(q[i]) * static_cast<int32_t>(k[i]);
    return c.d.scale * quantized.q_scale[q_row] * quantized.k_scale[k_row] * static_cast<float>(dot);
  }
  const float* q = c.ops.q + q_row * D;
  const float* k = c.ops.k + k_row * D;
  float dot = 0.0f;
  for (int64_t i = 0; i < D; ++i) dot += q[i] * k[i];
  return c.d.scale * dot;
}

// Collects the kept keys of query row i with their scores, walking the spans of its layout row.
void score_row(const RowContext& c, int64_t b, int64_t hq, int64_t i, RowScratch& s) {
  const sattn_layout_view& view = c.layout;
  const int64_t q_row = (b * c.d.num_q_heads + hq) * c.d.q_len + i;
  const int64_t k_base = (b * c.d.num_kv_heads + hq / c.group) * view.kv_len;
  const int64_t row = sattn_layout_row(&view, b, hq, i / view.tile_q);
  s.keys.clear();
  s.scores.clear();
  for (int64_t n = view.row_ptr[row]; n < view.row_ptr[row + 1]; ++n) {
    const sattn_tile_span& span = view.spans[n];
    const bool full = span.kind == SATTN_TILE_FULL;
    for (int64_t kt = span.k_begin; kt < span.k_end; ++kt) {
      const int64_t j1 = std::min(view.kv_len, (kt + 1) * view.tile_k);
      for (int64_t j = kt * view.tile_k; j < j1; ++j) {
        if (!full && !sattn_tile_keeps(&view, &span, kt, i, j)) continue;
        s.keys.push_back(j);
        s.scores.push_back(score(c, q_row, k_base + j));
      }
    }
  }
}

// Softmax over the row's scores and P.V; writes O and LSE. Probabilities are rounded to bf16/fp16 before P.V as the
// precisions define; the denominator sums the unrounded fp32 probabilities.
void finish_row(const RowContext& c, const sattn_run_args& args, int64_t b, int64_t hq, int64_t i, RowScratch& s) {
  const sattn_attention_desc& d = c.d;
  const int64_t Dv = d.head_dim_v;
  const sattn_quantized_operands& quantized = c.ops.quantized;
  std::fill(s.accumulator.begin(), s.accumulator.end(), 0.0f);
  float lse = -std::numeric_limits<float>::infinity();
  if (!s.keys.empty()) {
    const float max_score = *std::max_element(s.scores.begin(), s.scores.end());
    const int64_t kv_head = b * d.num_kv_heads + hq / c.group;
    const int64_t v_base = kv_head * c.layout.kv_len;
    float denominator = 0.0f;
    for (size_t n = 0; n < s.keys.size(); ++n) {
      const float p = std::exp(s.scores[n] - max_score);
      denominator += p;
      const float weight = sattn_round_to_precision(p, d.precision);
      const int64_t v_row = (v_base + s.keys[n]) * Dv;
      if (quantized.v != nullptr) {
        for (int64_t ch = 0; ch < Dv; ++ch)
          s.accumulator[static_cast<size_t>(ch)] += weight * static_cast<float>(quantized.v[v_row + ch]);
      } else {
        for (int64_t ch = 0; ch < Dv; ++ch) s.accumulator[static_cast<size_t>(ch)] += weight * c.ops.v[v_row + ch];
      }
    }
    for (int64_t ch = 0; ch < Dv; ++ch) {
      const float channel_scale = quantized.v_scale != nullptr ? quantized.v_scale[kv_head * Dv + ch] : 1.0f;
      s.accumulator[static_cast<size_t>(ch)] = channel_scale * (s.accumulator[static_cast<size_t>(ch)] / denominator);
    }
    lse = max_score + std::log(denominator);
    if (quantized.lse_shift != nullptr) lse += quantized.lse_shift[(b * d.num_q_heads + hq) * d.q_len + i];
  }
  check(host->scatter_row_f32(args.o, b, hq, i, s.accumulator.data(), Dv));
  if (args.lse != nullptr) {
    const sattn_tensor& t = *args.lse;
    static_cast<float*>(t.data)[b * t.strides[0] + hq * t.strides[1] + i * t.strides[2]] = lse;
  }
}

}  // namespace

void run_attention(const sattn_problem& problem, const sattn_layout_view& layout, const Operands& ops,
                   const sattn_run_args& args) {
  const sattn_attention_desc& d = *problem.desc;
  const RowContext context{d, layout, ops, d.num_q_heads / d.num_kv_heads};
  const int64_t tasks = d.batch * d.num_q_heads * layout.num_q_tiles;
  parallel_for(tasks, problem.num_threads, 1, [&](int64_t begin, int64_t end) {
    RowScratch scratch;
    scratch.accumulator.resize(static_cast<size_t>(d.head_dim_v));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t qt = t % layout.num_q_tiles, hq = (t / layout.num_q_tiles) % d.num_q_heads;
      const int64_t b = t / (layout.num_q_tiles * d.num_q_heads);
      const int64_t i1 = std::min(d.q_len, (qt + 1) * layout.tile_q);
      for (int64_t i = qt * layout.tile_q; i < i1; ++i) {
        score_row(context, b, hq, i, scratch);
        finish_row(context, args, b, hq, i, scratch);
      }
    }
  });
}

}  // namespace sattn_reference
