#include "device_problem.hpp"

namespace sattn_bench {

DeviceTensor::DeviceTensor(const HostTensor& host) : buffer_(host.byte_size()), view_(host.view()) {
  CudaDriver::instance().upload(buffer_.data(), host.bytes(), host.byte_size());
  view_.data = buffer_.data();
  view_.device_type = SATTN_DEVICE_CUDA;
  view_.device_id = 0;
}

void DeviceTensor::copy_to(HostTensor& host) const {
  CudaDriver::instance().download(host.bytes(), buffer_.data(), host.byte_size());
}

DeviceProblem::DeviceProblem(const ProblemInputs& inputs, const ProblemOutputs& outputs, size_t workspace_bytes)
    : q_(inputs.q), k_(inputs.k), v_(inputs.v), o_(outputs.o), workspace_(workspace_bytes) {
  if (outputs.lse) lse_.emplace(*outputs.lse);
  if (inputs.block_mask) block_mask_.emplace(*inputs.block_mask);
  args_.q = &q_.view();
  args_.k = &k_.view();
  args_.v = &v_.view();
  args_.o = &o_.view();
  args_.lse = lse_ ? &lse_->view() : nullptr;
  args_.block_mask = block_mask_ ? &block_mask_->view() : nullptr;
}

void DeviceProblem::copy_outputs_to(ProblemOutputs& outputs) const {
  CudaDriver::instance().synchronize();
  o_.copy_to(outputs.o);
  if (lse_ && outputs.lse) lse_->copy_to(*outputs.lse);
}

}  // namespace sattn_bench
