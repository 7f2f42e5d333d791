// int8/int4 quantisation (docs/patterns.md, "Precisions"). Per batch b and kv head h:
//   kbar = mean of the kv_rows keys of (b, h), K' = K - kbar;
//   s_q[i] = max_d |q_id| / qmax, s_k[j] = max_d |k'_jd| / qmax, s_v[c] = max_j |v_jc| / qmax (given scales win);
//   x_q = clamp(round_half_even(x / s), -qmax, qmax).
// Smoothing takes scale * q_i . kbar from every score of row i, which leaves the softmax unchanged but not the LSE,
// so the shift is returned for the caller to add back. Without it a key bias shared by every key (common in trained
// models) would dominate max|k| and leave few levels for what tells the keys apart.
//
// The arithmetic that decides the integers (mean, K - kbar, max, x / s) is float64, exactly as written above and
// in increasing index order: the quantised integers then agree with a float64 evaluation of the contract, whereas
// fp32 arithmetic would move x / s by an ulp and flip a rounding every ~10^5 values.
#include "core/quantize.hpp"

#include <sattn_kernels.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "core/parallel.hpp"

namespace sattn {
namespace {

// The scale of one slice (a row of Q or K', a channel of V): the given one, else max|x| / qmax. An all-zero slice
// gets 1 instead of 0, so that x / s is 0 / 1 rather than 0 / 0.
double slice_scale(float given, double max_abs, double qmax) {
  if (given > 0.0f) return given;
  return max_abs > 0.0 ? max_abs / qmax : 1.0;
}

int8_t quantize(double x, double scale, double qmax) {
  // Clamped first (given scales smaller than max|x| / qmax put x / s beyond qmax; qmax is an integer, so clamping
  // and rounding commute), then rounded to nearest, ties to even, by adding and subtracting 1.5 * 2^52: exact for
  // |y| < 2^51, and unlike a call to nearbyint it vectorises on baseline x86-64 (the rows here are most of an int8
  // run's fixed cost). Both round in the current rounding mode, round to nearest even unless a caller changed it.
  const double y = std::clamp(x / scale, -qmax, qmax);
  constexpr double kRoundingShift = 6755399441055744.0;  // 1.5 * 2^52
  return static_cast<int8_t>((y + kRoundingShift) - kRoundingShift);
}

// Index of the first non-finite value of x[0, n), or -1.
int64_t first_non_finite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

// The tensor's first non-finite value, found by the worker of each (b, kv head), reported as [b, h, row, column].
struct NonFinite {
  const char* name;
  int64_t heads, rows, columns;  // of the tensor, to turn a flat index into [b, h, row, column]
  std::vector<int64_t> first;    // per (b, kv head) task: flat index into the tensor, or -1

