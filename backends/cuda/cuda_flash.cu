// The tensor-core kernel: flash attention forward over the layout's key tiles for f16/bf16 tensors. One block of
// 4 warps owns a 64-row query tile (16 rows per warp, Q held in registers as mma fragments) and walks its layout
// row's key tiles of 64 keys; K and V tiles are double-buffered in shared memory by cp.async, so the next tile loads
// while this one is multiplied. Scores and P V run on mma.sync m16n8k16 with fp32 accumulation; the softmax is
// online, in log2 units with exp2f. FULL tiles inside the sequence skip the mask; the others ask the layout's
// predicate (sattn_tile_keeps) per element. Probabilities are rounded to the tensor type for P V (the precision's
// definition) while the denominator sums them unrounded.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_device.cuh"
#include "cuda_mma.cuh"

namespace sattn_cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kRows = static_cast<int>(kTileQ);  // query rows per block, 16 per warp
constexpr int kKeys = static_cast<int>(kTileK);  // keys per tile

// Rows padded by 16 bytes: the 8 rows an ldmatrix reads then start in different banks.
template <int D>
constexpr int kStride = D + 8;

template <int D>
constexpr size_t shared_bytes() {
  return sizeof(uint16_t) * static_cast<size_t>(kRows + 4 * kKeys) * kStride<D>;
}

template <bool Bf16>
__device__ inline uint32_t pack(float lo, float hi) {
  uint32_t bits;
  if constexpr (Bf16) {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
    memcpy(&bits, &pair, sizeof bits);
  } else {
    const __half2 pair = __floats2half2_rn(lo, hi);
    memcpy(&bits, &pair, sizeof bits);
  }
  return bits;
}

// Starts the copy of rows [row0, row0 + 64) of a head into a 64 x D tile; rows at or past len become zeros.
template <int D>
__device__ inline void load_tile(uint16_t* tile, const uint16_t* head, int64_t row_stride, int64_t row0, int64_t len) {
  constexpr int kChunks = D / 8;  // 16-byte pieces of a row
  for (int c = static_cast<int>(threadIdx.x); c < kRows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = c % kChunks * 8;
    const bool valid = row0 + r < len;
    copy16_async(tile + r * kStride<D> + col, valid ? head + (row0 + r) * row_stride + col : head, valid);
  }
}

