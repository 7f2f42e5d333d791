// The Hopper (sm_90a) flash kernel: the same walk over the layout's 128 x 64 tiles as cuda_flash.cu, with the
// multiplies on warpgroup MMA (wgmma.mma_async). Two warpgroups of 4 warps own 64 query rows each. S = Q K^T reads
// both operands from shared memory through matrix descriptors (m64n64k16); P stays in registers, where the
// accumulator layout of S is already the A-fragment layout, and O += P V reads V from shared memory transposed
// (m64nDk16). Freed of A/B fragments, a thread holds S (32 floats) and O (D/2 floats) only, so nothing spills.
// Q, K and V tiles are stored 128-byte swizzled (16-byte chunk c of row r at chunk c ^ (r % 8), in atoms of 64
// columns x rows), the layout the descriptors name; K/V tiles are double-buffered by cp.async. Masks, the online
// softmax in log2 units and the output follow cuda_flash.cu. Built for sm_90a only; elsewhere the kernel is empty and
// never launched (flash_wgmma_available() says no).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_device.cuh"
#include "cuda_mma.cuh"
#include "cuda_wgmma.cuh"

namespace sattn_cuda {
namespace {

constexpr int kWarpgroups = 2;
constexpr int kThreads = 128 * kWarpgroups;
constexpr int kRows = static_cast<int>(kTileQ);  // 64 per warpgroup
constexpr int kKeys = static_cast<int>(kTileK);

template <int Rows>
constexpr uint32_t kAtomBytes = Rows * 128;  // one atom: 64 columns (128 bytes) of every row
template <int D>
constexpr uint32_t kQBytes = D / 64 * kAtomBytes<kRows>;
template <int D>
constexpr uint32_t kKvBytes = D / 64 * kAtomBytes<kKeys>;
constexpr int kBuffers = 3;  // K/V tiles in flight: the one P V reads, the one S reads, the one loading
template <int D>
constexpr size_t shared_bytes() {
  return 1024 + kQBytes<D> + 2 * kBuffers * size_t{kKvBytes<D>};  // 1024: room to align the first atom
}

// V (MN-major, transposed B): atoms of 64 head dims are kAtomBytes<kKeys> apart (leading), groups of 8 keys 1024
// bytes apart (stride).
#ifndef SATTN_WGMMA_V_LEADING_IS_ATOM
#define SATTN_WGMMA_V_LEADING_IS_ATOM 1
#endif

// Starts the copy of rows [row0, row0 + Rows) of a head into a swizzled tile; rows at or past len become zeros. A
// thread always copies the same 16-byte column of every kRowStep-th row, so its swizzled offset is computed once.
template <int D, int Rows>
__device__ inline void load_swizzled(unsigned char* tile, const uint16_t* head, int64_t row_stride, int64_t row0,
                                     int64_t len) {
  constexpr int kChunks = D / 8;  // 16-byte pieces of a row
  constexpr int kRowStep = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0 && kRowStep % 8 == 0 && Rows % kRowStep == 0, "fixed swizzle per thread");
  const int chunk = static_cast<int>(threadIdx.x) % kChunks, r0 = static_cast<int>(threadIdx.x) / kChunks;
  unsigned char* const destination = tile + chunk / 8 * kAtomBytes<Rows> + r0 * 128 + ((chunk % 8) ^ (r0 % 8)) * 16;
  const uint16_t* const source = head + (row0 + r0) * row_stride + chunk * 8;
#pragma unroll
  for (int k = 0; k < Rows / kRowStep; ++k) {
    const bool valid = row0 + r0 + k * kRowStep < len;
    copy16_async(destination + k * kRowStep * 128, valid ? source + k * kRowStep * row_stride : head, valid);
  }
}

#if SATTN_CUDA_WGMMA
// S = Q K^T for the warpgroup's 64 rows and a tile's 64 keys, issued (not waited for): D / 16 steps of 16 head dims.
template <int D, bool Bf16>
__device__ inline void issue_scores(float (&s)[32], uint32_t q_address, uint32_t k_address) {
  wgmma_fence();
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    const uint32_t step = (ks % 4) * 32u;  // 16 head dims = 32 bytes into the atom
    const uint64_t a = smem_descriptor(q_address + ks / 4 * kAtomBytes<kRows> + step, 16, 1024);
    const uint64_t k = smem_descriptor(k_address + ks / 4 * kAtomBytes<kKeys> + step, 16, 1024);
    wgmma_ss_n64<Bf16>(s, a, k, ks > 0 ? 1 : 0);
  }
  wgmma_commit();
}

