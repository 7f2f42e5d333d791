// A contiguous host tensor (row-major over its shape) together with the sattn_tensor view that describes it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "aligned_buffer.hpp"
#include "sattn.h"

namespace sattn_bench {

class HostTensor {
 public:
  HostTensor(int32_t dtype, std::initializer_list<int64_t> shape);
  HostTensor(const HostTensor&) = delete;
  HostTensor& operator=(const HostTensor&) = delete;
  HostTensor(HostTensor&&) = default;  // the view's data pointer follows the heap buffer, so a move keeps it valid
  HostTensor& operator=(HostTensor&&) = default;

  const sattn_tensor& view() const { return view_; }
  int64_t element_count() const { return element_count_; }
  // The contiguous bytes of the tensor (for device copies).
  size_t byte_size() const { return static_cast<size_t>(element_count_) * element_bytes(); }
  void* bytes() { return view_.data; }
  const void* bytes() const { return view_.data; }

  // Element i, converted from or to the tensor's dtype (rounded to nearest even for 16-bit types).
  float get(int64_t index) const;
  void set(int64_t index, float value);

  // Fills with values uniform in [low, high) from SplitMix64 seeded with `seed`, rounded to the dtype.
  void fill_uniform(uint64_t seed, float low, float high);
  std::vector<float> to_floats() const;

 private:
  size_t element_bytes() const;

  sattn_tensor view_{};
  int64_t element_count_ = 0;
  AlignedBuffer storage_;
};

}  // namespace sattn_bench