template <int D, bool Bf16>
__global__ void __launch_bounds__(kThreads) flash_kernel(const KernelParams p) {
  extern __shared__ __align__(16) uint16_t shared[];
  uint16_t* const q_tile = shared;
  uint16_t* const k_tiles = q_tile + kRows * kStride<D>;       // two buffers
  uint16_t* const v_tiles = k_tiles + 2 * kKeys * kStride<D>;  // two buffers
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int group = lane / 4, quad = lane % 4;  // the mma fragment coordinates of this lane
  // The last query tiles first: under causal masks they have the most key tiles, and starting them early keeps the
  // tail of the grid short.
  const int64_t qt = gridDim.x - 1 - blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  const int64_t hk = hq / (p.q_heads / p.kv_heads), q0 = qt * kRows;
  const uint16_t* const q_head = static_cast<const uint16_t*>(p.q.data) + b * p.q.stride[0] + hq * p.q.stride[1];
  const uint16_t* const k_head = static_cast<const uint16_t*>(p.k.data) + b * p.k.stride[0] + hk * p.k.stride[1];
  const uint16_t* const v_head = static_cast<const uint16_t*>(p.v.data) + b * p.v.stride[0] + hk * p.v.stride[1];

  TileCursor cursor = TileCursor::begin(p.layout, sattn_layout_row(&p.layout, b, hq, qt));
  load_tile<D>(q_tile, q_head, p.q.stride[2], q0, p.q_len);
  if (cursor.valid()) {
    load_tile<D>(k_tiles, k_head, p.k.stride[2], cursor.tile * kKeys, p.kv_len);
    load_tile<D>(v_tiles, v_head, p.v.stride[2], cursor.tile * kKeys, p.kv_len);
  }
  copy_commit();

  uint32_t q_frag[D / 16][4];
  float o[D / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // rows group and group + 8 of the warp, log2 units
  int buffer = 0;
  bool first = true;
  while (cursor.valid()) {
    TileCursor next = cursor;
    next.advance();
    if (next.valid()) {  // the next tile streams in while this one is computed
      load_tile<D>(k_tiles + (buffer ^ 1) * kKeys * kStride<D>, k_head, p.k.stride[2], next.tile * kKeys, p.kv_len);
      load_tile<D>(v_tiles + (buffer ^ 1) * kKeys * kStride<D>, v_head, p.v.stride[2], next.tile * kKeys, p.kv_len);
      copy_commit();
      copy_wait<1>();
    } else {
      copy_wait<0>();
    }
    __syncthreads();
    if (first) {
      for (int kk = 0; kk < D / 16; ++kk)
        ldmatrix_x4(q_frag[kk], q_tile + (warp * 16 + lane % 16) * kStride<D> + kk * 16 + lane / 16 * 8);
      first = false;
    }
    const uint16_t* const k_tile = k_tiles + buffer * kKeys * kStride<D>;
    const uint16_t* const v_tile = v_tiles + buffer * kKeys * kStride<D>;

    // S = Q K^T for the warp's 16 rows and the tile's 64 keys: 8 fragments of 16 x 8.
    float s[kKeys / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
      for (int n = 0; n < kKeys / 8; n += 2) {
        uint32_t r[4];
        ldmatrix_x4(r, k_tile + (n * 8 + lane % 8 + lane / 16 * 8) * kStride<D> + kk * 16 + lane / 8 % 2 * 8);
        mma_16816<Bf16>(s[n], q_frag[kk], r[0], r[1]);
        mma_16816<Bf16>(s[n + 1], q_frag[kk], r[2], r[3]);
      }

    const sattn_tile_span& span = cursor.current();
    const int64_t k0 = cursor.tile * kKeys;
    const bool masked = span.kind != SATTN_TILE_FULL || k0 + kKeys > p.kv_len;
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[n][e] *= p.scale_log2;
        if (masked) {
          const int64_t i = q0 + warp * 16 + group + (e >= 2 ? 8 : 0), j = k0 + n * 8 + 2 * quad + (e & 1);
          if (j >= p.kv_len || !sattn_tile_keeps(&p.layout, &span, cursor.tile, i, j)) s[n][e] = -INFINITY;
        }
      }

      // Online softmax: the four lanes of a quad hold one row's 64 scores between them.
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float row_max = -INFINITY;
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) row_max = fmaxf(row_max, fmaxf(s[n][2 * h], s[n][2 * h + 1]));
      row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 1));
      row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 2));
      const float m_new = fmaxf(m[h], row_max);
      const float base = m_new == -INFINITY ? 0.0f : m_new;  // a row with nothing kept yet stays at zero
      const float correction = exp2f(m[h] - base);
      m[h] = m_new;
      l[h] *= correction;
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
        for (int e = 2 * h; e < 2 * h + 2; ++e) {
          s[n][e] = exp2f(s[n][e] - base);
          l[h] += s[n][e];
        }
#pragma unroll
      for (int dn = 0; dn < D / 8; ++dn) {
        o[dn][2 * h] *= correction;
        o[dn][2 * h + 1] *= correction;
      }
    }

    // O += P V: the score fragments of two neighbouring 8-key columns form one 16 x 16 A fragment.
