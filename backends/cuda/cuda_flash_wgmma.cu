// The Hopper (sm_90a) flash kernel: the same walk over the layout's 128 x 64 tiles as cuda_flash.cu, with the
// multiplies on warpgroup MMA (wgmma.mma_async) and the copies on the tensor memory accelerator (TMA). Two consumer
// warpgroups of 4 warps own 64 query rows each. S = Q K^T reads both operands from shared memory through matrix
// descriptors (m64n64k16); P stays in registers, where the accumulator layout of S is already the A-fragment
// layout, and O += P V reads V from shared memory transposed (m64nDk16). Freed of A/B fragments and of address
// arithmetic for copies, a consumer thread holds S (32 floats) and O (D/2 floats) only, so nothing spills.
// Q, K and V tiles are stored 128-byte swizzled (16-byte chunk c of row r at chunk c ^ (r % 8), in atoms of 64
// columns x rows): what the TMA writes with CU_TENSOR_MAP_SWIZZLE_128B and what the descriptors name. Masks, the
// online softmax in log2 units and the output follow cuda_flash.cu. Built for sm_90a only; elsewhere the kernel is
// empty and never launched (the plan sets use_wgmma only on sm_90).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_device.cuh"
#include "cuda_mma.cuh"
#include "cuda_tma.cuh"
#include "cuda_wgmma.cuh"

