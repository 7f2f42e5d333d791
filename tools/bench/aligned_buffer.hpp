// An owned, zero-initialised byte buffer aligned to 64 bytes (a cache line, and what sattn_plan_run asks of
// workspaces), so tensors and workspaces never pay for realignment.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace sattn_bench {

class AlignedBuffer {
 public:
  static constexpr std::align_val_t kAlignment{64};

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) : size_(bytes) {
    if (bytes == 0) return;
    data_.reset(static_cast<std::byte*>(::operator new(bytes, kAlignment)));
    std::memset(data_.get(), 0, bytes);
  }

  std::byte* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct AlignedDelete {
    void operator()(std::byte* pointer) const { ::operator delete(pointer, kAlignment); }
  };
  std::unique_ptr<std::byte, AlignedDelete> data_;
  size_t size_ = 0;
};

}  // namespace sattn_bench
