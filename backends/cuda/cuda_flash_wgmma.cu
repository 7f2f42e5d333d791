// The Hopper (sm_90a) flash kernel: the same walk over the layout's 128 x 64 tiles as cuda_flash.cu (or 192 x 64 at
// D 64), two tiles per step, with the multiplies on warpgroup MMA (wgmma.mma_async) and the copies on the tensor
// memory accelerator (TMA). Two (or three) consumer warpgroups of 4 warps own 64 query rows each. S = Q K^T reads
// both operands from shared memory
// through matrix descriptors (m64n128k16: the step's two tiles side by side); P stays in registers, where the
// accumulator layout of S is already the A-fragment layout, and O += P V reads V from shared memory transposed
// (m64nDk16). Freed of A/B fragments and of address arithmetic for copies, a consumer thread holds S (64 floats),
// P (32 words) and O (D/2 floats), so nothing spills.
// Q, K and V tiles are stored 128-byte swizzled (16-byte chunk c of row r at chunk c ^ (r % 8), in atoms of 64
// columns x rows): what the TMA writes with CU_TENSOR_MAP_SWIZZLE_128B and what the descriptors name. Masks, the
// online softmax in log2 units and the output follow cuda_flash.cu. Built for sm_90a only; elsewhere the kernel is
// empty and never launched (the plan sets use_wgmma only on sm_90).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_device.cuh"
#include "cuda_epilogue.cuh"
#include "cuda_mma.cuh"
#include "cuda_tma.cuh"
#include "cuda_variants.hpp"
#include "cuda_wgmma.cuh"

namespace sattn_cuda {
namespace {

// Consumer warpgroups of 4 warps own 64 query rows each: two on the layout's 128-row tiles (kTileQ), three on the
// 192-row tiles the plan asks for at D 64 (kTileQWide), where the softmax takes as long as the MMAs and a third
// warpgroup's exponentials fill the gaps the other two leave (the kernel is latency-bound: docs/performance.md).
template <int Warpgroups>
constexpr int kConsumerThreads = Warpgroups * 128;
template <int Warpgroups>
constexpr int kThreads = kConsumerThreads<Warpgroups> + 128;  // and the producer's: one thread issues the copies
// Registers per thread after the warpgroups trade them (setmaxnreg): ptxas compiles a 384-thread kernel for 168 and a
// 512-thread one for 128, too few for a consumer's S, O and P; the producer gives most of its share away.
template <int Warpgroups>
constexpr int kProducerRegisters = Warpgroups == 2 ? 40 : 24;
template <int Warpgroups>
constexpr int kConsumerRegisters = Warpgroups == 2 ? 232 : 160;
template <int Warpgroups>
constexpr bool registers_fit() {
  return 128 * kProducerRegisters<Warpgroups> + kConsumerThreads<Warpgroups> * kConsumerRegisters<Warpgroups> <= 65536;
}
static_assert(registers_fit<2>() && registers_fit<3>(), "the register file holds both shares");
template <int Warpgroups>
constexpr int kRows = 64 * Warpgroups;  // query rows per block: the layout's tile_q
static_assert(kRows<2> == kTileQ && kRows<3> == kTileQWide, "a block's rows are one layout tile");
constexpr int kTileKeys = static_cast<int>(kTileK);  // keys of a layout tile
constexpr int kKeys = 2 * kTileKeys;                 // keys of a step: two layout tiles side by side
static_assert(kKeys == 128, "a step's keys are one m64n128 operand of S and eight 16-key fragments of P");

template <int Rows>
constexpr uint32_t kAtomBytes = Rows * 128;  // one atom: 64 columns (128 bytes) of every row
template <int D, int Warpgroups>
constexpr uint32_t kQBytes = D / 64 * kAtomBytes<kRows<Warpgroups>>;
template <int D>
constexpr uint32_t kTileBytes = D / 64 * kAtomBytes<kTileKeys>;  // one layout tile of K or V
template <int D>
constexpr uint32_t kStageBytes = 2 * kTileBytes<D>;  // a step's K (or V): atoms of 128 keys x 64 dims
// Steps in flight: the one P V reads, the one S reads, and those the TMA fills ahead (D 128: 192 KiB of K and V).
template <int D>
constexpr int kStages = D == 64 ? 4 : 3;
template <int D>
constexpr size_t kBarrierBytes = 8 * (1 + 3 * kStages<D>);  // q_full, then k_full, v_full and empty per stage

// What the producer tells the consumers of a step, in shared memory next to the step's stage: its tiles (their spans'
// indices in the layout and tile indices; tile[1] < 0: no second tile). Written before the step's K copy is
// announced on its full barrier (a release the consumers' wait acquires), so that the consumers walk no cursor of
// their own: its registers are wanted for S, P and O (the three-warpgroup kernel has 160 a thread).
struct StepTiles {
  int64_t span[2];
  int32_t tile[2];
};
template <int D>
constexpr size_t kStepBytes = 16 + kStages<D> * sizeof(StepTiles);  // the row's step count, then one record a stage
template <int D, int Warpgroups>
constexpr size_t shared_bytes() {
  return 1024 + kQBytes<D, Warpgroups> + 2 * kStages<D> * size_t{kStageBytes<D>} + kBarrierBytes<D> +
         kStepBytes<D>;  // 1024: align the atoms
}
static_assert(shared_bytes<128, 2>() <= 227 * 1024 && shared_bytes<64, 3>() <= 227 * 1024, "fits one block per SM");

#if SATTN_CUDA_WGMMA
constexpr int kScores = kKeys / 2;  // S accumulators a consumer thread holds (64 rows x kKeys / 128 threads)

// The layout row's tiles two at a time: a step multiplies tile `first` and, if the row has one, tile `second`
// (the next in the row, anywhere in the keys); the last step of an odd count has no second.
struct TilePair {
  TileCursor first, second;