  void report() const {
    for (const int64_t n : first) {
      if (n < 0) continue;
      const int64_t column = n % columns, row = n / columns % rows, h = n / (columns * rows) % heads;
      const int64_t b = n / (columns * rows * heads);
      fail(SATTN_ERROR_INVALID_ARGUMENT, name, " holds a non-finite value at [", b, ", ", h, ", ", row, ", ", column,
           "]; int8/int4 plans need finite inputs");
    }
  }
};

}  // namespace

void quantize_operands(const QuantShape& s, const float* q, const float* k, const float* v,
                       const QuantizedOperands& out) {
  const double qmax = sattn_quant_max(s.precision);
  const int64_t G = s.q_heads / s.kv_heads, D = s.head_dim, Dv = s.head_dim_v, tasks = s.batch * s.kv_heads;
  NonFinite bad_q{"q", s.q_heads, s.q_len, D, std::vector<int64_t>(static_cast<size_t>(tasks), -1)};
  NonFinite bad_k{"k", s.kv_heads, s.kv_rows, D, std::vector<int64_t>(static_cast<size_t>(tasks), -1)};
  NonFinite bad_v{"v", s.kv_heads, s.kv_rows, Dv, std::vector<int64_t>(static_cast<size_t>(tasks), -1)};

  // First per (b, kv head) task (its keys, values and the G query heads that read them; task t = b * Hk + h, so its
  // K and V rows start at t * kv_rows and its query rows at t * G * Lq): the finiteness checks and what the rows
  // share, the mean key and V's channel scales. Then every row on its own (the divisions and roundings, most of the
  // work), in parallel over all rows: with few kv heads the tasks alone would leave most cores idle.
  std::vector<double> kbars(static_cast<size_t>(tasks * D)), v_scales(static_cast<size_t>(tasks * Dv));
  std::vector<char> skipped(static_cast<size_t>(tasks), 0);
  parallel_for(tasks, s.num_threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const size_t task = static_cast<size_t>(t);
      const int64_t k0 = t * s.kv_rows, q0 = t * G * s.q_len;  // first K/V row and first Q row of the task
      const int64_t bad[3] = {first_non_finite(q + q0 * D, G * s.q_len * D),
                              first_non_finite(k + k0 * D, s.kv_rows * D),
                              first_non_finite(v + k0 * Dv, s.kv_rows * Dv)};
      if (bad[0] >= 0 || bad[1] >= 0 || bad[2] >= 0) {
        bad_q.first[task] = bad[0] < 0 ? -1 : q0 * D + bad[0];
        bad_k.first[task] = bad[1] < 0 ? -1 : k0 * D + bad[1];
        bad_v.first[task] = bad[2] < 0 ? -1 : k0 * Dv + bad[2];
        skipped[task] = 1;
        continue;
      }
      // The mean key, summed in row order.
      double* kbar = &kbars[static_cast<size_t>(t * D)];
      for (int64_t j = k0; j < k0 + s.kv_rows; ++j)
        for (int64_t d = 0; d < D; ++d) kbar[d] += k[j * D + d];
      for (int64_t d = 0; d < D; ++d) kbar[d] /= static_cast<double>(s.kv_rows);
      // V: one scale per channel over the task's rows.
      double* v_scale = &v_scales[static_cast<size_t>(t * Dv)];
      for (int64_t j = k0; j < k0 + s.kv_rows; ++j)
        for (int64_t c = 0; c < Dv; ++c) v_scale[c] = std::max<double>(v_scale[c], std::fabs(v[j * Dv + c]));
      for (int64_t c = 0; c < Dv; ++c) {
        v_scale[c] = slice_scale(s.scale_v, v_scale[c], qmax);
        out.v_scale[t * Dv + c] = static_cast<float>(v_scale[c]);
      }
    }
  });

  const int64_t k_rows = tasks * s.kv_rows, q_rows = tasks * G * s.q_len;
  parallel_for(2 * k_rows + q_rows, s.num_threads, 256, [&](int64_t begin, int64_t end) {
    std::vector<double> smoothed(static_cast<size_t>(D));
    for (int64_t n = begin; n < end; ++n) {
      if (n < k_rows) {  // K: each smoothed row with its own scale
        const int64_t j = n, t = j / s.kv_rows;
        if (skipped[static_cast<size_t>(t)] != 0) continue;
        const double* kbar = &kbars[static_cast<size_t>(t * D)];
        double max_abs = 0.0;
        for (int64_t d = 0; d < D; ++d) {
          smoothed[static_cast<size_t>(d)] = static_cast<double>(k[j * D + d]) - kbar[d];
          max_abs = std::max(max_abs, std::fabs(smoothed[static_cast<size_t>(d)]));
        }
        const double scale = slice_scale(s.scale_k, max_abs, qmax);
        out.k_scale[j] = static_cast<float>(scale);
        for (int64_t d = 0; d < D; ++d) out.k[j * D + d] = quantize(smoothed[static_cast<size_t>(d)], scale, qmax);
      } else if (n < 2 * k_rows) {  // V: by its channels' scales
        const int64_t j = n - k_rows, t = j / s.kv_rows;
        if (skipped[static_cast<size_t>(t)] != 0) continue;
        const double* v_scale = &v_scales[static_cast<size_t>(t * Dv)];
        for (int64_t c = 0; c < Dv; ++c) out.v[j * Dv + c] = quantize(v[j * Dv + c], v_scale[c], qmax);
      } else {  // Q: per row, with the shift smoothing took from the row's scores (from the unquantised q)
        const int64_t i = n - 2 * k_rows, t = i / (G * s.q_len);
        if (skipped[static_cast<size_t>(t)] != 0) continue;
        const double* kbar = &kbars[static_cast<size_t>(t * D)];
        double max_abs = 0.0, q_dot_kbar = 0.0;
        for (int64_t d = 0; d < D; ++d) {
          max_abs = std::max<double>(max_abs, std::fabs(q[i * D + d]));
          q_dot_kbar += static_cast<double>(q[i * D + d]) * kbar[d];
        }
        const double scale = slice_scale(s.scale_q, max_abs, qmax);
        out.q_scale[i] = static_cast<float>(scale);
        out.lse_shift[i] = static_cast<float>(static_cast<double>(s.softmax_scale) * q_dot_kbar);
        for (int64_t d = 0; d < D; ++d) out.q[i * D + d] = quantize(q[i * D + d], scale, qmax);
      }
    }
  });

  // Reported after the parallel part, in the order q, k, v and then by index, so the message does not depend on
  // which worker met a bad value first.
  bad_q.report();
  bad_k.report();
  bad_v.report();
}

}  // namespace sattn
