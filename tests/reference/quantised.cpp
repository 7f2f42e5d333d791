// int8/int4 as docs/patterns.md ("Precisions") defines them, simulated in float64 from that text alone. Per batch b
// and kv head h, with qmax = 127 (int8) or 7 (int4):
//   kbar = mean of the keys of (b, h) (of the m landmark keys for landmark), K' = K - kbar;
//   s_q[i] = max_d |q_id| / qmax, s_k[j] = max_d |k'_jd| / qmax, s_v[c] = max_j |v_jc| / qmax, 1 for an all-zero
//   slice, params.scale_q/k/v (when > 0) for every row or channel of that tensor instead;
//   x_q = clamp(round_half_even(x / s), -qmax, qmax);
//   s_ij = scale * s_q[i] * s_k[j] * (q_q[i] . k_q[j]); softmax over the kept keys (selected from the inputs as
//   given); O_ic = s_v[c] * sum_j p_ij v_q[j, c] / sum_j p_ij; LSE_i = log sum_j exp(s_ij) + scale * q_i . kbar.
#include "detail.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace sattn_ref {
namespace {

double qmax_of(int precision) {
  if (precision == SATTN_PRECISION_INT8) return 127.0;
  if (precision == SATTN_PRECISION_INT4) return 7.0;
  throw std::invalid_argument("sattn_ref: quantised_attention is for int8 and int4 only");
}

double slice_scale(float given, double max_abs, double qmax) {
  if (given > 0.0f) return given;
  return max_abs > 0.0 ? max_abs / qmax : 1.0;
}

// std::nearbyint rounds in the default rounding mode: to nearest, ties to even.
double quantise(double x, double scale, double qmax) { return std::clamp(std::nearbyint(x / scale), -qmax, qmax); }

// The keys and values one (b, kv head) attends to, in float64: its rows of K and V, or its landmarks.
struct KeysValues {
  int64_t rows = 0;
  std::vector<double> k, v;  // [rows, D], [rows, Dv]
};

KeysValues keys_values(const Problem& problem, const Inputs& inputs, const detail::Shape& shape, int64_t b,
                       int64_t hk) {
  if (problem.pattern == SATTN_PATTERN_LANDMARK) {
    detail::Landmarks marks = detail::landmarks(problem, inputs, shape, b, hk);
    return KeysValues{problem.params.num_landmarks, std::move(marks.keys), std::move(marks.values)};
  }
  const detail::InputRows rows{shape, inputs};
  KeysValues kv{shape.Lk, {}, {}};
  for (int64_t j = 0; j < shape.Lk; ++j) {
    for (float x : rows.k(b, hk, j)) kv.k.push_back(x);
    for (float x : rows.v(b, hk, j)) kv.v.push_back(x);
  }
  return kv;
}

// The quantised keys and values of one (b, kv head), integers held as doubles.
struct QuantisedKeysValues {
  std::vector<double> kbar;            // [D]
  std::vector<double> k_int, k_scale;  // [rows, D] of K - kbar, [rows]
  std::vector<double> v_int, v_scale;  // [rows, Dv], [Dv]
};

QuantisedKeysValues quantise_keys_values(const Problem& problem, const KeysValues& kv, int64_t D, int64_t Dv) {
  const double qmax = qmax_of(problem.precision);
  const size_t R = static_cast<size_t>(kv.rows), d_k = static_cast<size_t>(D), d_v = static_cast<size_t>(Dv);
  QuantisedKeysValues out;
  out.kbar.assign(d_k, 0.0);
  for (size_t j = 0; j < R; ++j)
    for (size_t d = 0; d < d_k; ++d) out.kbar[d] += kv.k[j * d_k + d];
  for (double& mean : out.kbar) mean /= static_cast<double>(R);

  out.k_int.resize(R * d_k);
  out.k_scale.resize(R);
  for (size_t j = 0; j < R; ++j) {
    std::vector<double> smoothed(d_k);
    double max_abs = 0.0;
    for (size_t d = 0; d < d_k; ++d) {
      smoothed[d] = kv.k[j * d_k + d] - out.kbar[d];
      max_abs = std::max(max_abs, std::abs(smoothed[d]));
    }
    out.k_scale[j] = slice_scale(problem.params.scale_k, max_abs, qmax);
    for (size_t d = 0; d < d_k; ++d) out.k_int[j * d_k + d] = quantise(smoothed[d], out.k_scale[j], qmax);
  }

  out.v_int.resize(R * d_v);
  out.v_scale.resize(d_v);
  for (size_t c = 0; c < d_v; ++c) {
    double max_abs = 0.0;
    for (size_t j = 0; j < R; ++j) max_abs = std::max(max_abs, std::abs(kv.v[j * d_v + c]));
    out.v_scale[c] = slice_scale(problem.params.scale_v, max_abs, qmax);
    for (size_t j = 0; j < R; ++j) out.v_int[j * d_v + c] = quantise(kv.v[j * d_v + c], out.v_scale[c], qmax);
  }
  return out;
}

}  // namespace

