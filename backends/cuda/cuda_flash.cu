// The tensor-core kernel: flash attention forward over the layout's key tiles for f16/bf16 tensors. One block of
// 4 warps owns a 128-row query tile (32 rows per warp: two 16-row mma tiles share every K and V fragment loaded from
// shared memory, which halves the ldmatrix traffic per multiply; Q fragments are reloaded from shared memory per
// 16 head dims so that the 2 x 16 x 128 output accumulators fit the register file) and walks its layout
// row's key tiles of 64 keys; K and V tiles are double-buffered in shared memory by cp.async, so the next tile loads
// while this one is multiplied. Scores and P V run on mma.sync m16n8k16 with fp32 accumulation; the softmax is
// online, in log2 units with exp2f. FULL tiles inside the sequence skip the mask; the others ask the layout's
// predicate (sattn_tile_keeps) per element. Probabilities are rounded to the tensor type for P V (the precision's
// definition) while the denominator sums them unrounded.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_device.cuh"
#include "cuda_epilogue.cuh"
#include "cuda_mma.cuh"
#include "cuda_variants.hpp"

namespace sattn_cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kRows = static_cast<int>(kTileQ);  // query rows per block, 32 per warp
constexpr int kWarpTiles = 2;                    // 16-row mma tiles per warp
constexpr int kKeys = static_cast<int>(kTileK);  // keys per tile

// Rows padded by 16 bytes: the 8 rows an ldmatrix reads then start in different banks.
template <int D>
constexpr int kStride = D + 8;

template <int D>
constexpr size_t shared_bytes() {
  return sizeof(uint16_t) * static_cast<size_t>(kRows + 4 * kKeys) * kStride<D>;
}

// Starts the copy of rows [row0, row0 + Rows) of a head into a Rows x D tile; rows at or past len become zeros.
template <int D, int Rows>
__device__ inline void load_tile(uint16_t* tile, const uint16_t* head, int64_t row_stride, int64_t row0, int64_t len) {
  constexpr int kChunks = D / 8;  // 16-byte pieces of a row
  for (int c = static_cast<int>(threadIdx.x); c < Rows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = c % kChunks * 8;
    const bool valid = row0 + r < len;
    copy16_async(tile + r * kStride<D> + col, valid ? head + (row0 + r) * row_stride + col : head, valid);
  }
}

// Q rows of a split (decode) block: row r holds query r % q_len of head hq0 + r / q_len; rows past `rows` are zeros.
template <int D>
__device__ inline void load_packed_queries(uint16_t* tile, const KernelParams& p, int64_t b, int64_t hq0, int rows) {
  constexpr int kChunks = D / 8;
  const uint16_t* const q = static_cast<const uint16_t*>(p.q.data);
  for (int c = static_cast<int>(threadIdx.x); c < kRows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = c % kChunks * 8;
    const bool valid = r < rows;
    const uint16_t* source = q;
    if (valid) source += b * p.q.stride[0] + (hq0 + r / p.q_len) * p.q.stride[1] + r % p.q_len * p.q.stride[2] + col;
    copy16_async(tile + r * kStride<D> + col, source, valid);
  }
}

