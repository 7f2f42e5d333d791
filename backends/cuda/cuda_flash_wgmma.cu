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

#include <algorithm>

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
// 512-thread one for 128, too few for a consumer's S, O and P; the producer gives most of its share away. The block
// keeps the registers it was launched with: the consumers' setmaxnreg.inc waits until the producer's .dec has freed
// what it asks for, so the two shares must fit in the launch's allocation, not merely in the register file (asking
// for more waits forever).
template <int Warpgroups>
constexpr int kLaunchRegisters = 65536 / kThreads<Warpgroups> / 8 * 8;
template <int Warpgroups>
constexpr int kProducerRegisters = Warpgroups == 2 ? 40 : 32;
template <int Warpgroups>
constexpr int kConsumerRegisters = Warpgroups == 2 ? 232 : 160;
template <int Warpgroups>
constexpr bool registers_fit() {
  return 128 * kProducerRegisters<Warpgroups> + kConsumerThreads<Warpgroups> * kConsumerRegisters<Warpgroups> <=
         kThreads<Warpgroups> * kLaunchRegisters<Warpgroups>;
}
static_assert(registers_fit<2>() && registers_fit<3>(), "both shares fit in the registers the block is launched with");
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
constexpr size_t kBarrierBytes = 8 * (2 + 3 * kStages<D>);  // q_full, q_empty, then k_full, v_full, empty a stage

// What the producer tells the consumers of a step, in shared memory next to the step's stage: its tiles (their spans'
// indices in the layout and tile indices; tile[1] < 0: no second tile). Written before the step's K copy is
// announced on its full barrier (a release the consumers' wait acquires), so that the consumers walk no cursor of
// their own: its registers are wanted for S, P and O (the three-warpgroup kernel has 160 a thread).
struct StepTiles {
  int64_t span[2];
  int32_t tile[2];
};
// A work item as the producer hands it to the consumers with its Q: the row's step count (< 0: no item is left, the
// block is done), its query tile, head and batch. kItemSlots slots, an item's at its ordinal modulo kItemSlots: the
// producer writes item j's record when it starts the item, having waited only for the consumers to finish item
// j - 2's steps, so they may still read j - 2's record (its epilogue) and j - 1's: three slots at least.
struct WorkItem {
  int32_t steps, q_tile, head, batch;
};
constexpr int kItemSlots = 4;
// A step's place in the ring of stages: its stage and the parity its barriers have in the ring's current round.
// Carried from step to step (and across items) rather than derived from a running step count, which costs a signed
// division and modulo by the stage count four times a step: measured 3-6% faster at D 64 (docs/performance.md).
template <int Stages>
struct RingSlot {
  int stage;
  uint32_t parity;
  __device__ RingSlot next() const {
    return stage + 1 == Stages ? RingSlot{0, parity ^ 1u} : RingSlot{stage + 1, parity};
  }
};
template <int D>
constexpr size_t kStepBytes = kItemSlots * sizeof(WorkItem) + kStages<D> * sizeof(StepTiles);
template <int D, int Warpgroups>
constexpr size_t shared_bytes() {
  return 1024 + kQBytes<D, Warpgroups> + 2 * kStages<D> * size_t{kStageBytes<D>} + kBarrierBytes<D> +
         kStepBytes<D>;  // 1024: align the atoms
}
static_assert(shared_bytes<128, 2>() <= 227 * 1024 && shared_bytes<64, 3>() <= 227 * 1024, "fits one block per SM");

#if SATTN_CUDA_WGMMA
constexpr int kScores = kKeys / 2;  // S accumulators a consumer thread holds (64 rows x kKeys / 128 threads)

// The producer's walk over a layout row's tiles in ascending order (TileCursor's, in fewer registers: the producer
// has 40 or 32 of them, and its spans come from the kernel's parameters).
struct RowTiles {
  int64_t span, span_end;
  int32_t tile, tile_end;

  __device__ static RowTiles begin(const sattn_layout_view& layout, int64_t row) {
    RowTiles walk{layout.row_ptr[row] - 1, layout.row_ptr[row + 1], 0, 0};
    walk.next_span(layout.spans);
    return walk;
  }
  __device__ bool valid() const { return span < span_end; }
  __device__ void advance(const sattn_tile_span* spans) {
    if (++tile >= tile_end) next_span(spans);
  }

