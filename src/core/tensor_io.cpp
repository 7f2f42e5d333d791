#include "core/tensor_io.hpp"

#include "core/half.hpp"
#include "core/parallel.hpp"

#include <algorithm>

namespace sattn {
namespace {

// Rows [first, last) of the tensor's shape[0] * shape[1] * shape[2] rows, converted, to dst (row r at r * shape[3]).
template <typename Convert>
void gather_rows(const sattn_tensor& t, float* dst, int64_t first, int64_t last, Convert convert) {
  const auto* base = static_cast<const unsigned char*>(t.data);
  const int64_t* s = t.strides;
  for (int64_t r = first; r < last; ++r) {
    const int64_t c = r % t.shape[2], b = r / t.shape[2] % t.shape[1], a = r / (t.shape[2] * t.shape[1]);
    const int64_t row = a * s[0] + b * s[1] + c * s[2];
    float* out = dst + r * t.shape[3];
    for (int64_t d = 0; d < t.shape[3]; ++d) out[d] = convert(base, row + d * s[3]);
  }
}

template <typename Convert>
void gather_with(const sattn_tensor& t, float* dst, int32_t num_threads, Convert convert) {
  const int64_t rows = t.shape[0] * t.shape[1] * t.shape[2];
  if (num_threads == 1) {
    gather_rows(t, dst, 0, rows, convert);
    return;
  }
  // Rows of a few thousand elements per chunk: a large tensor (the selection's copies of Q and K) converts on every
  // core, a small one stays on the calling thread.
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, t.shape[3]));
  parallel_for(rows, num_threads, grain,
               [&](int64_t first, int64_t last) { gather_rows(t, dst, first, last, convert); });
}

}  // namespace

int64_t element_count(const sattn_tensor& t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t.ndim; ++i) n *= t.shape[i];
  return n;
}

void gather_f32(const sattn_tensor& t, float* dst, int32_t num_threads) {
  switch (t.dtype) {
    case SATTN_DTYPE_F32:
      gather_with(t, dst, num_threads,
                  [](const unsigned char* p, int64_t i) { return reinterpret_cast<const float*>(p)[i]; });
      break;
    case SATTN_DTYPE_F16:
      gather_with(t, dst, num_threads, [](const unsigned char* p, int64_t i) {
        return f16_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
      });
      break;
    default:
      gather_with(t, dst, num_threads, [](const unsigned char* p, int64_t i) {
        return bf16_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
      });
      break;
  }
}

void scatter_row(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, const float* src, int64_t n) {
  const int64_t row = i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2];
  const int64_t step = t.strides[3];
  switch (t.dtype) {
    case SATTN_DTYPE_F32: {
      float* out = static_cast<float*>(t.data) + row;
      for (int64_t d = 0; d < n; ++d) out[d * step] = src[d];
      break;
    }
    case SATTN_DTYPE_F16: {
      uint16_t* out = static_cast<uint16_t*>(t.data) + row;
      for (int64_t d = 0; d < n; ++d) out[d * step] = float_to_f16(src[d]);
      break;
    }
    default: {
      uint16_t* out = static_cast<uint16_t*>(t.data) + row;
      for (int64_t d = 0; d < n; ++d) out[d * step] = float_to_bf16(src[d]);
      break;
    }
  }
}

void load_row_f32(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, float* dst) {
  const int64_t row = i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2];
  const int64_t step = t.strides[3], n = t.shape[3];
  switch (t.dtype) {
    case SATTN_DTYPE_F32: {
      const float* in = static_cast<const float*>(t.data) + row;
      for (int64_t d = 0; d < n; ++d) dst[d] = in[d * step];
      break;
    }
    case SATTN_DTYPE_F16: {
      const uint16_t* in = static_cast<const uint16_t*>(t.data) + row;
      for (int64_t d = 0; d < n; ++d) dst[d] = f16_to_float(in[d * step]);
      break;
    }
    default: {
      const uint16_t* in = static_cast<const uint16_t*>(t.data) + row;
      for (int64_t d = 0; d < n; ++d) dst[d] = bf16_to_float(in[d * step]);
      break;
    }
  }
}

void store_scalar(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, float value) {
  static_cast<float*>(t.data)[i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2]] = value;
}

uint8_t load_u8(const sattn_tensor& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  return static_cast<const uint8_t*>(
      t.data)[i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2] + i3 * t.strides[3]];
}

}  // namespace sattn
