// int8/int4 attention on tensor cores, after cuda_quantize.cu has quantised the operands into the workspace. One block
// of 8 warps owns a 128-row query tile (16 rows a warp) and walks its layout row's 64-key tiles like cuda_flash.cu:
// S = Q K^T is exact in int32 on `mma.sync.m16n8k32.s8` (the contract's integer dot product), scaled per element by
// scale * s_q[i] * s_k[j]; the online softmax is fp32; P V runs on `m16n8k16` with P rounded to f16 (2^-11 relative,
// inside the 2e-3 tolerance against the quantised computation) and V's integers exact in f16 (|v| <= 127), fp32
// accumulation; the per-channel V scale and the smoothing's LSE shift are applied at the end. Q and K tiles stay int8
// in shared memory (rows padded by 16 bytes: the 8 rows an ldmatrix reads start in different banks); each V tile is
// copied as int8 and widened to f16 once, so P V reads it with ldmatrix.trans like the f16 kernel.
#include <cuda_fp16.h>

#include "cuda_device.cuh"
#include "cuda_epilogue.cuh"
#include "cuda_mma.cuh"

namespace sattn_cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = static_cast<int>(kTileQ);  // 16 per warp
constexpr int kKeys = static_cast<int>(kTileK);

template <int D>
constexpr int kInt8Stride = D + 16;  // bytes of a padded int8 row
template <int D>
constexpr int kHalfStride = D + 8;  // halves of a padded f16 row

template <int D>
constexpr size_t shared_bytes() {
  return size_t{kRows} * kInt8Stride<D> + 2 * size_t{kKeys} * kInt8Stride<D>  // Q, K x 2
         + 2 * size_t{kKeys} * D                                              // V int8 x 2
         + sizeof(__half) * kKeys * kHalfStride<D>;                           // V f16
}

// d += a * b for a 16 x 8 tile of int32 from int8 a (16 x 32) and b (32 x 8).
__device__ inline void mma_16832_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Starts copying rows [row0, row0 + Rows) of `bytes` bytes each (rows `pitch` bytes apart) into shared rows of
// `stride` bytes; rows at or past len become zeros.
template <int Rows>
__device__ inline void load_rows(unsigned char* shared, int stride, const int8_t* global, int64_t pitch, int bytes,
                                 int64_t row0, int64_t len) {
  const int chunks = bytes / 16;
  for (int c = static_cast<int>(threadIdx.x); c < Rows * chunks; c += kThreads) {
    const int r = c / chunks, col = c % chunks * 16;
    const bool valid = row0 + r < len;
    copy16_async(shared + r * stride + col, valid ? global + (row0 + r) * pitch + col : global, valid);
  }
}