// Split == false: one block per (128-row query tile, query head, batch) over its whole layout row.
// Split == true (decode shapes): one block per (split of the key tiles, group of query heads of one kv head, batch);
// its 128 rows pack the group's query rows (heads x q_len <= 128, GQA: every K/V tile serves all of them), and it
// writes unnormalised partial results that launch_decode's merge combines by their log-sum-exp.
template <int D, bool Bf16, bool Split>
__global__ void __launch_bounds__(kThreads) flash_kernel(const KernelParams p, const DecodePlan d) {
  extern __shared__ __align__(16) uint16_t shared[];
  uint16_t* const q_tile = shared;
  uint16_t* const k_tiles = q_tile + kRows * kStride<D>;       // two buffers
  uint16_t* const v_tiles = k_tiles + 2 * kKeys * kStride<D>;  // two buffers
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int group = lane / 4, quad = lane % 4;  // the mma fragment coordinates of this lane
  // The last query tiles first: under causal masks they have the most key tiles, and starting them early keeps the
  // tail of the grid short.
  int64_t qt = 0, hq = 0, b = 0, rows = 0;
  if constexpr (Split) {
    const int64_t groups = p.q_heads / d.tc_heads_per_block;
    b = blockIdx.y / groups, hq = blockIdx.y % groups * d.tc_heads_per_block, rows = d.tc_heads_per_block * p.q_len;
  } else {
    qt = gridDim.x - 1 - blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  }
  // Query row index and query head of tile row r (a split block's rows past `rows` read as its first head's).
  const auto query_of = [&](int r) -> int64_t { return Split ? r % p.q_len : qt * kRows + r; };
  const auto head_of = [&](int r) -> int64_t { return Split ? (r < rows ? hq + r / p.q_len : hq) : hq; };
  const int64_t hk = hq / (p.q_heads / p.kv_heads);
  const uint16_t* const k_head = static_cast<const uint16_t*>(p.k.data) + b * p.k.stride[0] + hk * p.k.stride[1];
  const uint16_t* const v_head = static_cast<const uint16_t*>(p.v.data) + b * p.v.stride[0] + hk * p.v.stride[1];

  TileCursor cursor = TileCursor::begin(p.layout, sattn_layout_row(&p.layout, b, hq, qt));
  int64_t remaining = INT64_MAX;  // key tiles this block still walks
  if constexpr (Split) {
    const int64_t tiles = count_tiles(p.layout, sattn_layout_row(&p.layout, b, hq, 0));
    const int64_t first = tiles * blockIdx.x / d.splits;
    remaining = tiles * (blockIdx.x + 1) / d.splits - first;
    skip_tiles(cursor, first);
    load_packed_queries<D>(q_tile, p, b, hq, static_cast<int>(rows));
  } else {
    const uint16_t* const q_head = static_cast<const uint16_t*>(p.q.data) + b * p.q.stride[0] + hq * p.q.stride[1];
    load_tile<D, kRows>(q_tile, q_head, p.q.stride[2], qt * kRows, p.q_len);
  }
  if (cursor.valid() && remaining > 0) {
    load_tile<D, kKeys>(k_tiles, k_head, p.k.stride[2], cursor.tile * kKeys, p.kv_len);
    load_tile<D, kKeys>(v_tiles, v_head, p.v.stride[2], cursor.tile * kKeys, p.kv_len);
  }
  copy_commit();

  float o[kWarpTiles][D / 8][4] = {};
  // Rows group and group + 8 of each of the warp's tiles, log2 units.
  float m[kWarpTiles][2], l[kWarpTiles][2];
#pragma unroll
  for (int mt = 0; mt < kWarpTiles; ++mt) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.0f;
  int buffer = 0;
  while (cursor.valid() && remaining > 0) {
    TileCursor next = cursor;
    next.advance();
    if (next.valid() && remaining > 1) {  // the next tile streams in while this one is computed
      load_tile<D, kKeys>(k_tiles + (buffer ^ 1) * kKeys * kStride<D>, k_head, p.k.stride[2], next.tile * kKeys,
                          p.kv_len);
      load_tile<D, kKeys>(v_tiles + (buffer ^ 1) * kKeys * kStride<D>, v_head, p.v.stride[2], next.tile * kKeys,
                          p.kv_len);
      copy_commit();
      copy_wait<1>();
    } else {
      copy_wait<0>();
    }
    __syncthreads();
    const uint16_t* const k_tile = k_tiles + buffer * kKeys * kStride<D>;
    const uint16_t* const v_tile = v_tiles + buffer * kKeys * kStride<D>;

    // S = Q K^T for the warp's 2 x 16 rows and the tile's 64 keys: 2 x 8 fragments of 16 x 8.
    float s[kWarpTiles][kKeys / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t q_frag[kWarpTiles][4];
#pragma unroll
      for (int mt = 0; mt < kWarpTiles; ++mt)
        ldmatrix_x4(q_frag[mt], q_tile + (warp * 32 + mt * 16 + lane % 16) * kStride<D> + kk * 16 + lane / 16 * 8);
#pragma unroll
      for (int n = 0; n < kKeys / 8; n += 2) {
        uint32_t r[4];
        ldmatrix_x4(r, k_tile + (n * 8 + lane % 8 + lane / 16 * 8) * kStride<D> + kk * 16 + lane / 8 % 2 * 8);
#pragma unroll
        for (int mt = 0; mt < kWarpTiles; ++mt) {
          mma_16816<Bf16>(s[mt][n], q_frag[mt], r[0], r[1]);
          mma_16816<Bf16>(s[mt][n + 1], q_frag[mt], r[2], r[3]);
        }
      }
    }

    uint64_t keep_bits = 0;
#pragma unroll
    for (int mt = 0; mt < kWarpTiles; ++mt) {
      const int r = warp * 32 + mt * 16 + group;
      keep_bits |= static_cast<uint64_t>(
                       tile_keep_bits(p, cursor, b, query_of(r), query_of(r + 8), head_of(r), head_of(r + 8), quad))
                   << (32 * mt);
    }
    if (keep_bits != ~uint64_t{0}) {  // whole tiles (most of them) skip this
#pragma unroll
      for (int mt = 0; mt < kWarpTiles; ++mt) {
#pragma unroll
        for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int index = (mt * (kKeys / 8) + n) * 4 + e;
            if (((keep_bits >> index) & 1u) == 0) s[mt][n][e] = -INFINITY;
          }
      }
    }

    // Online softmax: the four lanes of a quad hold one row's 64 scores between them.
#pragma unroll
    for (int mt = 0; mt < kWarpTiles; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float row_max = -INFINITY;
#pragma unroll
        for (int n = 0; n < kKeys / 8; ++n) row_max = fmaxf(row_max, fmaxf(s[mt][n][2 * h], s[mt][n][2 * h + 1]));
        row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 1));
        row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 2));
        // Scores are unscaled here: the scale (> 0, so it keeps the maximum) enters the exponent's fused
        // multiply-add, one instruction per score instead of a multiply and a subtraction.
        const float m_new = fmaxf(m[mt][h], row_max * p.scale_log2);
        const float base = m_new == -INFINITY ? 0.0f : m_new;  // a row with nothing kept yet stays at zero
        const float correction = fast_exp2(m[mt][h] - base);
        m[mt][h] = m_new;
        l[mt][h] *= correction;