// O += P V for a tile, issued (not waited for): P's fragments from registers, V transposed from shared memory.
template <int D, bool Bf16>
__device__ inline void issue_values(float (&o)[D / 2], const uint32_t (&probabilities)[4][4], uint32_t v_address) {
  wgmma_fence();
#pragma unroll
  for (int kv = 0; kv < kKeys / 16; ++kv) {
#if SATTN_WGMMA_V_LEADING_IS_ATOM
    const uint64_t v = smem_descriptor(v_address + kv * 2048, kAtomBytes<kKeys>, 1024);
#else
    const uint64_t v = smem_descriptor(v_address + kv * 2048, 1024, kAtomBytes<kKeys>);
#endif
    if constexpr (D == 128) {
      wgmma_rs_n128<Bf16>(o, probabilities[kv], v, 1);
    } else {
      wgmma_rs_n64<Bf16>(o, probabilities[kv], v, 1);
    }
  }
  wgmma_commit();
}

#endif  // SATTN_CUDA_WGMMA

// The online softmax of one tile's scores (masked by keep_bits, unscaled until the exponent's FMA): updates the
// rows' maxima and denominators, returns the factor the output accumulated so far must be scaled by, and packs the
// probabilities into the A fragments of P V (two neighbouring 8-key columns make one 16-key fragment).
template <bool Bf16>
__device__ inline void softmax_tile(float (&s)[32], uint32_t keep_bits, float scale_log2, float (&m)[2], float (&l)[2],
                                    float (&correction)[2], uint32_t (&probabilities)[4][4]) {
  if (keep_bits != ~0u) {
#pragma unroll
    for (int index = 0; index < 32; ++index)
      if (((keep_bits >> index) & 1u) == 0) s[index] = -INFINITY;
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float row_max = -INFINITY;
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) row_max = fmaxf(row_max, fmaxf(s[n * 4 + 2 * h], s[n * 4 + 2 * h + 1]));
    row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 1));
    row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 2));
    const float m_new = fmaxf(m[h], row_max * scale_log2);
    const float base = m_new == -INFINITY ? 0.0f : m_new;  // a row with nothing kept yet stays at zero
    correction[h] = fast_exp2(m[h] - base);
    m[h] = m_new;
    l[h] *= correction[h];
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
      for (int e = 2 * h; e < 2 * h + 2; ++e) {
        s[n * 4 + e] = fast_exp2(fmaf(s[n * 4 + e], scale_log2, -base));
        l[h] += s[n * 4 + e];
      }
  }
#pragma unroll
  for (int kv = 0; kv < kKeys / 16; ++kv) {
    probabilities[kv][0] = pack<Bf16>(s[8 * kv + 0], s[8 * kv + 1]);
    probabilities[kv][1] = pack<Bf16>(s[8 * kv + 2], s[8 * kv + 3]);
    probabilities[kv][2] = pack<Bf16>(s[8 * kv + 4], s[8 * kv + 5]);
    probabilities[kv][3] = pack<Bf16>(s[8 * kv + 6], s[8 * kv + 7]);
  }
}

