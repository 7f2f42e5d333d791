// The CUDA driver API, loaded at run time, for `sattn-bench --backend=cuda`: device copies of a problem's tensors
// and CUDA-event timing. sattn-bench (like libsattn) links no CUDA library: dlopen("libcuda.so.1") finds the
// driver where a GPU is installed, and the few types the calls need are declared here. The cuda backend uses the
// CUDA runtime, which works in the same primary context of the device, so memory allocated here is its memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace sattn_bench {

class CudaDriver {
 public:
  // The driver, initialised with device 0's primary context current on this thread; throws SattnError
  // (SATTN_ERROR_BACKEND_UNAVAILABLE) saying why where there is no driver or no device.
  static CudaDriver& instance();

  void* allocate(size_t bytes);
  void release(void* pointer);
  void upload(void* device, const void* host, size_t bytes);
  void download(void* host, const void* device, size_t bytes);
  void synchronize();
  // Milliseconds between CUDA events recorded on the default stream before and after `run`.
  double elapsed_ms(const std::function<void()>& run);

 private:
  CudaDriver();
  void check(int result, const char* call);

  struct Api;
  Api* api_ = nullptr;
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

// Device memory of `bytes`, released when it goes.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sattn_bench