  __device__ static TilePair begin(const sattn_layout_view& layout, int64_t row) {
    TilePair pair{TileCursor::begin(layout, row), {}};
    pair.second = pair.first;
    if (pair.second.valid()) pair.second.advance();
    return pair;
  }
  __device__ bool valid() const { return first.valid(); }
  __device__ void advance() {
    first = second;
    if (first.valid()) first.advance();
    second = first;
    if (second.valid()) second.advance();
  }
};

// S = Q K^T for the warpgroup's 64 rows and a step's 128 keys, issued (not waited for): D / 16 steps of 16 head dims
// (Q's atoms hold the block's Rows rows).
template <int D, bool Bf16, int Rows>
__device__ inline void issue_scores(float (&s)[kScores], uint32_t q_address, uint32_t k_address) {
  wgmma_fence();
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    const uint32_t step = (ks % 4) * 32u;  // 16 head dims = 32 bytes into the atom
    const uint64_t a = smem_descriptor(q_address + ks / 4 * kAtomBytes<Rows> + step, 16, 1024);
    const uint64_t k = smem_descriptor(k_address + ks / 4 * kAtomBytes<kKeys> + step, 16, 1024);
    wgmma_ss_n128<Bf16>(s, a, k, ks > 0 ? 1 : 0);
  }
  wgmma_commit();
}

// O += P V for a step, issued (not waited for): P's fragments from registers, V transposed from shared memory (atoms
// of 64 head dims kAtomBytes<kKeys> apart, groups of 8 keys 1024 bytes apart).
template <int D, bool Bf16>
__device__ inline void issue_values(float (&o)[D / 2], const uint32_t (&probabilities)[kKeys / 16][4],
                                    uint32_t v_address) {
  wgmma_fence();
#pragma unroll
  for (int kv = 0; kv < kKeys / 16; ++kv) {
    const uint64_t v = smem_descriptor(v_address + kv * 2048, kAtomBytes<kKeys>, 1024);
    if constexpr (D == 128) {
      wgmma_rs_n128<Bf16>(o, probabilities[kv], v, 1);
    } else {
      wgmma_rs_n64<Bf16>(o, probabilities[kv], v, 1);
    }
  }
  wgmma_commit();
}

// The online softmax of a step's scores (masked by keep_bits: the first tile's 32 in the low word, the second's in
// the high; unscaled until the exponent's FMA), in place: updates the rows' maxima and denominators, turns the
// scores into probabilities and returns the factor the output accumulated so far must be scaled by.
__device__ inline void softmax_step(float (&s)[kScores], uint64_t keep_bits, float scale_log2, float (&m)[2],
                                    float (&l)[2], float (&correction)[2]) {
  if (keep_bits != ~uint64_t{0}) {
#pragma unroll
    for (int index = 0; index < kScores; ++index)
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
}

// The probabilities as the A fragments of P V (two neighbouring 8-key columns make one 16-key fragment).
template <bool Bf16>
__device__ inline void pack_probabilities(const float (&s)[kScores], uint32_t (&probabilities)[kKeys / 16][4]) {
#pragma unroll
  for (int kv = 0; kv < kKeys / 16; ++kv) {
    probabilities[kv][0] = pack<Bf16>(s[8 * kv + 0], s[8 * kv + 1]);
    probabilities[kv][1] = pack<Bf16>(s[8 * kv + 2], s[8 * kv + 3]);
    probabilities[kv][2] = pack<Bf16>(s[8 * kv + 4], s[8 * kv + 5]);
    probabilities[kv][3] = pack<Bf16>(s[8 * kv + 6], s[8 * kv + 7]);
  }
}

// Keep bits of a step for this thread's rows: the first tile's (its kind's fast paths), the second's or none.
__device__ inline uint64_t step_keep_bits(const KernelParams& p, const StepTiles& step, int64_t b, int64_t row0,
                                          int64_t hq, int quad) {
  // A cursor standing on each tile: tile_keep_bits reads only its span and tile.
  const auto at = [&](int half) {
    return TileCursor{p.layout.spans, step.span[half], step.span[half] + 1, step.tile[half]};
  };
  const uint64_t low = tile_keep_bits(p, at(0), b, row0, row0 + 8, hq, hq, quad);
  const uint64_t high = step.tile[1] >= 0 ? tile_keep_bits(p, at(1), b, row0, row0 + 8, hq, hq, quad) : 0u;
  return low | high << 32;
}

// Ping-pong of the two consumer warpgroups (named barriers 1 and 2, 256 threads each: one warpgroup syncs, the other
// arrives): a warpgroup issues its MMAs only after the other has issued its own, so that the tensor core tends to run
// one warpgroup's MMAs while the other exponentiates, rather than both warpgroups drifting into the same phase.
__device__ inline void mma_turn_wait(int warpgroup) {
  asm volatile("bar.sync %0, 256;\n" ::"r"(1 + warpgroup) : "memory");
}
__device__ inline void mma_turn_pass(int warpgroup) {
  asm volatile("bar.arrive %0, 256;\n" ::"r"(2 - warpgroup) : "memory");
}
#endif  // SATTN_CUDA_WGMMA

// One block per (query tile of 128 or 192 rows, query head, batch), warp-specialised: a producer warpgroup walks the
// layout row and has the TMA unit copy Q once and the K/V tiles, two per step (side by side: a 128-key operand), into
// a ring of stages; two or three consumer warpgroups (64 query rows each) only multiply and exponentiate. Full barriers
// (one per stage for K and one for V, so that S can start before V lands) carry the copies' byte counts; a stage's
// empty barrier collects one arrival per consumer warp once its P V has finished. The second half of a step without a
// second tile is copied from past the end of the keys: zeros, so that its P V adds nothing, and masked out of the
// softmax. A consumer step: issue S(j+1) and P V(j), wait for S(j+1), its softmax in place, wait for P V(j) (ptxas
// schedules this wait ahead of the softmax: it hoists wgmma waits to the top of their block, so the softmax overlaps
// the other warpgroup's MMAs), release stage j, rescale O, pack P(j+1). At D 128 the warpgroups take turns to issue
// their MMAs (ping-pong, below); at D 64 they never wait for each other.
template <int D, bool Bf16, int Warpgroups>
__global__ void __launch_bounds__(kThreads<Warpgroups>, 1)
    flash_wgmma_kernel(const __grid_constant__ TensorMaps maps, const KernelParams p) {
#if SATTN_CUDA_WGMMA
  constexpr int kRing = kStages<D>, kBlockRows = kRows<Warpgroups>, kConsumers = kConsumerThreads<Warpgroups>;
  extern __shared__ __align__(16) unsigned char shared_raw[];
  // The swizzle is a function of the shared address: atoms must start 1024-byte aligned.
  unsigned char* const q_tile = shared_raw + (1024 - shared_address(shared_raw) % 1024) % 1024;
  unsigned char* const k_stages = q_tile + kQBytes<D, Warpgroups>;
  unsigned char* const v_stages = k_stages + kRing * kStageBytes<D>;
  const uint32_t barriers = shared_address(v_stages + kRing * kStageBytes<D>);
  int32_t* const step_count = reinterpret_cast<int32_t*>(v_stages + kRing * kStageBytes<D> + kBarrierBytes<D>);
  StepTiles* const step_tiles = reinterpret_cast<StepTiles*>(reinterpret_cast<unsigned char*>(step_count) + 16);
  const auto q_full = [&] { return barriers; };
  const auto k_full = [&](int stage) { return barriers + 8u * (1 + stage); };
  const auto v_full = [&](int stage) { return barriers + 8u * (1 + kRing + stage); };
  const auto empty = [&](int stage) { return barriers + 8u * (1 + 2 * kRing + stage); };
  // The block's work item: (gridDim.x - 1 - x, y, z) in the default order (query tiles from the last, then heads,
  // then batches: blocks start in index order, so those running at one time share a head's K and V in L2); where
  // the plan moved the heavy rows to the front, the item its work order names at the block's index.
  int64_t qt = gridDim.x - 1 - blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  if (p.work_order != nullptr) {
    const int64_t q_tiles = gridDim.x;
    const int64_t item = p.work_order[blockIdx.x + q_tiles * (blockIdx.y + int64_t{gridDim.y} * blockIdx.z)];
    qt = q_tiles - 1 - item % q_tiles, hq = item / q_tiles % p.q_heads, b = item / q_tiles / p.q_heads;
  }
  const int64_t hk = hq / (p.q_heads / p.kv_heads), q0 = qt * kBlockRows;
  const int64_t layout_row = sattn_layout_row(&p.layout, b, hq, qt);
  if (threadIdx.x == 0) {
    barrier_init(q_full(), 1);
    for (int stage = 0; stage < kRing; ++stage) {
      barrier_init(k_full(stage), 1);
      barrier_init(v_full(stage), 1);
      barrier_init(empty(stage), kConsumers / 32);
    }
    barrier_init_fence();
  }
  __syncthreads();  // the last block-wide barrier: the producer's idle threads leave below

  if (threadIdx.x >= kConsumers) {  // the producer warpgroup; one thread issues every copy
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegisters<Warpgroups>));
    if (threadIdx.x != kConsumers) return;
    tma_prefetch_map(&maps.k);
    tma_prefetch_map(&maps.v);
    *step_count = static_cast<int32_t>((count_tiles(p.layout, layout_row) + 1) / 2);  // announced with Q
    barrier_expect_bytes(q_full(), kQBytes<D, Warpgroups>);
#pragma unroll
    for (int atom = 0; atom < D / 64; ++atom)
      tma_load_4d(shared_address(q_tile + atom * kAtomBytes<kBlockRows>), &maps.q, q_full(), atom * 64,
                  static_cast<int32_t>(q0), static_cast<int32_t>(hq), static_cast<int32_t>(b));
    // Rows from here on are past the end of the keys: a box there arrives as zeros.
    const int32_t past_end = static_cast<int32_t>((p.kv_len + kTileKeys - 1) / kTileKeys * kTileKeys);
    int n = 0;
    for (TilePair pair = TilePair::begin(p.layout, layout_row); pair.valid(); pair.advance(), ++n) {
      const int stage = n % kRing;
      barrier_wait(empty(stage), (n / kRing & 1) ^ 1);  // the consumers released this stage's last step
      const int32_t keys[2] = {static_cast<int32_t>(pair.first.tile * kTileKeys),
                               pair.second.valid() ? static_cast<int32_t>(pair.second.tile * kTileKeys) : past_end};
      StepTiles& tiles = step_tiles[stage];  // announced with K, below
      tiles.span[0] = pair.first.span, tiles.tile[0] = static_cast<int32_t>(pair.first.tile);
      tiles.span[1] = pair.second.valid() ? pair.second.span : 0;
      tiles.tile[1] = pair.second.valid() ? static_cast<int32_t>(pair.second.tile) : -1;
      // A step's K or V: both tiles' boxes of 64 head dims into the stage's 128-key atoms, counted on one barrier.
      const auto load_step = [&](unsigned char* stages, const void* map, uint32_t full) {
        barrier_expect_bytes(full, kStageBytes<D>);
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int atom = 0; atom < D / 64; ++atom)
            tma_load_4d(shared_address(stages + stage * kStageBytes<D> + atom * kAtomBytes<kKeys> +
                                       half * kAtomBytes<kTileKeys>),
                        map, full, atom * 64, keys[half], static_cast<int32_t>(hk), static_cast<int32_t>(b));
      };
      load_step(k_stages, &maps.k, k_full(stage));
      load_step(v_stages, &maps.v, v_full(stage));
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegisters<Warpgroups>));
  // Ping-pong at D 128 only: measured 1-2% faster on causal and sparse rows there (dense unchanged). At D 64 it was 2%
  // slower: the softmax takes as long as the MMAs, so waiting for a turn only idles the warpgroup.
  // The turn protocol is written for two warpgroups.
  constexpr bool PingPong = D == 128 && Warpgroups == 2;
  // Where a step's keep bits are computed. Three warpgroups (160 registers a thread): before the step's S is issued,
  // while S is not live, so that the masked kinds' code has its 64 registers to spare (ptxas spills 136 bytes
  // otherwise). Two warpgroups: after S has landed, with the softmax, where their loads overlap the other
  // warpgroup's MMAs (computed before the issue they measured 2-12% slower there: the issue waits for them).
  constexpr bool kEarlyKeepBits = Warpgroups == 3;
  const int warpgroup = static_cast<int>(threadIdx.x) / 128, warp = static_cast<int>(threadIdx.x) % 128 / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32, group = lane / 4, quad = lane % 4;
  const int64_t first_row = q0 + warpgroup * 64 + warp * 16 + group;  // this thread's rows: first_row and + 8
  const uint32_t q_address = shared_address(q_tile) + warpgroup * 64 * 128;
  const auto k_address = [&](int n) { return shared_address(k_stages + n % kRing * kStageBytes<D>); };
  const auto v_address = [&](int n) { return shared_address(v_stages + n % kRing * kStageBytes<D>); };
  const auto parity = [](int n) { return static_cast<uint32_t>(n / kRing & 1); };
  float o[D / 2];
