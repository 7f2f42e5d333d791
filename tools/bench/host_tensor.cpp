#include "host_tensor.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "core/half.hpp"
#include "core/splitmix.hpp"

namespace sattn_bench {

HostTensor::HostTensor(int32_t dtype, std::initializer_list<int64_t> shape) {
  if (shape.size() > 4) throw std::invalid_argument("sattn tensors have at most 4 dimensions");
  view_.device_type = SATTN_DEVICE_CPU;
  view_.device_id = 0;
  view_.dtype = dtype;
  view_.ndim = static_cast<int32_t>(shape.size());
  int dim = 0;
  for (const int64_t extent : shape) view_.shape[dim++] = extent;
  int64_t stride = 1;
  for (int index = view_.ndim - 1; index >= 0; --index) {
    view_.strides[index] = stride;
    stride *= view_.shape[index];
  }
  element_count_ = stride;
  storage_ = AlignedBuffer(static_cast<size_t>(element_count_) * element_bytes());
  view_.data = storage_.data();
}

size_t HostTensor::element_bytes() const {
  switch (view_.dtype) {
    case SATTN_DTYPE_F32:
      return 4;
    case SATTN_DTYPE_F16:
    case SATTN_DTYPE_BF16:
      return 2;
    case SATTN_DTYPE_U8:
      return 1;
    default:
      throw std::invalid_argument("sattn-bench cannot store dtype " + std::to_string(view_.dtype));
  }
}

// Elements go through memcpy: the storage is raw bytes, and this keeps every access free of aliasing questions.
float HostTensor::get(int64_t index) const {
  const std::byte* element = storage_.data() + static_cast<size_t>(index) * element_bytes();
  switch (view_.dtype) {
    case SATTN_DTYPE_F32: {
      float value = 0.0f;
      std::memcpy(&value, element, sizeof value);
      return value;
    }
    case SATTN_DTYPE_U8:
      return static_cast<float>(std::to_integer<uint8_t>(*element));
    default: {
      uint16_t bits = 0;
      std::memcpy(&bits, element, sizeof bits);
      return view_.dtype == SATTN_DTYPE_F16 ? sattn::f16_to_float(bits) : sattn::bf16_to_float(bits);
    }
  }
}

void HostTensor::set(int64_t index, float value) {
  std::byte* element = storage_.data() + static_cast<size_t>(index) * element_bytes();
  switch (view_.dtype) {
    case SATTN_DTYPE_F32:
      std::memcpy(element, &value, sizeof value);
      break;
    case SATTN_DTYPE_U8:
      *element = static_cast<std::byte>(static_cast<uint8_t>(value));
      break;
    default: {
      const uint16_t bits = view_.dtype == SATTN_DTYPE_F16 ? sattn::float_to_f16(value) : sattn::float_to_bf16(value);
      std::memcpy(element, &bits, sizeof bits);
    }
  }
}

void HostTensor::fill_uniform(uint64_t seed, float low, float high) {
  sattn::SplitMix64 generator(seed);
  for (int64_t index = 0; index < element_count_; ++index) {
    set(index, low + (high - low) * generator.next_unit());
  }
}

std::vector<float> HostTensor::to_floats() const {
  std::vector<float> values(static_cast<size_t>(element_count_));
  for (int64_t index = 0; index < element_count_; ++index) values[static_cast<size_t>(index)] = get(index);
  return values;
}

}  // namespace sattn_bench
