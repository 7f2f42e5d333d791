#include "quantisation.hpp"

#include <algorithm>
#include <cmath>

namespace sattn_acc {
namespace {

float levels_of(int precision) { return precision == SATTN_PRECISION_INT8 ? 127.0f : 7.0f; }

std::vector<float> to_float(const std::vector<double>& values) {
  std::vector<float> narrowed(values.size());
  for (size_t n = 0; n < values.size(); ++n) narrowed[n] = static_cast<float>(values[n]);
  return narrowed;
}

// Dense attention of the quantised queries over the quantised landmark tensors.
sattn_ref::Result ideal_quantised_landmark_attention(const sattn_ref::Problem& problem,
                                                     const sattn_ref::Inputs& inputs) {
  const sattn_ref::LandmarkTensors landmarks = sattn_ref::landmark_tensors(problem, inputs);
  const float levels = levels_of(problem.precision);
  sattn_ref::Problem over_landmarks = problem;
  over_landmarks.pattern = SATTN_PATTERN_DENSE;
  over_landmarks.Lk = problem.params.num_landmarks;
  sattn_ref::Inputs quantised;
  quantised.q = quantise_tensor(inputs.q, problem.params.scale_q, levels);
  quantised.k = quantise_tensor(to_float(landmarks.keys), problem.params.scale_k, levels);
  quantised.v = quantise_tensor(to_float(landmarks.values), problem.params.scale_v, levels);
  return sattn_ref::attention(over_landmarks, quantised);
}

}  // namespace

// round() of the SPEC read as IEEE round-to-nearest-even (nearbyint in the default rounding mode), as
// docs/patterns.md fixes it: x / s lands exactly on k + 0.5 in fp32 often enough (about once per 10^5 int8
// elements) to matter.
std::vector<float> quantise_tensor(const std::vector<float>& values, float given_scale, float levels) {
  float largest = 0.0f;
  for (float value : values) largest = std::max(largest, std::fabs(value));
  const float scale = given_scale > 0.0f ? given_scale : largest / levels;
  if (scale == 0.0f) return values;  // an all-zero tensor quantises to itself
  std::vector<float> quantised(values.size());
  for (size_t n = 0; n < values.size(); ++n)
    quantised[n] = std::clamp(std::nearbyint(values[n] / scale), -levels, levels) * scale;
  return quantised;
}

bool is_integer_precision(int precision) {
  return precision == SATTN_PRECISION_INT8 || precision == SATTN_PRECISION_INT4;
}

sattn_ref::Inputs quantised_inputs(const sattn_ref::Problem& problem, const sattn_ref::Inputs& inputs) {
  if (!is_integer_precision(problem.precision)) return inputs;
  const float levels = levels_of(problem.precision);
  sattn_ref::Inputs quantised = inputs;
  quantised.q = quantise_tensor(inputs.q, problem.params.scale_q, levels);
  quantised.k = quantise_tensor(inputs.k, problem.params.scale_k, levels);
  quantised.v = quantise_tensor(inputs.v, problem.params.scale_v, levels);
  return quantised;
}

sattn_ref::Result ideal_quantised_attention(const sattn_ref::Problem& problem, const sattn_ref::Inputs& inputs) {
  if (problem.pattern == SATTN_PATTERN_LANDMARK) return ideal_quantised_landmark_attention(problem, inputs);
  return sattn_ref::attention(problem, inputs, quantised_inputs(problem, inputs));
}

}  // namespace sattn_acc
