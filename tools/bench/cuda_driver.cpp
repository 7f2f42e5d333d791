#include "cuda_driver.hpp"

#include <dlfcn.h>

#include <utility>

#include "plan.hpp"

namespace sattn_bench {

// The driver's types as its header declares them (CUresult, CUdevice are ints; contexts, events and streams are
// opaque pointers; device pointers are 64-bit integers).
struct CudaDriver::Api {
  using Result = int;
  Result (*cuInit)(unsigned);
  Result (*cuDeviceGet)(int*, int);
  Result (*cuDevicePrimaryCtxRetain)(void**, int);
  Result (*cuCtxSetCurrent)(void*);
  Result (*cuCtxSynchronize)();
  Result (*cuMemAlloc_v2)(unsigned long long*, size_t);
  Result (*cuMemFree_v2)(unsigned long long);
  Result (*cuMemcpyHtoD_v2)(unsigned long long, const void*, size_t);
  Result (*cuMemcpyDtoH_v2)(void*, unsigned long long, size_t);
  Result (*cuEventCreate)(void**, unsigned);
  Result (*cuEventRecord)(void*, void*);
  Result (*cuEventSynchronize)(void*);
  Result (*cuEventElapsedTime)(float*, void*, void*);
  Result (*cuGetErrorString)(Result, const char**);
};

namespace {

[[noreturn]] void unavailable(const std::string& why) {
  throw SattnError(SATTN_ERROR_BACKEND_UNAVAILABLE, "--backend=cuda: " + why);
}

template <typename Function>
void resolve(void* library, const char* name, Function& function) {
  function = reinterpret_cast<Function>(dlsym(library, name));
  if (function == nullptr) unavailable(std::string("the CUDA driver lacks ") + name);
}

}  // namespace

CudaDriver& CudaDriver::instance() {
  static CudaDriver driver;  // a failed construction throws and is retried by the next call
  return driver;
}

CudaDriver::CudaDriver() {
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) unavailable(std::string("no CUDA driver (libcuda.so.1): ") + dlerror());
  static Api api;
  resolve(library, "cuInit", api.cuInit);
  resolve(library, "cuDeviceGet", api.cuDeviceGet);
  resolve(library, "cuDevicePrimaryCtxRetain", api.cuDevicePrimaryCtxRetain);
  resolve(library, "cuCtxSetCurrent", api.cuCtxSetCurrent);
  resolve(library, "cuCtxSynchronize", api.cuCtxSynchronize);
  resolve(library, "cuMemAlloc_v2", api.cuMemAlloc_v2);
  resolve(library, "cuMemFree_v2", api.cuMemFree_v2);
  resolve(library, "cuMemcpyHtoD_v2", api.cuMemcpyHtoD_v2);
  resolve(library, "cuMemcpyDtoH_v2", api.cuMemcpyDtoH_v2);
  resolve(library, "cuEventCreate", api.cuEventCreate);
  resolve(library, "cuEventRecord", api.cuEventRecord);
  resolve(library, "cuEventSynchronize", api.cuEventSynchronize);
  resolve(library, "cuEventElapsedTime", api.cuEventElapsedTime);
  resolve(library, "cuGetErrorString", api.cuGetErrorString);
  api_ = &api;
  if (api.cuInit(0) != 0) unavailable("cuInit failed: no usable GPU");
  int device = 0;
  check(api.cuDeviceGet(&device, 0), "cuDeviceGet");
  void* context = nullptr;
  check(api.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
  check(api.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  check(api.cuEventCreate(&start_, 0), "cuEventCreate");
  check(api.cuEventCreate(&stop_, 0), "cuEventCreate");
}

void CudaDriver::check(int result, const char* call) {
  if (result == 0) return;
  const char* text = nullptr;
  api_->cuGetErrorString(result, &text);
  throw SattnError(SATTN_ERROR_DEVICE, std::string(call) + ": " + (text != nullptr ? text : "CUDA error"));
}

void* CudaDriver::allocate(size_t bytes) {
  unsigned long long pointer = 0;
  check(api_->cuMemAlloc_v2(&pointer, bytes > 0 ? bytes : 1), "cuMemAlloc");
  return reinterpret_cast<void*>(pointer);
}

void CudaDriver::release(void* pointer) {
  if (pointer != nullptr) api_->cuMemFree_v2(reinterpret_cast<unsigned long long>(pointer));
}

void CudaDriver::upload(void* device, const void* host, size_t bytes) {
  check(api_->cuMemcpyHtoD_v2(reinterpret_cast<unsigned long long>(device), host, bytes), "cuMemcpyHtoD");
}

void CudaDriver::download(void* host, const void* device, size_t bytes) {
  check(api_->cuMemcpyDtoH_v2(host, reinterpret_cast<unsigned long long>(device), bytes), "cuMemcpyDtoH");
}

void CudaDriver::synchronize() { check(api_->cuCtxSynchronize(), "cuCtxSynchronize"); }

double CudaDriver::elapsed_ms(const std::function<void()>& run) {
  check(api_->cuEventRecord(start_, nullptr), "cuEventRecord");
  run();
  check(api_->cuEventRecord(stop_, nullptr), "cuEventRecord");
  check(api_->cuEventSynchronize(stop_), "cuEventSynchronize");
  float ms = 0.0f;
  check(api_->cuEventElapsedTime(&ms, start_, stop_), "cuEventElapsedTime");
  return ms;
}

DeviceBuffer::DeviceBuffer(size_t bytes) : data_(CudaDriver::instance().allocate(bytes)), size_(bytes) {}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) CudaDriver::instance().release(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) CudaDriver::instance().release(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

}  // namespace sattn_bench
