// A problem's tensors on the GPU for `--backend=cuda`: device copies of the host inputs (and block mask), device
// outputs and workspace, and the run arguments that point at them. The host tensors stay the source of the inputs
// and the destination of the outputs, so correctness is checked on the host as for every other backend.
#pragma once

#include <optional>

#include "cuda_driver.hpp"
#include "problem_data.hpp"

namespace sattn_bench {

// A device tensor with the shape, dtype and strides of a contiguous host tensor.
class DeviceTensor {
 public:
  explicit DeviceTensor(const HostTensor& host);  // allocates and copies the host contents up
  const sattn_tensor& view() const { return view_; }
  void copy_to(HostTensor& host) const;

 private:
  DeviceBuffer buffer_;
  sattn_tensor view_{};
};

class DeviceProblem {
 public:
  DeviceProblem(const ProblemInputs& inputs, const ProblemOutputs& outputs, size_t workspace_bytes);
  DeviceProblem(const DeviceProblem&) = delete;
  DeviceProblem& operator=(const DeviceProblem&) = delete;

  const sattn_run_args& args() const { return args_; }
  void* workspace() const { return workspace_.data(); }
  size_t workspace_bytes() const { return workspace_.size(); }
  // Waits for the queued runs and copies O (and LSE) to the host outputs.
  void copy_outputs_to(ProblemOutputs& outputs) const;

 private:
  DeviceTensor q_, k_, v_, o_;
  std::optional<DeviceTensor> lse_, block_mask_;
  DeviceBuffer workspace_;
  sattn_run_args args_ = SATTN_RUN_ARGS_INIT;
};

}  // namespace sattn_bench
