// Runs problems: correctness against the exact backend, timing against dense attention.
#pragma once

#include <map>
#include <string>

#include "options.hpp"
#include "problem_data.hpp"
#include "record.hpp"

namespace sattn_bench {

class BenchRunner {
 public:
  explicit BenchRunner(const Options& options) : options_(options) {}

  // Throws ProblemError when the library rejects the descriptor as invalid, so that bad problems stop the run
  // before it starts; problems a backend merely does not support pass.
  void validate(const Problem& problem) const;
  // Never throws for library failures: they end up in the record's verdict and message.
  ProblemRecord run(int index, const Problem& problem);

 private:
  CorrectnessResult check_correctness(const Problem& problem, Plan& plan, const ProblemInputs& inputs);
  PerformanceResult measure(const Problem& problem, Plan& plan, const ProblemInputs& inputs,
                            const PlanDetails& details);
  // Median time of the problem with pattern=dense on `backend`, measured once per shape and kept.
  double dense_median(const Problem& problem, const std::string& backend);
  Timing time_plan(Plan& plan, const ProblemInputs& inputs, const sattn_attention_desc& desc) const;
  // --backend=cuda: tensors live on the GPU (copied up once per problem) and runs are timed by CUDA events.
  bool on_device() const { return options_.backend == "cuda"; }

  const Options& options_;
  std::map<std::string, double> dense_medians_;  // by canonical dense problem text and backend
};

}  // namespace sattn_bench