// One block per (128-row query tile, query head, batch). Tile j's softmax runs while the tensor cores compute
// S for tile j + 1 and O += P V for tile j - 1... in order: issue S(j+1), issue PV(j), wait for S(j+1), softmax of
// j+1 (not touching O), wait for PV(j), rescale O. K/V tiles are triple-buffered: tile j+2 loads during step j.
template <int D, bool Bf16>
__global__ void __launch_bounds__(kThreads) flash_wgmma_kernel(const KernelParams p) {
#if SATTN_CUDA_WGMMA
  extern __shared__ __align__(16) unsigned char shared_raw[];
  // The swizzle is a function of the shared address: atoms must start 1024-byte aligned.
  unsigned char* const q_tile = shared_raw + (1024 - shared_address(shared_raw) % 1024) % 1024;
  unsigned char* const k_tiles = q_tile + kQBytes<D>;
  unsigned char* const v_tiles = k_tiles + kBuffers * kKvBytes<D>;
  const int warpgroup = static_cast<int>(threadIdx.x) / 128, warp = static_cast<int>(threadIdx.x) % 128 / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32, group = lane / 4, quad = lane % 4;
  const int64_t qt = gridDim.x - 1 - blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  const int64_t hk = hq / (p.q_heads / p.kv_heads), q0 = qt * kRows;
  const int64_t first_row = q0 + warpgroup * 64 + warp * 16 + group;  // this thread's rows: first_row and + 8
  const uint16_t* const q_head = static_cast<const uint16_t*>(p.q.data) + b * p.q.stride[0] + hq * p.q.stride[1];
  const uint16_t* const k_head = static_cast<const uint16_t*>(p.k.data) + b * p.k.stride[0] + hk * p.k.stride[1];
  const uint16_t* const v_head = static_cast<const uint16_t*>(p.v.data) + b * p.v.stride[0] + hk * p.v.stride[1];
  const auto load_keys_values = [&](const TileCursor& tile, int buffer) {
    load_swizzled<D, kKeys>(k_tiles + buffer * kKvBytes<D>, k_head, p.k.stride[2], tile.tile * kKeys, p.kv_len);
    load_swizzled<D, kKeys>(v_tiles + buffer * kKvBytes<D>, v_head, p.v.stride[2], tile.tile * kKeys, p.kv_len);
  };
  // cp.async wrote through the generic proxy and wgmma reads through the async proxy: each thread fences its
  // completed copies before the barrier that publishes them.
  const auto publish = [] {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
  };

  // Copy groups: (Q, tile 0), (tile 1), then one per step (tile j + 2, maybe empty), so that "all but the newest
  // group done" always means "tile j + 1 is here".
  TileCursor current = TileCursor::begin(p.layout, sattn_layout_row(&p.layout, b, hq, qt));
  load_swizzled<D, kRows>(q_tile, q_head, p.q.stride[2], q0, p.q_len);
  if (current.valid()) load_keys_values(current, 0);
  copy_commit();
  TileCursor next = current;
  if (next.valid()) next.advance();
  if (next.valid()) load_keys_values(next, 1);
  copy_commit();
  copy_wait<1>();
  publish();

  const uint32_t q_address = shared_address(q_tile) + warpgroup * 64 * 128;
  float o[D / 2];
#pragma unroll
  for (int x = 0; x < D / 2; ++x) o[x] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, correction[2];
  uint32_t probabilities[4][4];
  if (current.valid()) {  // the first tile's scores and probabilities: the pipeline's prologue
    float s[32];
    issue_scores<D, Bf16>(s, q_address, shared_address(k_tiles));
    wgmma_wait<0>();
    wgmma_fence_operands(s);
    softmax_tile<Bf16>(s, tile_keep_bits(p, current, b, first_row, first_row + 8, hq, hq, quad), p.scale_log2, m, l,
                       correction, probabilities);
  }
  // Steps with a next tile: no branch around the MMAs, so that ptxas keeps them asynchronous.
  int step = 0;
  for (; next.valid(); ++step) {
    TileCursor after = next;  // tile j + 2
    after.advance();
    if (after.valid()) load_keys_values(after, (step + 2) % kBuffers);
    copy_commit();
    copy_wait<1>();  // tile j + 1 is here (tile j + 2 may still be on its way)
    publish();
    float s[32];
    issue_scores<D, Bf16>(s, q_address, shared_address(k_tiles + (step + 1) % kBuffers * kKvBytes<D>));
    issue_values<D, Bf16>(o, probabilities, shared_address(v_tiles + step % kBuffers * kKvBytes<D>));
    // The next tile's probabilities go to their own registers: P V of this tile still reads `probabilities`.
    uint32_t next_probabilities[4][4];
    wgmma_wait<1>();  // S of tile j + 1 is done; P V of tile j may still run
    wgmma_fence_operands(s);
    softmax_tile<Bf16>(s, tile_keep_bits(p, next, b, first_row, first_row + 8, hq, hq, quad), p.scale_log2, m, l,
                       correction, next_probabilities);
    wgmma_wait<0>();
    wgmma_fence_operands(o);
    // P V read `probabilities` until here: keeping them live stops the register allocator from giving their
    // registers to next_probabilities while the asynchronous MMA still reads them.
#pragma unroll
    for (int kv = 0; kv < 4; ++kv)
#pragma unroll
      for (int r = 0; r < 4; ++r) asm volatile("" : "+r"(probabilities[kv][r])::"memory");
    // Rescale what O accumulated only where a row's maximum moved (rare after the first tiles); warp-uniform.
    if (!__all_sync(0xffffffffu, correction[0] == 1.0f && correction[1] == 1.0f)) {
#pragma unroll
      for (int dn = 0; dn < D / 8; ++dn) {
        o[dn * 4 + 0] *= correction[0], o[dn * 4 + 1] *= correction[0];
        o[dn * 4 + 2] *= correction[1], o[dn * 4 + 3] *= correction[1];
      }
    }
#pragma unroll
    for (int kv = 0; kv < 4; ++kv)
#pragma unroll
      for (int r = 0; r < 4; ++r) probabilities[kv][r] = next_probabilities[kv][r];
    __syncthreads();  // every warpgroup is done with tile j's buffer before step j + 1 refills it
    next = after;
  }
  if (current.valid()) {  // the last tile's P V
    issue_values<D, Bf16>(o, probabilities, shared_address(v_tiles + step % kBuffers * kKvBytes<D>));
    wgmma_wait<0>();
    wgmma_fence_operands(o);
  }
  copy_wait<0>();

  uint16_t* const o_head = static_cast<uint16_t*>(p.o.data) + b * p.o.stride[0] + hq * p.o.stride[1];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = l[h];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int64_t i = first_row + 8 * h;
    if (i >= p.q_len) continue;
    const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;  // a row without keys writes zeros
    uint16_t* const row = o_head + i * p.o.stride[2];
#pragma unroll
    for (int dn = 0; dn < D / 8; ++dn)
      *reinterpret_cast<uint32_t*>(row + dn * 8 + 2 * quad) =
          pack<Bf16>(o[dn * 4 + 2 * h] * inverse, o[dn * 4 + 2 * h + 1] * inverse);
    if (p.lse != nullptr && quad == 0)
      p.lse[b * p.lse_stride[0] + hq * p.lse_stride[1] + i * p.lse_stride[2]] =
          sum > 0.0f ? (m[h] + log2f(sum)) * 0.69314718055994531f : -INFINITY;
  }
