// A [B, H, L, X] tensor in host memory in one of several layouts, as the library is handed it: contiguous BHLD,
// BLHD (the [B, L, H, D] memory of most models, passed as strides) or BHLD with padded rows and heads. Every slot
// that is not an element holds a NaN "poison" value, so a kernel that reads padding produces NaN and one that writes
// there is caught by padding_untouched().
#pragma once

#include <sattn.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace sattn_acc {

enum class Layout { bhld, blhd, padded };

const char* layout_name(Layout layout);

// Strides (in elements) of a [B, H, L, X] tensor stored in `layout`; element (b, h, l, x) lies at their dot product.
std::array<int64_t, 4> layout_strides(std::array<int64_t, 4> shape, Layout layout);

class StridedBuffer {
 public:
  StridedBuffer(int32_t dtype, std::array<int64_t, 4> shape, Layout layout);

  // Stores logical [B, H, L, X] values (already representable in the dtype) at their strided places.
  void store(std::span<const float> values);
  // The element at logical (flat BHLD) index n, widened to double.
  [[nodiscard]] double load(int64_t n) const;
  // Every non-element slot still holds the poison value.
  [[nodiscard]] bool padding_untouched() const;
  [[nodiscard]] const std::vector<unsigned char>& bytes() const { return bytes_; }
  [[nodiscard]] sattn_tensor tensor();

 private:
  [[nodiscard]] int64_t offset_of(int64_t n) const;  // logical index -> element slot
  void write_slot(int64_t slot, float value);

  int32_t dtype_;
  std::array<int64_t, 4> shape_;
  std::array<int64_t, 4> strides_{};
  int64_t element_size_;
  std::vector<unsigned char> bytes_;
  std::vector<bool> is_element_;
};

}  // namespace sattn_acc