#pragma unroll
        for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
          for (int e = 2 * h; e < 2 * h + 2; ++e) {
            s[mt][n][e] = fast_exp2(fmaf(s[mt][n][e], p.scale_log2, -base));
            l[mt][h] += s[mt][n][e];
          }
        if (correction != 1.0f) {  // the row's maximum moved: rescale what it accumulated (rare after a few tiles)
#pragma unroll
          for (int dn = 0; dn < D / 8; ++dn) {
            o[mt][dn][2 * h] *= correction;
            o[mt][dn][2 * h + 1] *= correction;
          }
        }
      }

      // O += P V: the score fragments of two neighbouring 8-key columns form one 16 x 16 A fragment.
#pragma unroll
    for (int ks = 0; ks < kKeys / 16; ++ks) {
      uint32_t a[kWarpTiles][4];
#pragma unroll
      for (int mt = 0; mt < kWarpTiles; ++mt) {
        a[mt][0] = pack<Bf16>(s[mt][2 * ks][0], s[mt][2 * ks][1]);
        a[mt][1] = pack<Bf16>(s[mt][2 * ks][2], s[mt][2 * ks][3]);
        a[mt][2] = pack<Bf16>(s[mt][2 * ks + 1][0], s[mt][2 * ks + 1][1]);
        a[mt][3] = pack<Bf16>(s[mt][2 * ks + 1][2], s[mt][2 * ks + 1][3]);
      }
#pragma unroll
      for (int dn = 0; dn < D / 8; dn += 2) {
        uint32_t r[4];
        ldmatrix_x4_trans(r, v_tile + (ks * 16 + lane % 8 + lane / 8 % 2 * 8) * kStride<D> + dn * 8 + lane / 16 * 8);
#pragma unroll
        for (int mt = 0; mt < kWarpTiles; ++mt) {
          mma_16816<Bf16>(o[mt][dn], a[mt], r[0], r[1]);
          mma_16816<Bf16>(o[mt][dn + 1], a[mt], r[2], r[3]);
        }
      }
    }
    __syncthreads();  // every warp is done with this buffer before the next iteration refills it
    buffer ^= 1;
    cursor = next;
    --remaining;
  }
  copy_wait<0>();  // a row without key tiles never waited for its Q copy

  if constexpr (Split) {
    // Partial results: the running maximum and denominator of each row, and its P V sum, unnormalised.
#pragma unroll
    for (int mt = 0; mt < kWarpTiles; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float sum = quad_sum(l[mt][h]);
        const int r = warp * 32 + mt * 16 + group + 8 * h;
        if (r >= rows) continue;
        const int64_t out_row = ((blockIdx.x * p.batch + b) * p.q_heads + head_of(r)) * p.q_len + query_of(r);
        float* const partial = d.partial_o + out_row * D;
#pragma unroll
        for (int dn = 0; dn < D / 8; ++dn)
          *reinterpret_cast<float2*>(partial + dn * 8 + 2 * quad) = make_float2(o[mt][dn][2 * h], o[mt][dn][2 * h + 1]);
        if (quad == 0) d.partial_stats[2 * out_row] = m[mt][h], d.partial_stats[2 * out_row + 1] = sum;
      }
    return;
  }
  const int64_t q0 = qt * kRows;