#pragma unroll
    for (int ks = 0; ks < kKeys / 16; ++ks) {
      const uint32_t a[4] = {pack<Bf16>(s[2 * ks][0], s[2 * ks][1]), pack<Bf16>(s[2 * ks][2], s[2 * ks][3]),
                             pack<Bf16>(s[2 * ks + 1][0], s[2 * ks + 1][1]),
                             pack<Bf16>(s[2 * ks + 1][2], s[2 * ks + 1][3])};
#pragma unroll
      for (int dn = 0; dn < D / 8; dn += 2) {
        uint32_t r[4];
        ldmatrix_x4_trans(r, v_tile + (ks * 16 + lane % 8 + lane / 8 % 2 * 8) * kStride<D> + dn * 8 + lane / 16 * 8);
        mma_16816<Bf16>(o[dn], a, r[0], r[1]);
        mma_16816<Bf16>(o[dn + 1], a, r[2], r[3]);
      }
    }
    __syncthreads();  // every warp is done with this buffer before the next iteration refills it
    buffer ^= 1;
    cursor = next;
  }
  copy_wait<0>();  // a row without key tiles never waited for its Q copy

  uint16_t* const o_head = static_cast<uint16_t*>(p.o.data) + b * p.o.stride[0] + hq * p.o.stride[1];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    const int64_t i = q0 + warp * 16 + group + 8 * h;
    if (i >= p.q_len) continue;
    const float inverse = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;  // a row without keys writes zeros
    uint16_t* const row = o_head + i * p.o.stride[2];
#pragma unroll
    for (int dn = 0; dn < D / 8; ++dn)
      *reinterpret_cast<uint32_t*>(row + dn * 8 + 2 * quad) =
          pack<Bf16>(o[dn][2 * h] * inverse, o[dn][2 * h + 1] * inverse);
    if (p.lse != nullptr && quad == 0)
      p.lse[b * p.lse_stride[0] + hq * p.lse_stride[1] + i * p.lse_stride[2]] =
          l[h] > 0.0f ? (m[h] + log2f(l[h])) * 0.69314718055994531f : -INFINITY;
  }
}

bool aligned(const Operand& t) {
  return reinterpret_cast<uintptr_t>(t.data) % 16 == 0 && t.stride[3] == 1 && t.stride[0] % 8 == 0 &&
         t.stride[1] % 8 == 0 && t.stride[2] % 8 == 0;
}

template <int D, bool Bf16>
int launch(const KernelParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.q_len + kRows - 1) / kRows), static_cast<unsigned>(p.q_heads),
                  static_cast<unsigned>(p.batch));
  flash_kernel<D, Bf16><<<grid, kThreads, shared_bytes<D>(), stream>>>(p);
  return cudaGetLastError();
}

template <int D, bool Bf16>
int prepare() {
  return cudaFuncSetAttribute(flash_kernel<D, Bf16>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(shared_bytes<D>()));
}

}  // namespace

bool flash_supports(const KernelParams& p) {
  const bool bf16 = p.dtype == SATTN_DTYPE_BF16 && p.precision == SATTN_PRECISION_BF16;
  const bool f16 = p.dtype == SATTN_DTYPE_F16 && p.precision == SATTN_PRECISION_FP16;
  return (bf16 || f16) && p.head_dim == p.head_dim_v && (p.head_dim == 64 || p.head_dim == 128) &&
         p.layout.tile_q == kTileQ && p.layout.tile_k == kTileK && p.q_heads <= 65535 && p.batch <= 65535 &&
         (p.q_len + kRows - 1) / kRows <= 0x7fffffff && aligned(p.q) && aligned(p.k) && aligned(p.v) && aligned(p.o);
}

int launch_flash(const KernelParams& p, void* stream) {
  if (p.q_len == 0) return cudaSuccess;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool bf16 = p.dtype == SATTN_DTYPE_BF16;
  if (p.head_dim == 64) return bf16 ? launch<64, true>(p, s) : launch<64, false>(p, s);
  return bf16 ? launch<128, true>(p, s) : launch<128, false>(p, s);
}

int prepare_flash() {
  int status = prepare<64, true>();
  if (status == cudaSuccess) status = prepare<64, false>();
  if (status == cudaSuccess) status = prepare<128, true>();
  if (status == cudaSuccess) status = prepare<128, false>();
  return status;
}

}  // namespace sattn_cuda