#else
  (void)p;
#endif
}

template <int D, bool Bf16>
int launch(const KernelParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.q_len + kRows - 1) / kRows), static_cast<unsigned>(p.q_heads),
                  static_cast<unsigned>(p.batch));
  flash_wgmma_kernel<D, Bf16><<<grid, kThreads, shared_bytes<D>(), stream>>>(p);
  return cudaGetLastError();
}

template <int D, bool Bf16>
int prepare() {
  return cudaFuncSetAttribute(flash_wgmma_kernel<D, Bf16>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(shared_bytes<D>()));
}

}  // namespace

int launch_flash_wgmma(const KernelParams& p, void* stream) {
  if (p.q_len == 0) return cudaSuccess;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool bf16 = p.dtype == SATTN_DTYPE_BF16;
  if (p.head_dim == 64) return bf16 ? launch<64, true>(p, s) : launch<64, false>(p, s);
  return bf16 ? launch<128, true>(p, s) : launch<128, false>(p, s);
}

int prepare_flash_wgmma() {
  int status = prepare<64, true>();
  if (status == cudaSuccess) status = prepare<64, false>();
  if (status == cudaSuccess) status = prepare<128, true>();
  if (status == cudaSuccess) status = prepare<128, false>();
  return status;
}

}  // namespace sattn_cuda