#pragma unroll
  for (int x = 0; x < D / 2; ++x) o[x] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, correction[2];
  uint32_t probabilities[kKeys / 16][4];
  barrier_wait(q_full(), 0);
  const int steps = *step_count;
  if (PingPong && warpgroup == 1) mma_turn_pass(1);  // the first turn is warpgroup 0's
  if (steps > 0) {  // the first step's scores and probabilities: the pipeline's prologue
    float s[kScores];
    barrier_wait(k_full(0), 0);
    if (steps == 1) barrier_wait(v_full(0), 0);  // a single step: its V now (see the loop)
    uint64_t keep_bits = 0;
    if constexpr (kEarlyKeepBits) keep_bits = step_keep_bits(p, step_tiles[0], b, first_row, hq, quad);
    if (PingPong) mma_turn_wait(warpgroup);
    issue_scores<D, Bf16, kBlockRows>(s, q_address, k_address(0));
    if (PingPong) mma_turn_pass(warpgroup);
    wgmma_wait<0>();
    wgmma_fence_operands(s);
    if constexpr (!kEarlyKeepBits) keep_bits = step_keep_bits(p, step_tiles[0], b, first_row, hq, quad);
    softmax_step(s, keep_bits, p.scale_log2, m, l, correction);
    pack_probabilities<Bf16>(s, probabilities);
  }
  // Steps with a next step (n: the step whose P V this one issues): no branch around the MMAs, so that ptxas keeps
  // them asynchronous.
  int n = 0;
  for (; n + 1 < steps; ++n) {
    float s[kScores];
    // Both waits before either MMA: a spin loop between them would make ptxas serialise the wgmma pipeline. The
    // producer copies V(n) before K(n + 1), so the first wait costs nothing the second would not.
    barrier_wait(v_full(n % kRing), parity(n));
    barrier_wait(k_full((n + 1) % kRing), parity(n + 1));
    // The last step's V too: a wait between the loop and the last P V would make ptxas serialise every wgmma.
    if (n + 2 == steps) barrier_wait(v_full((n + 1) % kRing), parity(n + 1));
    uint64_t keep_bits = 0;
    if constexpr (kEarlyKeepBits) keep_bits = step_keep_bits(p, step_tiles[(n + 1) % kRing], b, first_row, hq, quad);
    if (PingPong) mma_turn_wait(warpgroup);
    issue_scores<D, Bf16, kBlockRows>(s, q_address, k_address(n + 1));
    issue_values<D, Bf16>(o, probabilities, v_address(n));
    if (PingPong) mma_turn_pass(warpgroup);
    wgmma_wait<1>();  // S of step n + 1 is done; P V of step n may still run
    wgmma_fence_operands(s);
    if constexpr (!kEarlyKeepBits) keep_bits = step_keep_bits(p, step_tiles[(n + 1) % kRing], b, first_row, hq, quad);
    softmax_step(s, keep_bits, p.scale_log2, m, l, correction);
    wgmma_wait<0>();
    wgmma_fence_operands(o);
    if (lane == 0) {
      barrier_arrive(empty(n % kRing));  // this warp is done with step n's K and V
    }
    // Rescale what O accumulated only where a row's maximum moved (rare after the first steps); warp-uniform.
    if (!__all_sync(0xffffffffu, correction[0] == 1.0f && correction[1] == 1.0f)) {
#pragma unroll
      for (int dn = 0; dn < D / 8; ++dn) {
        o[dn * 4 + 0] *= correction[0], o[dn * 4 + 1] *= correction[0];
        o[dn * 4 + 2] *= correction[1], o[dn * 4 + 3] *= correction[1];
      }
    }
    pack_probabilities<Bf16>(s, probabilities);
  }
  if (steps > 0) {  // the last step's P V (its V was waited for with its K: see the loop)
    if (PingPong) mma_turn_wait(warpgroup);
    issue_values<D, Bf16>(o, probabilities, v_address(n));
    if (PingPong) mma_turn_pass(warpgroup);
    wgmma_wait<0>();
    wgmma_fence_operands(o);
  }
  if (PingPong && warpgroup == 0) mma_turn_wait(0);  // takes warpgroup 1's last pass: no arrival left pending

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t i = first_row + 8 * h;
    const float sum = quad_sum(l[h]);
    if (i < p.q_len)
      store_output_row<D, Bf16>(p, b, hq, i, quad, sum, m[h], [&](int dn, int e) { return o[dn * 4 + 2 * h + e]; });
  }
