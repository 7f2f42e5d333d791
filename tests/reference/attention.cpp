// The public entry points: the kept mask of a pattern, the float64 attention over it, and the tolerances of
// docs/patterns.md.
#include "detail.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace sattn_ref {
namespace {

using detail::Shape;

double effective_scale(const Problem& problem) {
  return problem.scale != 0.0 ? problem.scale : 1.0 / std::sqrt(static_cast<double>(problem.D));
}

double dot_f64(std::span<const float> a, std::span<const float> b) {
  double acc = 0.0;
  for (size_t d = 0; d < a.size(); ++d) acc += static_cast<double>(a[d]) * static_cast<double>(b[d]);
  return acc;
}

// Softmax of `scores` applied to the value rows value_of(n), written to o; returns the LSE (-inf when empty).
template <typename ValueRow>
double softmax_row(const std::vector<double>& scores, ValueRow value_of, std::span<double> o) {
  std::fill(o.begin(), o.end(), 0.0);
  if (scores.empty()) return -std::numeric_limits<double>::infinity();
  const double max_score = *std::max_element(scores.begin(), scores.end());
  double sum = 0.0;
  for (size_t n = 0; n < scores.size(); ++n) {
    const double weight = std::exp(scores[n] - max_score);
    sum += weight;
    const auto value = value_of(n);
    for (size_t d = 0; d < o.size(); ++d) o[d] += weight * static_cast<double>(value[d]);
  }
  for (double& x : o) x /= sum;
  return max_score + std::log(sum);
}

Result empty_result(const Shape& shape) {
  return Result{std::vector<double>(static_cast<size_t>(shape.B * shape.Hq * shape.Lq * shape.Dv)),
                std::vector<double>(static_cast<size_t>(shape.B * shape.Hq * shape.Lq))};
}

std::span<double> output_row(Result& result, const Shape& shape, int64_t row) {
  return std::span<double>(result.o).subspan(static_cast<size_t>(row * shape.Dv), static_cast<size_t>(shape.Dv));
}

Result landmark_attention(const Problem& problem, const Inputs& inputs, const Shape& shape) {
  const detail::InputRows rows{shape, inputs};
  const double scale = effective_scale(problem);
  const int64_t m = problem.params.num_landmarks;
  Result result = empty_result(shape);
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hk = 0; hk < shape.Hk; ++hk) {
      const detail::Landmarks marks = detail::landmarks(problem, inputs, shape, b, hk);
      for (int64_t hq = hk * shape.G; hq < (hk + 1) * shape.G; ++hq)
        for (int64_t i = 0; i < shape.Lq; ++i) {
          std::span<const float> query = rows.q(b, hq, i);
          std::vector<double> scores(static_cast<size_t>(m));
          for (int64_t c = 0; c < m; ++c) {
            double dot = 0.0;
            for (int64_t d = 0; d < shape.D; ++d)
              dot += static_cast<double>(query[static_cast<size_t>(d)]) * marks.keys[static_cast<size_t>(c * shape.D + d)];
            scores[static_cast<size_t>(c)] = scale * dot;
          }
          const int64_t row = (b * shape.Hq + hq) * shape.Lq + i;
          auto value_of = [&](size_t c) {
            return std::span<const double>(marks.values).subspan(c * static_cast<size_t>(shape.Dv),
                                                                 static_cast<size_t>(shape.Dv));
          };
          result.lse[static_cast<size_t>(row)] = softmax_row(scores, value_of, output_row(result, shape, row));
        }
    }
  return result;
}

}  // namespace

std::vector<uint8_t> kept_mask(const Problem& problem, const Inputs& inputs) {
  const Shape shape = detail::validated_shape(problem, inputs);
  std::vector<uint8_t> mask(static_cast<size_t>(shape.B * shape.Hq * shape.Lq * shape.Lk), 0);
  switch (problem.pattern) {
    case SATTN_PATTERN_DENSE: detail::mask_dense(problem, shape, mask); break;
    case SATTN_PATTERN_SLIDING_WINDOW: detail::mask_sliding_window(problem, shape, mask); break;
    case SATTN_PATTERN_BLOCK_TOPK: detail::mask_block_topk(problem, inputs, shape, mask); break;
    case SATTN_PATTERN_BLOCK_LOCAL_GLOBAL: detail::mask_block_local_global(problem, shape, mask); break;
    case SATTN_PATTERN_NM_STRUCTURED: detail::mask_nm_structured(problem, inputs, shape, mask); break;
    case SATTN_PATTERN_TOPK_PER_QUERY: detail::mask_topk_per_query(problem, inputs, shape, mask); break;
    case SATTN_PATTERN_LSH: detail::mask_lsh(problem, inputs, shape, mask); break;
    case SATTN_PATTERN_BLOCK_MASK: detail::mask_block_mask(problem, inputs, shape, mask); break;
    case SATTN_PATTERN_LANDMARK:
      throw std::invalid_argument("sattn_ref: landmark queries attend to landmarks, it has no kept mask");
    default: throw std::invalid_argument("sattn_ref: unknown pattern " + std::to_string(problem.pattern));
  }
  return mask;
}

Result attention(const Problem& problem, const Inputs& inputs) {
  const Shape shape = detail::validated_shape(problem, inputs);
  if (problem.pattern == SATTN_PATTERN_LANDMARK) return landmark_attention(problem, inputs, shape);
  const std::vector<uint8_t> mask = kept_mask(problem, inputs);
  const detail::InputRows rows{shape, inputs};
  const double scale = effective_scale(problem);
  Result result = empty_result(shape);
  std::vector<double> scores;
  std::vector<int64_t> kept_keys;
  for (int64_t b = 0; b < shape.B; ++b)
    for (int64_t hq = 0; hq < shape.Hq; ++hq)
      for (int64_t i = 0; i < shape.Lq; ++i) {
        const int64_t row = (b * shape.Hq + hq) * shape.Lq + i;
        const int64_t hk = shape.kv_head(hq);
        scores.clear();
        kept_keys.clear();
        for (int64_t j = 0; j < shape.Lk; ++j) {
          if (mask[static_cast<size_t>(row * shape.Lk + j)] == 0) continue;
          kept_keys.push_back(j);
          scores.push_back(scale * dot_f64(rows.q(b, hq, i), rows.k(b, hk, j)));
        }
        auto value_of = [&](size_t n) { return rows.v(b, hk, kept_keys[n]); };
        result.lse[static_cast<size_t>(row)] = softmax_row(scores, value_of, output_row(result, shape, row));
      }
  return result;
}

double tolerance(int precision) {
  switch (precision) {
    case SATTN_PRECISION_FP32: return 1e-4;
    case SATTN_PRECISION_BF16: return 2e-2;
    case SATTN_PRECISION_FP16: return 2e-2;
    case SATTN_PRECISION_INT8: return 4e-2;
    case SATTN_PRECISION_INT4: return 5e-1;
    default: throw std::invalid_argument("sattn_ref: unknown precision " + std::to_string(precision));
  }
}

}  // namespace sattn_ref
