#include "strided_buffer.hpp"

#include "storage_types.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace sattn_acc {

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::bhld: return "bhld";
    case Layout::blhd: return "blhd";
    case Layout::padded: return "padded";
  }
  return "?";
}

namespace {

// Extra elements after each row and each head of the padded layout: odd, so rows are not nicely aligned.
constexpr int64_t row_padding = 3;
constexpr int64_t head_padding = 5;

int64_t element_size_of(int32_t dtype) {
  switch (dtype) {
    case SATTN_DTYPE_F32: return 4;
    case SATTN_DTYPE_F16:
    case SATTN_DTYPE_BF16: return 2;
    default: throw std::invalid_argument("StridedBuffer: dtype must be f32, f16 or bf16");
  }
}

}  // namespace

std::array<int64_t, 4> layout_strides(std::array<int64_t, 4> shape, Layout layout) {
  const auto [B, H, L, X] = shape;
  switch (layout) {
    case Layout::blhd: return {L * H * X, X, H * X, 1};
    case Layout::padded: {
      const int64_t row = X + row_padding;
      const int64_t head = L * row + head_padding;
      return {H * head, head, row, 1};
    }
    case Layout::bhld: break;
  }
  return {H * L * X, L * X, X, 1};
}

StridedBuffer::StridedBuffer(int32_t dtype, std::array<int64_t, 4> shape, Layout layout)
    : dtype_(dtype), shape_(shape), strides_(layout_strides(shape, layout)), element_size_(element_size_of(dtype)) {
  const int64_t slots = shape[0] * strides_[0];
  bytes_.resize(static_cast<size_t>(slots * element_size_));
  is_element_.assign(static_cast<size_t>(slots), false);
  for (int64_t n = 0; n < shape[0] * shape[1] * shape[2] * shape[3]; ++n) is_element_[static_cast<size_t>(offset_of(n))] = true;
  for (int64_t slot = 0; slot < slots; ++slot) write_slot(slot, std::numeric_limits<float>::quiet_NaN());
}

int64_t StridedBuffer::offset_of(int64_t n) const {
  const int64_t x = n % shape_[3];
  const int64_t l = (n / shape_[3]) % shape_[2];
  const int64_t h = (n / (shape_[3] * shape_[2])) % shape_[1];
  const int64_t b = n / (shape_[3] * shape_[2] * shape_[1]);
  return b * strides_[0] + h * strides_[1] + l * strides_[2] + x * strides_[3];
}

void StridedBuffer::write_slot(int64_t slot, float value) {
  unsigned char* target = bytes_.data() + slot * element_size_;
  if (dtype_ == SATTN_DTYPE_F32) {
    std::memcpy(target, &value, sizeof value);
    return;
  }
  const uint16_t bits = dtype_ == SATTN_DTYPE_F16 ? float_to_f16_bits(value) : float_to_bf16_bits(value);
  std::memcpy(target, &bits, sizeof bits);
}

void StridedBuffer::store(std::span<const float> values) {
  for (size_t n = 0; n < values.size(); ++n) write_slot(offset_of(static_cast<int64_t>(n)), values[n]);
}

double StridedBuffer::load(int64_t n) const {
  const unsigned char* source = bytes_.data() + offset_of(n) * element_size_;
  if (dtype_ == SATTN_DTYPE_F32) {
    float value;
    std::memcpy(&value, source, sizeof value);
    return value;
  }
  uint16_t bits;
  std::memcpy(&bits, source, sizeof bits);
  return dtype_ == SATTN_DTYPE_F16 ? f16_bits_to_float(bits) : bf16_bits_to_float(bits);
}

bool StridedBuffer::padding_untouched() const {
  StridedBuffer pristine(*this);
  for (size_t slot = 0; slot < is_element_.size(); ++slot)
    if (!is_element_[slot]) pristine.write_slot(static_cast<int64_t>(slot), std::numeric_limits<float>::quiet_NaN());
  return pristine.bytes_ == bytes_;
}

sattn_tensor StridedBuffer::tensor() {
  sattn_tensor t{};
  t.data = bytes_.data();
  t.device_type = SATTN_DEVICE_CPU;
  t.device_id = 0;
  t.dtype = dtype_;
  t.ndim = 4;
  for (size_t axis = 0; axis < 4; ++axis) {
    t.shape[axis] = shape_[axis];
    t.strides[axis] = strides_[axis];
  }
  return t;
}

}  // namespace sattn_acc