Result quantised_attention(const Problem& problem, const Inputs& inputs) {
  const detail::Shape shape = detail::validated_shape(problem, inputs);
  const double qmax = qmax_of(problem.precision);
  for (const std::vector<float>* tensor : {&inputs.q, &inputs.k, &inputs.v})
    for (float x : *tensor)
      if (!std::isfinite(x)) throw std::invalid_argument("sattn_ref: quantised inputs must be finite");
  const bool landmark = problem.pattern == SATTN_PATTERN_LANDMARK;
  const std::vector<uint8_t> mask = landmark ? std::vector<uint8_t>() : kept_mask(problem, inputs);
  const double scale = problem.scale != 0.0 ? problem.scale : 1.0 / std::sqrt(static_cast<double>(shape.D));
  const detail::InputRows rows{shape, inputs};
  const size_t D = static_cast<size_t>(shape.D), Dv = static_cast<size_t>(shape.Dv);

  Result result{std::vector<double>(static_cast<size_t>(shape.B * shape.Hq * shape.Lq) * Dv, 0.0),
                std::vector<double>(static_cast<size_t>(shape.B * shape.Hq * shape.Lq))};
  std::vector<double> q_int(D), scores;
  std::vector<int64_t> kept;
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hk = 0; hk < shape.Hk; ++hk) {
      const KeysValues kv = keys_values(problem, inputs, shape, b, hk);
      const QuantisedKeysValues qkv = quantise_keys_values(problem, kv, shape.D, shape.Dv);
      for (int64_t hq = hk * shape.G; hq < (hk + 1) * shape.G; ++hq)
        for (int64_t i = 0; i < shape.Lq; ++i) {
          const int64_t row = (b * shape.Hq + hq) * shape.Lq + i;
          std::span<const float> q = rows.q(b, hq, i);
          double max_abs = 0.0, shift = 0.0;
          for (size_t d = 0; d < D; ++d) {
            max_abs = std::max(max_abs, std::abs(static_cast<double>(q[d])));
            shift += static_cast<double>(q[d]) * qkv.kbar[d];
          }
          shift *= scale;
          const double q_scale = slice_scale(problem.params.scale_q, max_abs, qmax);
          for (size_t d = 0; d < D; ++d) q_int[d] = quantise(q[d], q_scale, qmax);

          kept.clear();
          scores.clear();
          for (int64_t j = 0; j < kv.rows; ++j) {
            if (!landmark && mask[static_cast<size_t>(row * shape.Lk + j)] == 0) continue;
            double dot = 0.0;  // of integers: exact
            for (size_t d = 0; d < D; ++d) dot += q_int[d] * qkv.k_int[static_cast<size_t>(j) * D + d];
            kept.push_back(j);
            scores.push_back(scale * q_scale * qkv.k_scale[static_cast<size_t>(j)] * dot);
          }
          double& lse = result.lse[static_cast<size_t>(row)];
          if (kept.empty()) {
            lse = -std::numeric_limits<double>::infinity();
            continue;
          }
          const double max_score = *std::max_element(scores.begin(), scores.end());
          double sum = 0.0;
          double* o = &result.o[static_cast<size_t>(row) * Dv];
          for (size_t n = 0; n < kept.size(); ++n) {
            const double p = std::exp(scores[n] - max_score);
            sum += p;
            for (size_t c = 0; c < Dv; ++c) o[c] += p * qkv.v_int[static_cast<size_t>(kept[n]) * Dv + c];
          }
          for (size_t c = 0; c < Dv; ++c) o[c] = qkv.v_scale[c] * o[c] / sum;
          lse = max_score + std::log(sum) + shift;
        }
    }
  return result;
}

double simulation_tolerance(bool fp32_pv) { return fp32_pv ? 1e-4 : 2e-3; }

}  // namespace sattn_ref