namespace sattn_cuda {
namespace {

constexpr int kConsumerThreads = 2 * 128;         // two warpgroups
constexpr int kThreads = kConsumerThreads + 128;  // and the producer's: one thread issues the copies
// Registers per thread after the warpgroups trade them (setmaxnreg): ptxas compiles a 384-thread kernel for 168, too
// few for a consumer's S, O and P; the producer gives most of its share away.
constexpr int kProducerRegisters = 40;
constexpr int kConsumerRegisters = 232;
static_assert((kThreads - kConsumerThreads) * kProducerRegisters + kConsumerThreads * kConsumerRegisters <= 65536,
              "the register file holds both shares");
constexpr int kRows = static_cast<int>(kTileQ);  // query rows per block, 64 per consumer warpgroup
constexpr int kKeys = static_cast<int>(kTileK);

template <int Rows>
constexpr uint32_t kAtomBytes = Rows * 128;  // one atom: 64 columns (128 bytes) of every row
template <int D>
constexpr uint32_t kQBytes = D / 64 * kAtomBytes<kRows>;
template <int D>
constexpr uint32_t kKvBytes = D / 64 * kAtomBytes<kKeys>;
// K/V tiles in flight: the one P V reads, the one S reads, and two the TMA fills ahead (D 128: 160 KiB of 227).
constexpr int kStages = 4;
constexpr size_t kBarrierBytes = 8 * (1 + 3 * kStages);  // q_full, then k_full, v_full and empty per stage
template <int D>
constexpr size_t shared_bytes() {
  return 1024 + kQBytes<D> + 2 * kStages * size_t{kKvBytes<D>} + kBarrierBytes;  // 1024: room to align atoms
}

// V (MN-major, transposed B): atoms of 64 head dims are kAtomBytes<kKeys> apart (leading), groups of 8 keys 1024
// bytes apart (stride).
#ifndef SATTN_WGMMA_V_LEADING_IS_ATOM
#define SATTN_WGMMA_V_LEADING_IS_ATOM 1
#endif

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

// One block per (128-row query tile, query head, batch), warp-specialised: a producer warp walks the layout row and
// has the TMA unit copy Q once and every K/V tile into a ring of kStages buffers; two consumer warpgroups (64 query
// rows each) only multiply and exponentiate. Full barriers (one per buffer for K and one for V, so that S can start
// before V lands) carry the copies' byte counts; a buffer's empty barrier collects one arrival per consumer warp once
// its P V has finished. A consumer step: issue S(j+1) and P V(j), wait for S(j+1), softmax of j+1 (not touching O),
// wait for P V(j), release buffer j, rescale O. ptxas schedules the second wait ahead of the softmax (it hoists wgmma
// waits to the top of their block), so the softmax overlaps the other warpgroup's MMAs rather than its own P V;
// forcing the in-warpgroup overlap (a shared-memory store pinning the wait below the softmax) measured slower, as
// did ping-pong turns between the warpgroups (docs/performance.md). The warpgroups never wait for each other.
template <int D, bool Bf16>
__global__ void __launch_bounds__(kThreads, 1)
    flash_wgmma_kernel(const __grid_constant__ TensorMaps maps, const KernelParams p) {
#if SATTN_CUDA_WGMMA
  extern __shared__ __align__(16) unsigned char shared_raw[];
  // The swizzle is a function of the shared address: atoms must start 1024-byte aligned.
  unsigned char* const q_tile = shared_raw + (1024 - shared_address(shared_raw) % 1024) % 1024;
  unsigned char* const k_tiles = q_tile + kQBytes<D>;
  unsigned char* const v_tiles = k_tiles + kStages * kKvBytes<D>;
  const uint32_t barriers = shared_address(v_tiles + kStages * kKvBytes<D>);
  const auto q_full = [&] { return barriers; };
  const auto k_full = [&](int stage) { return barriers + 8u * (1 + stage); };
  const auto v_full = [&](int stage) { return barriers + 8u * (1 + kStages + stage); };
  const auto empty = [&](int stage) { return barriers + 8u * (1 + 2 * kStages + stage); };
  const int64_t qt = gridDim.x - 1 - blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  const int64_t hk = hq / (p.q_heads / p.kv_heads), q0 = qt * kRows;
  const int64_t layout_row = sattn_layout_row(&p.layout, b, hq, qt);
  if (threadIdx.x == 0) {
    barrier_init(q_full(), 1);
    for (int stage = 0; stage < kStages; ++stage) {
      barrier_init(k_full(stage), 1);
      barrier_init(v_full(stage), 1);
      barrier_init(empty(stage), kConsumerThreads / 32);
    }
    barrier_init_fence();
  }
  __syncthreads();  // the last block-wide barrier: the producer's idle threads leave below

  if (threadIdx.x >= kConsumerThreads) {  // the producer warpgroup; one thread issues every copy
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegisters));
    if (threadIdx.x != kConsumerThreads) return;
    tma_prefetch_map(&maps.k);
    tma_prefetch_map(&maps.v);
    barrier_expect_bytes(q_full(), kQBytes<D>);
#pragma unroll
    for (int atom = 0; atom < D / 64; ++atom)
      tma_load_4d(shared_address(q_tile + atom * kAtomBytes<kRows>), &maps.q, q_full(), atom * 64,
                  static_cast<int32_t>(q0), static_cast<int32_t>(hq), static_cast<int32_t>(b));
    int n = 0;
    for (TileCursor tile = TileCursor::begin(p.layout, layout_row); tile.valid(); tile.advance(), ++n) {
      const int stage = n % kStages;
      barrier_wait(empty(stage), (n / kStages & 1) ^ 1);  // the consumers released this buffer's last tile
      const int32_t key0 = static_cast<int32_t>(tile.tile * kKeys);
      barrier_expect_bytes(k_full(stage), kKvBytes<D>);
#pragma unroll
      for (int atom = 0; atom < D / 64; ++atom)
        tma_load_4d(shared_address(k_tiles + stage * kKvBytes<D> + atom * kAtomBytes<kKeys>), &maps.k, k_full(stage),
                    atom * 64, key0, static_cast<int32_t>(hk), static_cast<int32_t>(b));
      barrier_expect_bytes(v_full(stage), kKvBytes<D>);
#pragma unroll
      for (int atom = 0; atom < D / 64; ++atom)
        tma_load_4d(shared_address(v_tiles + stage * kKvBytes<D> + atom * kAtomBytes<kKeys>), &maps.v, v_full(stage),
                    atom * 64, key0, static_cast<int32_t>(hk), static_cast<int32_t>(b));
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegisters));
  // The consumers' cursors: this tile (current) and the next; walked before the prologue's MMAs (see the loop).
  const TileCursor current = TileCursor::begin(p.layout, layout_row);
  TileCursor next = current;
  if (next.valid()) next.advance();
  const int warpgroup = static_cast<int>(threadIdx.x) / 128, warp = static_cast<int>(threadIdx.x) % 128 / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32, group = lane / 4, quad = lane % 4;
  const int64_t first_row = q0 + warpgroup * 64 + warp * 16 + group;  // this thread's rows: first_row and + 8
  const uint32_t q_address = shared_address(q_tile) + warpgroup * 64 * 128;
  const auto k_address = [&](int n) { return shared_address(k_tiles + n % kStages * kKvBytes<D>); };
  const auto v_address = [&](int n) { return shared_address(v_tiles + n % kStages * kKvBytes<D>); };
  const auto parity = [](int n) { return static_cast<uint32_t>(n / kStages & 1); };
  float o[D / 2];
#pragma unroll
  for (int x = 0; x < D / 2; ++x) o[x] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, correction[2];
  uint32_t probabilities[4][4];
  barrier_wait(q_full(), 0);
  if (current.valid()) {  // the first tile's scores and probabilities: the pipeline's prologue
    float s[32];
    barrier_wait(k_full(0), 0);
    if (!next.valid()) barrier_wait(v_full(0), 0);  // a single tile: its V now (see the loop)
    issue_scores<D, Bf16>(s, q_address, k_address(0));
    wgmma_wait<0>();
    wgmma_fence_operands(s);
    softmax_tile<Bf16>(s, tile_keep_bits(p, current, b, first_row, first_row + 8, hq, hq, quad), p.scale_log2, m, l,
                       correction, probabilities);
  }
  // Steps with a next tile (n: the tile whose P V this step issues): no branch around the MMAs, so that ptxas keeps
  // them asynchronous.
  int n = 0;
  for (; next.valid(); ++n) {
    TileCursor after = next;  // walked first: ptxas serialises every wgmma if the walk sits after the prologue's
    after.advance();
    float s[32];
    // Both waits before either MMA: a spin loop between them would make ptxas serialise the wgmma pipeline. The
    // producer copies V(n) before K(n + 1), so the first wait costs nothing the second would not.
    barrier_wait(v_full(n % kStages), parity(n));
    barrier_wait(k_full((n + 1) % kStages), parity(n + 1));
    // The last tile's V too: a wait between the loop and the last P V would make ptxas serialise every wgmma.
    if (!after.valid()) barrier_wait(v_full((n + 1) % kStages), parity(n + 1));
    issue_scores<D, Bf16>(s, q_address, k_address(n + 1));
    issue_values<D, Bf16>(o, probabilities, v_address(n));
    // The next tile's probabilities go to their own registers: P V of this tile still reads `probabilities`.
    uint32_t next_probabilities[4][4];
    wgmma_wait<1>();  // S of tile n + 1 is done; P V of tile n may still run
    wgmma_fence_operands(s);
    softmax_tile<Bf16>(s, tile_keep_bits(p, next, b, first_row, first_row + 8, hq, hq, quad), p.scale_log2, m, l,
                       correction, next_probabilities);
    wgmma_wait<0>();
    wgmma_fence_operands(o);
    if (lane == 0) {
      barrier_arrive(empty(n % kStages));  // this warp is done with tile n's K and V
    }
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
    next = after;
  }
  if (current.valid()) {  // the last tile's P V (its V was waited for with its K: see the loop)
    issue_values<D, Bf16>(o, probabilities, v_address(n));
    wgmma_wait<0>();
    wgmma_fence_operands(o);
  }

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
int launch(const KernelParams& p, const TensorMaps& maps, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.q_len + kRows - 1) / kRows), static_cast<unsigned>(p.q_heads),
                  static_cast<unsigned>(p.batch));
  flash_wgmma_kernel<D, Bf16><<<grid, kThreads, shared_bytes<D>(), stream>>>(maps, p);
  return cudaGetLastError();
}

template <int D, bool Bf16>
int prepare() {
  return cudaFuncSetAttribute(flash_wgmma_kernel<D, Bf16>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(shared_bytes<D>()));
}

}  // namespace

int launch_flash_wgmma(const KernelParams& p, const TensorMaps& maps, void* stream) {
  if (p.q_len == 0) return cudaSuccess;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool bf16 = p.dtype == SATTN_DTYPE_BF16;
  if (p.head_dim == 64) return bf16 ? launch<64, true>(p, maps, s) : launch<64, false>(p, maps, s);
  return bf16 ? launch<128, true>(p, maps, s) : launch<128, false>(p, maps, s);
}

int prepare_flash_wgmma() {
  int status = prepare<64, true>();
  if (status == cudaSuccess) status = prepare<64, false>();
  if (status == cudaSuccess) status = prepare<128, true>();
  if (status == cudaSuccess) status = prepare<128, false>();
  return status;
}

}  // namespace sattn_cuda