template <int D>
__global__ void __launch_bounds__(kThreads) flash_int8_kernel(const KernelParams p, const QuantizedBuffers qb) {
  extern __shared__ __align__(16) unsigned char shared[];
  unsigned char* const q_tile = shared;
  unsigned char* const k_tiles = q_tile + kRows * kInt8Stride<D>;
  unsigned char* const v_bytes = k_tiles + 2 * kKeys * kInt8Stride<D>;
  __half* const v_half = reinterpret_cast<__half*>(v_bytes + 2 * kKeys * D);
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int group = lane / 4, quad = lane % 4;
  const int64_t qt = gridDim.x - 1 - blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  const int64_t hk = hq / (p.q_heads / p.kv_heads), q0 = qt * kRows;
  const int64_t q_row0 = (b * p.q_heads + hq) * p.q_len, kv_row0 = (b * p.kv_heads + hk) * p.kv_len;
  const int8_t* const k_head = qb.k + kv_row0 * qb.row_bytes;
  const int8_t* const v_head = qb.v + kv_row0 * D;

  TileCursor cursor = TileCursor::begin(p.layout, sattn_layout_row(&p.layout, b, hq, qt));
  load_rows<kRows>(q_tile, kInt8Stride<D>, qb.q + q_row0 * qb.row_bytes, qb.row_bytes, D, q0, p.q_len);
  if (cursor.valid()) {
    load_rows<kKeys>(k_tiles, kInt8Stride<D>, k_head, qb.row_bytes, D, cursor.tile * kKeys, p.kv_len);
    load_rows<kKeys>(v_bytes, D, v_head, D, D, cursor.tile * kKeys, p.kv_len);
  }
  copy_commit();

  const int64_t first_row = q0 + warp * 16 + group;  // this thread's rows: first_row and first_row + 8
  // scale * s_q[i] in log2 units for the two rows (0 past the end: those rows are never written).
  float row_scale[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t i = first_row + 8 * h;
    row_scale[h] = i < p.q_len ? p.scale_log2 * qb.q_scale[q_row0 + i] : 0.0f;
  }
  float o[D / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  int buffer = 0;
  while (cursor.valid()) {
    TileCursor next = cursor;
    next.advance();
    if (next.valid()) {
      load_rows<kKeys>(k_tiles + (buffer ^ 1) * kKeys * kInt8Stride<D>, kInt8Stride<D>, k_head, qb.row_bytes, D,
                       next.tile * kKeys, p.kv_len);
      load_rows<kKeys>(v_bytes + (buffer ^ 1) * kKeys * D, D, v_head, D, D, next.tile * kKeys, p.kv_len);
      copy_commit();
      copy_wait<1>();
    } else {
      copy_wait<0>();
    }
    __syncthreads();
    const unsigned char* const k_tile = k_tiles + buffer * kKeys * kInt8Stride<D>;
    // V's integers widened to f16, four at a time.
    const unsigned char* const v_tile = v_bytes + buffer * kKeys * D;
    for (int x = static_cast<int>(threadIdx.x); x < kKeys * D / 4; x += kThreads) {
      const int r = x / (D / 4), c = x % (D / 4) * 4;
      const char4 four = *reinterpret_cast<const char4*>(v_tile + r * D + c);
      __half2* const out = reinterpret_cast<__half2*>(v_half + r * kHalfStride<D> + c);
      out[0] = __halves2half2(__int2half_rn(four.x), __int2half_rn(four.y));
      out[1] = __halves2half2(__int2half_rn(four.z), __int2half_rn(four.w));
    }

    // S = Q K^T in int32: 16 rows x 64 keys per warp, D / 32 steps of 32 channels.
    int dots[kKeys / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < D / 32; ++kk) {
      uint32_t a[4];
      ldmatrix_x4(a, q_tile + (warp * 16 + lane % 16) * kInt8Stride<D> + kk * 32 + lane / 16 * 16);
#pragma unroll
      for (int n = 0; n < kKeys / 8; n += 2) {
        uint32_t r[4];
        ldmatrix_x4(r, k_tile + (n * 8 + lane % 8 + lane / 16 * 8) * kInt8Stride<D> + kk * 32 + lane / 8 % 2 * 16);
        mma_16832_s8(dots[n], a, r[0], r[1]);
        mma_16832_s8(dots[n + 1], a, r[2], r[3]);
      }
    }

    const int64_t k0 = cursor.tile * kKeys;
    float s[kKeys / 8][4];
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t j = k0 + n * 8 + 2 * quad + (e & 1);
        const float key_scale = j < p.kv_len ? __ldg(qb.k_scale + kv_row0 + j) : 0.0f;
        s[n][e] = static_cast<float>(dots[n][e]) * (row_scale[e / 2] * key_scale);
      }
    const uint32_t keep_bits = tile_keep_bits(p, cursor, b, first_row, first_row + 8, hq, hq, quad);
    if (keep_bits != ~0u) {
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (((keep_bits >> (n * 4 + e)) & 1u) == 0) s[n][e] = -INFINITY;
    }

    // Online softmax in log2 units (the scores already carry the scale).
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float row_max = -INFINITY;
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) row_max = fmaxf(row_max, fmaxf(s[n][2 * h], s[n][2 * h + 1]));
      row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 1));
      row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 2));
      const float m_new = fmaxf(m[h], row_max);
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      const float correction = fast_exp2(m[h] - base);
      m[h] = m_new;
      l[h] *= correction;
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
        for (int e = 2 * h; e < 2 * h + 2; ++e) {
          s[n][e] = fast_exp2(s[n][e] - base);
          l[h] += s[n][e];
        }