 private:
  __device__ void next_span(const sattn_tile_span* spans) {  // to the next span with tiles (empty ones are skipped)
    while (++span < span_end && spans[span].k_begin >= spans[span].k_end) {
    }
    if (span < span_end)
      tile = static_cast<int32_t>(spans[span].k_begin), tile_end = static_cast<int32_t>(spans[span].k_end);
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

// The first of this consumer thread's two query rows (the other is 8 below) in its block's tile, from the thread
// index: recomputed where needed rather than held in a register across the item.
__device__ inline int thread_row() {
  const int t = static_cast<int>(threadIdx.x);
  return t / 128 * 64 + t % 128 / 32 * 16 + t % 32 / 4;
}

// The item's batch, head and this thread's first row, read from the item's record in shared memory where they are
// used (volatile: ptxas would otherwise keep them in registers across the item's steps, which the three-warpgroup
// kernel's 160 a thread cannot spare).
struct ItemRows {
  int64_t b, hq, row0;
  template <int Rows>
  __device__ static ItemRows read(const WorkItem& record) {
    const volatile WorkItem& item = record;
    return {item.batch, item.head, int64_t{item.q_tile} * Rows + thread_row()};
  }
};

// Keep bits of a step for this thread's rows: the first tile's (its kind's fast paths), the second's or none.
template <int Rows>
__device__ inline uint64_t step_keep_bits(const KernelParams& p, const StepTiles& step, const WorkItem& item,
                                          int quad) {
  // A cursor standing on each tile: tile_keep_bits reads only its span and tile.
  const auto at = [&](int half) {
    return TileCursor{p.layout.spans, step.span[half], step.span[half] + 1, step.tile[half]};
  };
  // Whole tiles (most of a dense or causal row's) need neither the item's rows nor its head: the item record is
  // read only past this test (read on every step, it made dense 5% slower than the kernel that ran one block per item).
  const bool second = step.tile[1] >= 0;
  if (tile_is_whole(p, at(0)) && (!second || tile_is_whole(p, at(1)))) return second ? ~uint64_t{0} : 0xffffffffu;
  const ItemRows at_item = ItemRows::read<Rows>(item);
  const int64_t b = at_item.b, hq = at_item.hq, row0 = at_item.row0;
  const uint64_t low = tile_keep_bits(p, at(0), b, row0, row0 + 8, hq, hq, quad);
  const uint64_t high = second ? tile_keep_bits(p, at(1), b, row0, row0 + 8, hq, hq, quad) : 0u;
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

// One resident block per SM (a persistent grid), warp-specialised, taking work items (a query tile of 128 or 192
// rows, a query head, a batch) until none are left: a producer warpgroup walks each item's layout row and has the
// TMA unit copy its Q and its K/V tiles, two per step (side by side: a 128-key operand), into a ring of stages that
// runs on across items; two or three consumer warpgroups (64 query rows each) only multiply and exponentiate. Full
// barriers (one per stage for K and one for V, so that S can start before V lands) carry the copies' byte counts; a
// stage's empty barrier collects one arrival per consumer warp once its P V has finished, Q's once the item's last S
// has. So the next item's first K/V steps land while the consumers finish the current item, and its Q while they run
// the last P V and store O: a block no longer starts cold (about 7 us a block for short sparse rows, measured when
// blocks were items: docs/performance.md). The second half of a step without a second tile is copied from past the
// end of the keys: zeros, so that its P V adds nothing, and masked out of the softmax. A consumer step: issue
// S(j+1) and P V(j), wait for S(j+1), its softmax in place, wait for P V(j) (ptxas schedules this wait ahead of the
// softmax: it hoists wgmma waits to the top of their block, so the softmax overlaps the other warpgroup's MMAs),
// release stage j, rescale O, pack P(j+1). At D 128 the warpgroups take turns to issue their MMAs (ping-pong,
// below); at D 64 they never wait for each other.
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
  WorkItem* const work_items = reinterpret_cast<WorkItem*>(v_stages + kRing * kStageBytes<D> + kBarrierBytes<D>);
  StepTiles* const step_tiles = reinterpret_cast<StepTiles*>(work_items + kItemSlots);
  const auto q_full = [&] { return barriers; };
  const auto q_empty = [&] { return barriers + 8u; };
  const auto k_full = [&](int stage) { return barriers + 8u * (2 + stage); };
  const auto v_full = [&](int stage) { return barriers + 8u * (2 + kRing + stage); };
  const auto empty = [&](int stage) { return barriers + 8u * (2 + 2 * kRing + stage); };
  if (threadIdx.x == 0) {
    barrier_init(q_full(), 1);
    barrier_init(q_empty(), kConsumers / 32);
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
    tma_prefetch_map(&maps.q);
    tma_prefetch_map(&maps.k);
    tma_prefetch_map(&maps.v);
    // 32-bit item arithmetic (launch_flash takes this kernel only for fewer than 2^31 items): 64-bit divisions
    // would cost more registers than the producer has.
    const auto q_tiles = static_cast<uint32_t>((p.q_len + kBlockRows - 1) / kBlockRows);
    const auto heads = static_cast<uint32_t>(p.q_heads), items = q_tiles * heads * static_cast<uint32_t>(p.batch);
    // Rows from here on are past the end of the keys: a box there arrives as zeros.
    const int32_t past_end = static_cast<int32_t>((p.kv_len + kTileKeys - 1) / kTileKeys * kTileKeys);
    RingSlot<kRing> ring{0, 0};  // the next step's
    int taken = 0;
    // Items in the default order (query tiles from the last, then heads, then batches: the blocks running at one
    // time share a head's K and V in L2), or the plan's work order (heavy rows first), taken one at a time from
    // the run's counter: the block's first item is its index, the rest go to whichever block is free first.
    for (uint32_t position = blockIdx.x; position < items; ++taken) {
      const uint32_t item = p.work_order != nullptr ? static_cast<uint32_t>(p.work_order[position]) : position;
      const auto qt = static_cast<int32_t>(q_tiles - 1 - item % q_tiles);
      const auto hq = static_cast<int32_t>(item / q_tiles % heads), b = static_cast<int32_t>(item / q_tiles / heads);
      const auto hk = static_cast<int32_t>(hq / (p.q_heads / p.kv_heads));
      const int64_t layout_row = sattn_layout_row(&p.layout, b, hq, qt);
      // The item for the consumers (in a slot none of them still reads: kItemSlots), announced by the arrival that
      // completes with its Q.
      work_items[taken % kItemSlots] =
          WorkItem{static_cast<int32_t>((count_tiles(p.layout, layout_row) + 1) / 2), qt, hq, b};
      RowTiles walk = RowTiles::begin(p.layout, layout_row);
      const auto copy_step = [&] {  // the walk's next one or two tiles
        const int stage = ring.stage;
        barrier_wait(empty(stage), ring.parity ^ 1u);  // the consumers released this stage's last step
        StepTiles& tiles = step_tiles[stage];          // announced with K, below
        tiles.span[0] = walk.span, tiles.tile[0] = walk.tile;
        int32_t keys[2] = {walk.tile * kTileKeys, past_end};
        walk.advance(p.layout.spans);
        tiles.span[1] = 0, tiles.tile[1] = -1;
        if (walk.valid()) {
          tiles.span[1] = walk.span, tiles.tile[1] = walk.tile;
          keys[1] = walk.tile * kTileKeys;
          walk.advance(p.layout.spans);
        }
        // A step's K or V: both tiles' boxes of 64 head dims into the stage's 128-key atoms, counted on one barrier.
        const auto load_step = [&](unsigned char* stages, const void* map, uint32_t full) {
          barrier_expect_bytes(full, kStageBytes<D>);
#pragma unroll
          for (int half = 0; half < 2; ++half)
#pragma unroll
            for (int atom = 0; atom < D / 64; ++atom)
              tma_load_4d(shared_address(stages + stage * kStageBytes<D> + atom * kAtomBytes<kKeys> +
                                         half * kAtomBytes<kTileKeys>),
                          map, full, atom * 64, keys[half], hk, b);
        };
        load_step(k_stages, &maps.k, k_full(stage));
        load_step(v_stages, &maps.v, v_full(stage));
        ring = ring.next();
      };
      // The item's first steps go ahead of its Q: the stages they need are freed during the previous item's steps,
      // while Q is in use until the previous item's last S. The block's first item has no previous one: its Q, which
      // the first S needs with the first K, goes first.
      for (int ahead = 0; taken > 0 && ahead < kRing - 1 && walk.valid(); ++ahead) copy_step();
      if (taken > 0) barrier_wait(q_empty(), (taken - 1) & 1);
      barrier_expect_bytes_only(q_full(), kQBytes<D, Warpgroups>);
      const WorkItem& work =
          work_items[taken % kItemSlots];  // read back: its fields need no registers across the steps above
#pragma unroll
      for (int atom = 0; atom < D / 64; ++atom)
        tma_load_4d(shared_address(q_tile + atom * kAtomBytes<kBlockRows>), &maps.q, q_full(), atom * 64,
                    work.q_tile * kBlockRows, work.head, work.batch);
      barrier_arrive(q_full());  // releases the item record written above: it completes with Q
      while (walk.valid()) copy_step();
      // The next item, asked for once this one's copies are issued (earlier, a block could hold an item while
      // another has none left; the atomic's latency hides behind the steps in the ring).
      position = p.work_counter != nullptr ? gridDim.x + atomicAdd(p.work_counter, 1u) : position + gridDim.x;
    }
    if (taken > 0) barrier_wait(q_empty(), (taken - 1) & 1);  // the consumers passed the last item's phase of q_full
    work_items[taken % kItemSlots].steps = -1;                // no item left
    barrier_arrive(q_full());
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegisters<Warpgroups>));
  // Ping-pong at D 128 only: measured 1-2% faster on causal and sparse rows there (dense unchanged). At D 64 it was 2%
  // slower: the softmax takes as long as the MMAs, so waiting for a turn only idles the warpgroup.
  // The turn protocol is written for two warpgroups. Both warpgroups issue as many times per item, so the turns run
  // on across items: the first pass before the first item, the last wait after the last.
  constexpr bool PingPong = D == 128 && Warpgroups == 2;
  // Where a step's keep bits are computed. Three warpgroups (160 registers a thread): before the step's S is issued,
  // while S is not live, so that the masked kinds' code has its 64 registers to spare (ptxas spills 136 bytes
  // otherwise). Two warpgroups: after S has landed, with the softmax, where their loads overlap the other
  // warpgroup's MMAs (computed before the issue they measured 2-12% slower there: the issue waits for them).
  constexpr bool kEarlyKeepBits = Warpgroups == 3;
  const int warpgroup = static_cast<int>(threadIdx.x) / 128;
  const int lane = static_cast<int>(threadIdx.x) % 32, quad = lane % 4;
  const uint32_t q_address = shared_address(q_tile) + warpgroup * 64 * 128;
  const auto k_address = [&](int stage) { return shared_address(k_stages + stage * kStageBytes<D>); };
  const auto v_address = [&](int stage) { return shared_address(v_stages + stage * kStageBytes<D>); };
  if (PingPong && warpgroup == 1) mma_turn_pass(1);  // the first turn is warpgroup 0's
  RingSlot<kRing> first{0, 0};                       // the item's first step's
  for (int taken = 0;; ++taken) {
    barrier_wait(q_full(), taken & 1);
    const int steps = work_items[taken % kItemSlots].steps;
    if (steps < 0) break;
    const WorkItem& item = work_items[taken % kItemSlots];  // its fields are read where used (ItemRows)
    float o[D / 2];
#pragma unroll
    for (int x = 0; x < D / 2; ++x) o[x] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, correction[2];
    uint32_t probabilities[kKeys / 16][4];
    if (steps > 0) {  // the first step's scores and probabilities: the pipeline's prologue
      float s[kScores];
      barrier_wait(k_full(first.stage), first.parity);
      if (steps == 1) barrier_wait(v_full(first.stage), first.parity);  // a single step: its V now (see the loop)
      uint64_t keep_bits = 0;
      if constexpr (kEarlyKeepBits) keep_bits = step_keep_bits<kBlockRows>(p, step_tiles[first.stage], item, quad);
      if (PingPong) mma_turn_wait(warpgroup);
      issue_scores<D, Bf16, kBlockRows>(s, q_address, k_address(first.stage));
      if (PingPong) mma_turn_pass(warpgroup);
      wgmma_wait<0>();
      wgmma_fence_operands(s);
      if constexpr (!kEarlyKeepBits) keep_bits = step_keep_bits<kBlockRows>(p, step_tiles[first.stage], item, quad);
      softmax_step(s, keep_bits, p.scale_log2, m, l, correction);
      pack_probabilities<Bf16>(s, probabilities);
    }
    // Steps with a next step (`step`: the one whose P V this one issues, `next`: the one whose S it issues): no
    // branch around the MMAs, so that ptxas keeps them asynchronous.
    const bool any_step = steps > 0;
    RingSlot<kRing> step = first;
    for (int remaining = steps - 1; remaining > 0; --remaining) {
      const RingSlot<kRing> next = step.next();
      float s[kScores];
      // Both waits before either MMA: a spin loop between them would make ptxas serialise the wgmma pipeline. The
      // producer copies V(step) before K(next), so the first wait costs nothing the second would not.
      barrier_wait(v_full(step.stage), step.parity);
      barrier_wait(k_full(next.stage), next.parity);
      // The last step's V too: a wait between the loop and the last P V would make ptxas serialise every wgmma.
      if (remaining == 1) barrier_wait(v_full(next.stage), next.parity);
      uint64_t keep_bits = 0;
      if constexpr (kEarlyKeepBits) keep_bits = step_keep_bits<kBlockRows>(p, step_tiles[next.stage], item, quad);
      if (PingPong) mma_turn_wait(warpgroup);
      issue_scores<D, Bf16, kBlockRows>(s, q_address, k_address(next.stage));
      issue_values<D, Bf16>(o, probabilities, v_address(step.stage));
      if (PingPong) mma_turn_pass(warpgroup);
      wgmma_wait<1>();  // S of the next step is done; P V of this one may still run
      wgmma_fence_operands(s);
      if constexpr (!kEarlyKeepBits) keep_bits = step_keep_bits<kBlockRows>(p, step_tiles[next.stage], item, quad);
      softmax_step(s, keep_bits, p.scale_log2, m, l, correction);
      wgmma_wait<0>();
      wgmma_fence_operands(o);
      if (lane == 0) {
        barrier_arrive(empty(step.stage));  // this warp is done with this step's K and V
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
      step = next;
    }
    if (lane == 0) barrier_arrive(q_empty());  // this warp's S are all done: the next item's Q may come
    if (any_step) {                            // the last step's P V (its V was waited for with its K: see the loop)
      if (PingPong) mma_turn_wait(warpgroup);
      issue_values<D, Bf16>(o, probabilities, v_address(step.stage));
      if (PingPong) mma_turn_pass(warpgroup);
      wgmma_wait<0>();
      wgmma_fence_operands(o);
      if (lane == 0) barrier_arrive(empty(step.stage));
      first = step.next();  // the next item's first step
    }
    const ItemRows rows = ItemRows::read<kBlockRows>(item);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t i = rows.row0 + 8 * h;
      const float sum = quad_sum(l[h]);
      if (i < p.q_len)
        store_output_row<D, Bf16>(p, rows.b, rows.hq, i, quad, sum, m[h],
                                  [&](int dn, int e) { return o[dn * 4 + 2 * h + e]; });
    }
  }
  if (PingPong && warpgroup == 0) mma_turn_wait(0);  // takes warpgroup 1's last pass: no arrival left pending
#else
  (void)p;
#endif
}

// The persistent grid: one block per SM, or per item where there are fewer. The items' counter starts at zero
// every run (the memset is stream-ordered, so a captured graph replays it).
template <int D, bool Bf16, int Warpgroups>
int launch(const KernelParams& p, const TensorMaps& maps, cudaStream_t stream) {
  constexpr int kBlockRows = kRows<Warpgroups>;
  const int64_t items = (p.q_len + kBlockRows - 1) / kBlockRows * p.q_heads * p.batch;
  const int64_t blocks = p.multiprocessors > 0 ? std::min<int64_t>(items, p.multiprocessors) : items;
  if (p.work_counter != nullptr) {
    const int status = cudaMemsetAsync(p.work_counter, 0, sizeof *p.work_counter, stream);
    if (status != cudaSuccess) return status;
  }
  flash_wgmma_kernel<D, Bf16, Warpgroups>
      <<<static_cast<unsigned>(blocks), kThreads<Warpgroups>, shared_bytes<D, Warpgroups>(), stream>>>(maps, p);
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