#else
  (void)p;
#endif
}

template <int D, bool Bf16, int Warpgroups>
int launch(const KernelParams& p, const TensorMaps& maps, cudaStream_t stream) {
  constexpr int kBlockRows = kRows<Warpgroups>;
  const dim3 grid(static_cast<unsigned>((p.q_len + kBlockRows - 1) / kBlockRows), static_cast<unsigned>(p.q_heads),
                  static_cast<unsigned>(p.batch));
  flash_wgmma_kernel<D, Bf16, Warpgroups>
      <<<grid, kThreads<Warpgroups>, shared_bytes<D, Warpgroups>(), stream>>>(maps, p);
  return cudaGetLastError();
}

template <int D, bool Bf16, int Warpgroups>
int prepare() {
  return cudaFuncSetAttribute(flash_wgmma_kernel<D, Bf16, Warpgroups>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(shared_bytes<D, Warpgroups>()));
}

}  // namespace

int launch_flash_wgmma(const KernelParams& p, const TensorMaps& maps, void* stream) {
  if (p.q_len == 0) return cudaSuccess;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  return with_variant(p.head_dim, p.dtype == SATTN_DTYPE_BF16, [&](auto d, auto bf16) {
    constexpr int D = decltype(d)::value;
    constexpr bool Bf16 = decltype(bf16)::value;
    if constexpr (D == 64) {  // wide_tiles_supported: only D 64 has the three-warpgroup kernel
      if (p.layout.tile_q == kTileQWide) return launch<D, Bf16, 3>(p, maps, s);
    }
    return launch<D, Bf16, 2>(p, maps, s);
  });
}

int prepare_flash_wgmma() {
  return for_each_variant([](auto d, auto bf16) {
    constexpr int D = decltype(d)::value;
    constexpr bool Bf16 = decltype(bf16)::value;
    int status = prepare<D, Bf16, 2>();
    if constexpr (D == 64) {
      if (status == cudaSuccess) status = prepare<D, Bf16, 3>();
    }
    return status;
  });
}

}  // namespace sattn_cuda
