// The generic kernel: every dtype, precision, head dim and stride the backend accepts, on CUDA cores in fp32. One
// warp per query row walks the row's key tiles; the lanes split the head dims, so a score is a warp reduction. It is
// the correctness path (fp32 precision, head dims other than 64/128, unaligned tensors), not the fast one.
#include "cuda_device.cuh"

namespace sattn_cuda {
namespace {

constexpr int kWarps = 4;

__global__ void __launch_bounds__(kWarps * 32) generic_kernel(const KernelParams p) {
  extern __shared__ float shared[];
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t rows_per_head = (p.q_len + kWarps - 1) / kWarps;
  const int64_t block = blockIdx.x;
  const int64_t b = block / (p.q_heads * rows_per_head);
  const int64_t hq = block / rows_per_head % p.q_heads;
  const int64_t i = block % rows_per_head * kWarps + warp;
  if (i >= p.q_len) return;  // no block-wide barrier follows
  const int64_t hk = hq / (p.q_heads / p.kv_heads);
  float* q = shared + warp * (p.head_dim + p.head_dim_v);
  float* acc = q + p.head_dim;

  const int64_t q_row = row_offset(p.q, b, hq, i);
  for (int64_t c = lane; c < p.head_dim; c += 32)
    q[c] = sattn_round_to_precision(load_element(p.q.data, q_row + c * p.q.stride[3], p.dtype), p.precision);
  for (int64_t c = lane; c < p.head_dim_v; c += 32) acc[c] = 0.0f;
  __syncwarp();

  float m = -INFINITY, l = 0.0f;  // running maximum (log2 units) and denominator
  const sattn_layout_view& layout = p.layout;
  for (TileCursor t = TileCursor::begin(layout, sattn_layout_row(&layout, b, hq, i / layout.tile_q)); t.valid();
       t.advance()) {
    const sattn_tile_span& span = t.current();
    const int64_t j_end = min((t.tile + 1) * layout.tile_k, p.kv_len);
    for (int64_t j = t.tile * layout.tile_k; j < j_end; ++j) {
      if (!tile_keeps(p, span, t.tile, b, hq, i, j)) continue;  // uniform across the warp
      const int64_t k_row = row_offset(p.k, b, hk, j);
      float dot = 0.0f;
      for (int64_t c = lane; c < p.head_dim; c += 32)
        dot +=
            q[c] * sattn_round_to_precision(load_element(p.k.data, k_row + c * p.k.stride[3], p.kv_dtype), p.precision);
      for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
      const float s = dot * p.scale_log2;
      const float m_new = fmaxf(m, s);
      const float correction = exp2f(m - m_new);  // 0 for the first key (m = -inf)
      const float prob = exp2f(s - m_new);
      l = l * correction + prob;
      // The precision rounds the probability that multiplies V; the denominator keeps it unrounded.
      const float rounded = sattn_round_to_precision(prob, p.precision);
      const int64_t v_row = row_offset(p.v, b, hk, j);
      for (int64_t c = lane; c < p.head_dim_v; c += 32)
        acc[c] = acc[c] * correction +
                 rounded * sattn_round_to_precision(load_element(p.v.data, v_row + c * p.v.stride[3], p.kv_dtype),
                                                    p.precision);
      m = m_new;
    }
  }
  const float inverse = l > 0.0f ? 1.0f / l : 0.0f;  // a row without keys writes zeros
  const int64_t o_row = row_offset(p.o, b, hq, i);
  for (int64_t c = lane; c < p.head_dim_v; c += 32)
    store_element(p.o.data, o_row + c * p.o.stride[3], p.dtype, acc[c] * inverse);
  if (p.lse != nullptr && lane == 0)
    p.lse[b * p.lse_stride[0] + hq * p.lse_stride[1] + i * p.lse_stride[2]] =
        l > 0.0f ? (m + log2f(l)) * 0.69314718055994531f : -INFINITY;
}

size_t generic_shared_bytes(const KernelParams& p) {
  return sizeof(float) * kWarps * static_cast<size_t>(p.head_dim + p.head_dim_v);
}

}  // namespace

int launch_generic(const KernelParams& p, void* stream) {
  const int64_t blocks = p.batch * p.q_heads * ((p.q_len + kWarps - 1) / kWarps);
  if (blocks == 0) return cudaSuccess;
  if (blocks > 0x7fffffff) return cudaErrorInvalidConfiguration;
  generic_kernel<<<static_cast<unsigned>(blocks), kWarps * 32, generic_shared_bytes(p),
                   static_cast<cudaStream_t>(stream)>>>(p);
  return cudaGetLastError();
}

int prepare_generic() {
  KernelParams widest{};
  widest.head_dim = widest.head_dim_v = kMaxGenericHeadDim;
  return cudaFuncSetAttribute(generic_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(generic_shared_bytes(widest)));
}

}  // namespace sattn_cuda