#pragma unroll
      for (int dn = 0; dn < D / 8; ++dn) o[dn][2 * h] *= correction, o[dn][2 * h + 1] *= correction;
    }
    __syncthreads();  // V's f16 tile is complete

    // O += P V on f16 tensor cores.
#pragma unroll
    for (int ks = 0; ks < kKeys / 16; ++ks) {
      const uint32_t a[4] = {pack<false>(s[2 * ks][0], s[2 * ks][1]), pack<false>(s[2 * ks][2], s[2 * ks][3]),
                             pack<false>(s[2 * ks + 1][0], s[2 * ks + 1][1]),
                             pack<false>(s[2 * ks + 1][2], s[2 * ks + 1][3])};
#pragma unroll
      for (int dn = 0; dn < D / 8; dn += 2) {
        uint32_t r[4];
        ldmatrix_x4_trans(r,
                          v_half + (ks * 16 + lane % 8 + lane / 8 % 2 * 8) * kHalfStride<D> + dn * 8 + lane / 16 * 8);
        mma_16816<false>(o[dn], a, r[0], r[1]);
        mma_16816<false>(o[dn + 1], a, r[2], r[3]);
      }
    }
    __syncthreads();  // every warp is done with this tile's buffers before they are refilled
    buffer ^= 1;
    cursor = next;
  }
  copy_wait<0>();

  const float* const v_scale = qb.v_scale + (b * p.kv_heads + hk) * D;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float sum = quad_sum(l[h]);
    const int64_t i = first_row + 8 * h;
    if (i >= p.q_len) continue;
    const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;  // a row without keys writes zeros
    const int64_t o_row = row_offset(p.o, b, hq, i);
#pragma unroll
    for (int dn = 0; dn < D / 8; ++dn)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int c = dn * 8 + 2 * quad + e;
        store_element(p.o.data, o_row + c * p.o.stride[3], p.dtype, v_scale[c] * o[dn][2 * h + e] * inverse);
      }
    if (quad == 0) store_lse(p, b, hq, i, row_lse(m[h], sum) + qb.lse_shift[q_row0 + i]);  // -inf stays -inf
  }
}

template <int D>
int launch(const KernelParams& p, const QuantizedBuffers& q, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.q_len + kRows - 1) / kRows), static_cast<unsigned>(p.q_heads),
                  static_cast<unsigned>(p.batch));
  flash_int8_kernel<D><<<grid, kThreads, shared_bytes<D>(), stream>>>(p, q);
  return cudaGetLastError();
}

}  // namespace

bool flash_int8_supports(const KernelParams& p) {
  return p.head_dim == p.head_dim_v && (p.head_dim == 64 || p.head_dim == 128) && p.layout.tile_q == kTileQ &&
         p.layout.tile_k == kTileK && p.q_heads <= 65535 && p.batch <= 65535 &&
         (p.q_len + kRows - 1) / kRows <= 0x7fffffff;
}

int launch_flash_int8(const KernelParams& p, const QuantizedBuffers& q, void* stream) {
  if (p.q_len == 0) return cudaSuccess;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  return p.head_dim == 64 ? launch<64>(p, q, s) : launch<128>(p, q, s);
}

int prepare_flash_int8() {
  int status = cudaFuncSetAttribute(flash_int8_kernel<64>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared_bytes<64>()));
  if (status == cudaSuccess)
    status = cudaFuncSetAttribute(flash_int8_kernel<128>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(shared_bytes<128>()));
  return status;
}

}  // namespace sattn_cuda
