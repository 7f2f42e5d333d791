#include "quantisation.hpp"

namespace sattn_acc {

bool is_integer_precision(int precision) {
  return precision == SATTN_PRECISION_INT8 || precision == SATTN_PRECISION_INT4;
}

std::vector<float> draw_biased_keys(std::mt19937& generator, const sattn_ref::Problem& problem, double bias) {
  const sattn_ref::Problem& p = problem;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> magnitude(bias / 2, bias);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> keys;
  keys.reserve(static_cast<size_t>(p.B * p.Hk * p.Lk * p.D));
  std::vector<float> offset(static_cast<size_t>(p.D));
  for (int64_t head = 0; head < p.B * p.Hk; ++head) {
    for (float& o : offset) o = static_cast<float>(negative(generator) ? -magnitude(generator) : magnitude(generator));
    for (int64_t j = 0; j < p.Lk; ++j)
      for (int64_t d = 0; d < p.D; ++d) keys.push_back(normal(generator) + offset[static_cast<size_t>(d)]);
  }
  return keys;
}

// Only fp32 rounding separates the library from the simulation once both quantise to the same integers (observed
// below 1e-6). The simulation decides the integers in float64, as the library does, so they agree except where an
// input of the quantisation differs by rounding: the landmark keys and values, which the library averages in fp32.
double simulation_o_tolerance() { return sattn_ref::simulation_tolerance(/*fp32_pv=*/true); }
double simulation_lse_tolerance() { return 1e-4; }

}  // namespace sattn_acc
