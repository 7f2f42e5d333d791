// Timing of repeated runs: one untimed warm-up, then N timed runs, reported by their median.
#pragma once

#include <functional>
#include <vector>

namespace sattn_bench {

struct Timing {
  std::vector<double> seconds;  // each timed run, in order
  double median = 0.0;
  double minimum = 0.0;
};

// reps 0 chooses N from the warm-up so the timed runs take about target_seconds (1 to 100 runs; 3 where three
// runs take at most 2.5 * target_seconds).
Timing time_runs(const std::function<void()>& run, int reps, double target_seconds, bool warm_up = true);

double median_of(std::vector<double> values);

}  // namespace sattn_bench
