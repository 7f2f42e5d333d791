// Tensor maps (TMA descriptors) of a run's Q, K and V for the Hopper kernel: encoded on the host per run, since they
// hold the tensors' addresses, and passed to the kernel by value (so a captured CUDA graph keeps its own copy).
// cuTensorMapEncodeTiled is a driver function: it is looked up once through the runtime's entry-point query, so the
// plugin still links no libcuda.
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstring>

#include "cuda_kernels.hpp"

namespace sattn_cuda {
namespace {

static_assert(sizeof(CUtensorMap) == sizeof(TensorMaps::q) && alignof(CUtensorMap) <= alignof(TensorMaps),
              "TensorMaps holds CUtensorMaps byte for byte");

PFN_cuTensorMapEncodeTiled_v12000 encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 function = [] {
    void* entry = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &entry, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();
      entry = nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(entry);
  }();
  return function;
}

// A 4-D map of a [batch, heads, rows, head_dim] tensor of 16-bit elements (innermost first: head dims, rows, heads,
// batches) read in boxes of 64 head dims (128 bytes, swizzled 128 B as the wgmma descriptors expect) x box_rows rows.
// Rows past the end arrive as zeros. False where TMA cannot address the tensor (strides not multiples of 16 bytes,
// a zero stride, sizes past its limits): the caller takes another kernel.
bool encode(unsigned char (&map)[128], const Operand& t, int64_t batch, int64_t heads, int64_t rows, int64_t head_dim,
            uint32_t box_rows) {
  constexpr int64_t kElementBytes = 2, kMaxStride = int64_t{1} << 40, kMaxExtent = int64_t{1} << 31;
  const int64_t extents[4] = {head_dim, rows, heads, batch};
  for (const int64_t extent : extents)
    if (extent <= 0 || extent >= kMaxExtent) return false;
  cuuint64_t dims[4];
  for (int a = 0; a < 4; ++a) dims[a] = static_cast<cuuint64_t>(extents[a]);
  cuuint64_t strides[3];  // bytes of rows, heads, batches
  const int64_t element_strides[3] = {t.stride[2], t.stride[1], t.stride[0]};
  for (int a = 0; a < 3; ++a) {
    int64_t bytes = element_strides[a] * kElementBytes;
    if (extents[a + 1] == 1) bytes = 16;  // never stepped: any legal stride
    if (bytes <= 0 || bytes % 16 != 0 || bytes >= kMaxStride) return false;
    strides[a] = static_cast<cuuint64_t>(bytes);
  }
  if (t.stride[3] != 1 || reinterpret_cast<uintptr_t>(t.data) % 16 != 0) return false;
  const PFN_cuTensorMapEncodeTiled_v12000 encode_tiled = encoder();
  if (encode_tiled == nullptr) return false;
  const cuuint32_t box[4] = {64, box_rows, 1, 1};
  const cuuint32_t steps[4] = {1, 1, 1, 1};
  CUtensorMap encoded;
  if (encode_tiled(&encoded, CU_TENSOR_MAP_DATA_TYPE_UINT16, 4, t.data, dims, strides, box, steps,
                   CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  std::memcpy(map, &encoded, sizeof encoded);
  return true;
}

}  // namespace

bool encode_tensor_maps(const KernelParams& p, TensorMaps* maps) {
  return encode(maps->q, p.q, p.batch, p.q_heads, p.q_len, p.head_dim, static_cast<uint32_t>(p.layout.tile_q)) &&
         encode(maps->k, p.k, p.batch, p.kv_heads, p.kv_len, p.head_dim, static_cast<uint32_t>(kTileK)) &&
         encode(maps->v, p.v, p.batch, p.kv_heads, p.kv_len, p.head_dim_v, static_cast<uint32_t>(kTileK));
}

}  // namespace sattn_cuda