#pragma unroll
  for (int mt = 0; mt < kWarpTiles; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t i = q0 + warp * 32 + mt * 16 + group + 8 * h;
      const float sum = quad_sum(l[mt][h]);
      if (i < p.q_len)
        store_output_row<D, Bf16>(p, b, hq, i, quad, sum, m[mt][h],
                                  [&](int dn, int e) { return o[mt][dn][2 * h + e]; });
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
  flash_kernel<D, Bf16, false><<<grid, kThreads, shared_bytes<D>(), stream>>>(p, DecodePlan{});
  return cudaGetLastError();
}

template <int D, bool Bf16>
int launch_split(const KernelParams& p, const DecodePlan& d, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(d.splits), static_cast<unsigned>(p.batch * (p.q_heads / d.tc_heads_per_block)));
  flash_kernel<D, Bf16, true><<<grid, kThreads, shared_bytes<D>(), stream>>>(p, d);
  return cudaGetLastError();
}

template <int D, bool Bf16>
int prepare() {
  int status = cudaFuncSetAttribute(flash_kernel<D, Bf16, false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared_bytes<D>()));
  if (status == cudaSuccess)
    status = cudaFuncSetAttribute(flash_kernel<D, Bf16, true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(shared_bytes<D>()));
  return status;
}

}  // namespace

bool flash_supports(const KernelParams& p) {
  const bool wide = p.layout.tile_q == kTileQWide && p.use_wgmma != 0 &&
                    wide_tiles_supported(p.dtype, p.precision, p.head_dim, p.head_dim_v);
  return sixteen_bit_tensors(p.dtype, p.precision) && p.kv_dtype == p.dtype && p.head_dim == p.head_dim_v &&
         (p.head_dim == 64 || p.head_dim == 128) && (p.layout.tile_q == kTileQ || wide) && p.layout.tile_k == kTileK &&
         p.q_heads <= 65535 && p.batch <= 65535 && (p.q_len + kRows - 1) / kRows <= 0x7fffffff && aligned(p.q) &&
         aligned(p.k) && aligned(p.v) && aligned(p.o);
}

int launch_flash(const KernelParams& p, void* stream) {
  if (p.q_len == 0) return cudaSuccess;
  // Hopper, where TMA can address the tensors and the persistent grid's item numbers fit in 31 bits; the mma.sync
  // kernel below otherwise.
  const int64_t q_tiles = (p.q_len + p.layout.tile_q - 1) / p.layout.tile_q;
  if (p.use_wgmma != 0 && q_tiles <= 0x7fffffff / p.q_heads / p.batch) {
    TensorMaps maps;
    if (encode_tensor_maps(p, &maps)) return launch_flash_wgmma(p, maps, stream);
  }
  // The mma.sync kernel walks 128-row tiles only; TMA refused these tensors (strides past its limits) or there are
  // more than 2^31 items.
  if (p.layout.tile_q != kTileQ) return launch_generic(p, stream);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  return with_variant(p.head_dim, p.dtype == SATTN_DTYPE_BF16,
                      [&](auto d, auto bf16) { return launch<decltype(d)::value, decltype(bf16)::value>(p, s); });
}

bool flash_split_supports(const KernelParams& p, const DecodePlan& d) {
  return d.tc_heads_per_block > 0 && flash_supports(p);
}

int launch_flash_split(const KernelParams& p, const DecodePlan& d, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  return with_variant(p.head_dim, p.dtype == SATTN_DTYPE_BF16, [&](auto dim, auto bf16) {
    return launch_split<decltype(dim)::value, decltype(bf16)::value>(p, d, s);
  });
}

int flash_split_blocks_per_sm(int64_t head_dim, bool bf16) {
  int blocks = 0;
  const int status = with_variant(head_dim, bf16, [&](auto d, auto b16) {
    constexpr int D = decltype(d)::value;
    return static_cast<int>(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
        &blocks, flash_kernel<D, decltype(b16)::value, true>, kThreads, shared_bytes<D>()));
  });
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    return 1;
  }
  return blocks > 0 ? blocks : 1;
}

int prepare_flash() {
  return for_each_variant([](auto d, auto bf16) { return prepare<decltype(d)::value, decltype(bf16)::value>(); });
}

}  // namespace sattn_cuda
