#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace sattn_bench {
namespace {

double seconds_of(const std::function<void()>& run) {
  const auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double median_of(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

Timing time_runs(const std::function<void()>& run, int reps, double target_seconds, bool warm_up_first) {
  // Without the warm-up (only with a given reps) no run happens before the timed ones.
  const double warm_up = warm_up_first || reps <= 0 ? seconds_of(run) : 0.0;
  if (reps <= 0) {
    constexpr int kMaxReps = 100;
    constexpr int kMinRepsForAMedian = 3;
    const double fitting = warm_up > 0.0 ? std::floor(target_seconds / warm_up) : kMaxReps;
    reps = static_cast<int>(std::clamp(fitting, 1.0, static_cast<double>(kMaxReps)));
    // A median of one or two runs is only a sample: take three where they fit in 2.5 times the target.
    if (reps < kMinRepsForAMedian && kMinRepsForAMedian * warm_up <= 2.5 * target_seconds) reps = kMinRepsForAMedian;
  }
  Timing timing;
  timing.seconds.reserve(static_cast<size_t>(reps));
  for (int rep = 0; rep < reps; ++rep) timing.seconds.push_back(seconds_of(run));
  timing.median = median_of(timing.seconds);
  timing.minimum = *std::min_element(timing.seconds.begin(), timing.seconds.end());
  return timing;
}

}  // namespace sattn_bench
