// Hands out 64-byte aligned pieces of one buffer of the workspace (or only measures them when the buffer is NULL), so
// that sizing a region and carving it are one definition: cpu_quantized.cpp's operands, cpu_lsh.cpp's tables.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sattn_cpu {

class Carver {
 public:
  explicit Carver(void* base) : base_(static_cast<char*>(base)) {}
  template <typename T>
  T* take(int64_t count) {
    T* piece = base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + used_);
    used_ += (static_cast<size_t>(count) * sizeof(T) + 63) / 64 * 64;
    return piece;
  }
  size_t used() const { return used_; }

 private:
  char* base_;
  size_t used_ = 0;
};

}  // namespace sattn_cpu
