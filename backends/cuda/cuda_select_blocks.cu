// Block patterns selected on the device: block_mask (the caller's u8 block mask, a device tensor) and block_topk
// (selection from Q and K per (batch, kv head, query block), docs/patterns.md). Both end in a block mask on the device
// — the caller's, or the kept blocks block_topk chose, in the workspace — from which one layout is built for the
// kernels' 128 x 64 tiles: per layout row, a tile whose every (query block, key block) pair is kept becomes FULL (or
// CAUSAL where the diagonal cuts it, nothing past it), a tile with none kept and no global element is left out, and
// a mixed tile is kTileBlockMask, which the kernels evaluate per element from the mask (tile_keeps). With block sizes
// that are multiples of 128 no tile is mixed. One launch builds the layout (build_layout_kernel): rows count their
// spans, a single-pass scan turns the counts into row pointers, and the rows write their spans: all on the stream,
// nothing on the host.
//
// block_topk's selection reproduces the core's (src/layout/rule_block_topk.cpp) bit for bit: block means summed in
// fp32 in row order and divided by the count, the query block mean summed over the G heads then rows, scores as
// sequential fp32 products and sums without fused multiply-adds, ties to the lower block and NaN ranked lowest.
#include <algorithm>
#include <cmath>
#include <string>

#include "cuda_device.cuh"
#include "cuda_plan.hpp"
#include "cuda_select.hpp"

namespace sattn_cuda {
namespace {

constexpr int kThreads = 128;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// What the layout builder reads: the block mask and the layout's geometry.
struct BlockLayoutInput {
  const uint8_t* mask;
  int64_t mask_stride[4];     // zero strides broadcast the batch or head dimension
  int64_t mask_head_divisor;  // layout head h reads mask head h (block_mask) or is the kv head (block_topk)
  int64_t block;              // the pattern's block size
  uint32_t key_block;         // the same, at most kv_len: for 32-bit key arithmetic
  int64_t rows, batches, heads, q_tiles, k_tiles, q_len, kv_len;
  int64_t q_offset, global_tokens;
  int32_t causal;
};

// A layout row's geometry, worked out once a row: the mask at its first query block and key block 0, the query
// blocks its rows cover and its query rows. The per-tile arithmetic below is 32-bit (the plan refuses kv_len past
// 2^31 - 1): a 64-bit division costs about 80 instructions on the GPU, and four of them a tile made the layout build
// instruction-bound (counting 14 us, writing 19 us for 4096 rows of 128 tiles, Nsight Compute).
struct LayoutRow {
  const uint8_t* mask;
  int64_t q0, q1;
  int32_t query_blocks;
};

__device__ inline LayoutRow layout_row(const BlockLayoutInput& in, int64_t row) {
  const int64_t qt = row % in.q_tiles, h = row / in.q_tiles % in.heads, b = row / (in.q_tiles * in.heads);
  const int64_t q0 = qt * kTileQ, q1 = min(in.q_len, q0 + kTileQ), first = q0 / in.block, last = (q1 - 1) / in.block;
  return LayoutRow{in.mask + b * in.mask_stride[0] + h * in.mask_stride[1] + first * in.mask_stride[2], q0, q1,
                   static_cast<int32_t>(last - first + 1)};
}

// The kind of tile kt of a layout row, or -1 when it keeps nothing.
__device__ int32_t classify_tile(const BlockLayoutInput& in, const LayoutRow& row, int64_t kt) {
  const int64_t k0 = kt * kTileK, k1 = min(in.kv_len, k0 + kTileK);
  if (in.causal && k0 > row.q1 - 1 + in.q_offset) return -1;  // every key past every row's position
  const auto first = static_cast<uint32_t>(k0) / in.key_block, last = static_cast<uint32_t>(k1 - 1) / in.key_block;
  bool all = true, any = false;
  for (int32_t qb = 0; qb < row.query_blocks; ++qb)
    for (uint32_t kb = first; kb <= last; ++kb) {
      const bool kept = row.mask[qb * in.mask_stride[2] + kb * in.mask_stride[3]] != 0;
      all = all && kept, any = any || kept;
    }
  const bool cut = in.causal && k1 - 1 > row.q0 + in.q_offset;  // the diagonal crosses the tile
  if (all) return cut ? SATTN_TILE_CAUSAL : SATTN_TILE_FULL;
  const bool global = in.global_tokens > 0 && (k0 < in.global_tokens || row.q0 + in.q_offset < in.global_tokens);
  return any || global ? kTileBlockMask : -1;
}

// The spans of a layout row, one warp per row: lanes classify 32 tiles at a time; a tile whose kind differs from its
// left neighbour's starts a span, one whose kind differs from its right neighbour's ends it, and ballots number the
// starts. Returns the row's span count; writes the spans when `spans` is set.
__device__ int64_t row_spans(const BlockLayoutInput& in, int64_t row, sattn_tile_span* spans) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const LayoutRow at = layout_row(in, row);
  const uint32_t below = (1u << lane) - 1u;  // lanes before this one
  int64_t count = 0;
  int32_t carry = -1;  // the kind of the last tile of the previous 32
  for (int64_t kt0 = 0; kt0 < in.k_tiles; kt0 += 32) {
    const int64_t kt = kt0 + lane;
    const int32_t kind = kt < in.k_tiles ? classify_tile(in, at, kt) : -1;
    int32_t previous = __shfl_up_sync(0xffffffffu, kind, 1), next = __shfl_down_sync(0xffffffffu, kind, 1);
    if (lane == 0) previous = carry;
    if (lane == 31) next = kt + 1 < in.k_tiles ? classify_tile(in, at, kt + 1) : -1;
    const bool start = kind >= 0 && kind != previous, end = kind >= 0 && kind != next;
    const uint32_t starts = __ballot_sync(0xffffffffu, start);
    if (spans != nullptr) {
      if (start)
        spans[count + __popc(starts & below)] =
            sattn_tile_span{static_cast<int32_t>(kt), static_cast<int32_t>(kt + 1), kind, 0, 0};
      __syncwarp();
      // The span this tile belongs to: the last one started at or before it (maybe in an earlier 32).
      if (end) spans[count + __popc(starts & (below | (1u << lane))) - 1].k_end = static_cast<int32_t>(kt + 1);
    }
    count += __popc(starts);
    carry = __shfl_sync(0xffffffffu, kind, 31);
  }
  return count;
}

// The layout in one launch, kLayoutRows rows a thread block (one warp a row). A block's rows need the span count of
// every row before them: decoupled look-back, in place of a device-wide scan between a counting and a writing launch
// (with the 32-bit tile arithmetic above: 10-16 us less a run on an H100, docs/performance.md). Each block
// publishes its rows' total, then the running total through it, in one 64-bit word per block (flag and value
// together, so that one load sees both); a block adds its predecessors' words, 32 at a time, back to the nearest
// running total. Blocks take their index from a counter in the order they start, so every block a block waits for
// is already resident and publishes without waiting itself: no deadlock whatever order the GPU starts them in.
constexpr int kLayoutRows = 32;
constexpr int kLayoutThreads = 32 * kLayoutRows;
constexpr uint64_t kPublishedTotal = uint64_t{1} << 62;    // the block's own rows' spans
constexpr uint64_t kPublishedRunning = uint64_t{2} << 62;  // the spans of every row up to the block's last
constexpr uint64_t kPublishedValue = kPublishedTotal - 1;

// The look-back's state in the workspace: one word a block, then the counter handing out block indices; zeroed on
// the stream before each build (zero: nothing published).
struct LayoutScan {
  unsigned long long* words;  // [blocks + 1]
  int64_t blocks;
  __device__ unsigned long long* published(int64_t block) const { return words + block; }
  __device__ unsigned long long* ticket() const { return words + blocks; }
};

__device__ inline void publish(unsigned long long* word, uint64_t value) {
  atomicExch(word, static_cast<unsigned long long>(value));
}

// The spans of the rows before block `index`'s, by warp 0 (the same value in every lane); publishes the block's
// running total (before + total).
__device__ int64_t spans_before(const LayoutScan& scan, int64_t index, int64_t total) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  if (index == 0) {
    if (lane == 0) publish(scan.published(0), kPublishedRunning | static_cast<uint64_t>(total));
    return 0;
  }
  if (lane == 0) publish(scan.published(index), kPublishedTotal | static_cast<uint64_t>(total));
  int64_t before = 0;
  for (int64_t window = index - 1;; window -= 32) {  // lane l reads block window - l
    const int64_t block = window - lane;
    uint64_t word = kPublishedRunning;  // before block 0: nothing
    if (block >= 0) {
      const volatile unsigned long long* const at = scan.published(block);
      do {
        word = *at;
      } while ((word & ~kPublishedValue) == 0);
    }
    const uint32_t running = __ballot_sync(0xffffffffu, (word & ~kPublishedValue) == kPublishedRunning);
    const int nearest = running != 0 ? __ffs(static_cast<int>(running)) - 1 : 31;  // the lanes up to it count
    int64_t value = lane <= nearest ? static_cast<int64_t>(word & kPublishedValue) : 0;
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
    before += value;
    if (running != 0) break;
  }
  if (lane == 0) publish(scan.published(index), kPublishedRunning | static_cast<uint64_t>(before + total));
  return before;
}

__global__ void __launch_bounds__(kLayoutThreads)
    build_layout_kernel(const BlockLayoutInput in, const LayoutScan scan, int64_t* row_ptr, sattn_tile_span* spans) {
  __shared__ int64_t block_index;
  __shared__ int64_t row_start[kLayoutRows];
  if (threadIdx.x == 0) block_index = static_cast<int64_t>(atomicAdd(scan.ticket(), 1ull));
  __syncthreads();
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t row = block_index * kLayoutRows + warp;
  const int64_t count = row < in.rows ? row_spans(in, row, nullptr) : 0;
  if (lane == 0) row_start[warp] = count;
  __syncthreads();
  if (warp == 0) {  // the block's rows' starts: an exclusive scan of their counts after the rows before them
    const int64_t mine = row_start[lane];
    int64_t inclusive = mine;
#pragma unroll
    for (int offset = 1; offset < 32; offset *= 2) {
      const int64_t up = __shfl_up_sync(0xffffffffu, inclusive, offset);
      if (lane >= offset) inclusive += up;
    }
    const int64_t before = spans_before(scan, block_index, __shfl_sync(0xffffffffu, inclusive, 31));
    row_start[lane] = before + inclusive - mine;
  }
  __syncthreads();
  if (row < in.rows) {
    const int64_t start = row_start[warp];
    if (lane == 0) row_ptr[row] = start;
    if (lane == 0 && row == in.rows - 1) row_ptr[in.rows] = start + count;
    row_spans(in, row, spans + start);
  }
  if (in.rows == 0 && block_index == 0 && threadIdx.x == 0) row_ptr[0] = 0;
}

// ---- block_topk selection ----------------------------------------------------------------------------------------

struct TopkInput {
  float* qbar;         // [B, Hk, q_blocks, D]
  float* block_means;  // [B, Hk, D, k_blocks]: channel-major
  float* comp_means;   // [B, Hk, D, comp_blocks], or null without compression
  float* scores;       // [B, Hk, q_blocks, k_blocks], where they do not fit in shared memory
  float* comp_dots;    // [B, Hk, q_blocks, comp_blocks], or null without compression
  uint8_t* kept;       // [B, Hk, q_blocks, k_blocks]
  int64_t block, comp, q_blocks, k_blocks, comp_blocks, global_blocks, topk_blocks;
  float keep_ratio;
};

// Block means run at memory speed: a thread sums kMeanChannels neighbouring channels of one block (independent
// chains, each in row order: the core's rounding), with one 4-byte load per row where the operand allows (a warp
// then reads 128 contiguous bytes of a row), and kMeanRowsInFlight rows' loads in flight before their sums. Few
// channels per thread keep registers low, so that every block's threads are resident at once.
constexpr int kMeanChannels = 2;
constexpr int kMeanRowsInFlight = 8;

struct MeanSource {
  Operand t;
  int32_t dtype;
  bool vector;  // 16-bit elements, unit channel stride, 4-byte aligned rows and channel pairs: one load per row
};

MeanSource mean_source(const Operand& t, int32_t dtype, int64_t head_dim) {
  const bool vector = dtype != SATTN_DTYPE_F32 && t.stride[3] == 1 && head_dim % kMeanChannels == 0 &&
                      reinterpret_cast<uintptr_t>(t.data) % 4 == 0 && t.stride[0] % 2 == 0 && t.stride[1] % 2 == 0 &&
                      t.stride[2] % 2 == 0;
  return MeanSource{t, dtype, vector};
}

// Row r of head h at channels [d, d + kMeanChannels), raw: the 16-bit pair as one word (Vector), else the
// channels already as floats (zeros past head_dim). Raw loads let a batch of rows be in flight before any
// conversion waits on them.
template <bool Vector>
struct RawChannels;
template <>
struct RawChannels<true> {
  uint32_t word;
};
template <>
struct RawChannels<false> {
  float x[kMeanChannels];
};

template <bool Vector>
__device__ inline RawChannels<Vector> load_channels(const MeanSource& s, int64_t b, int64_t h, int64_t r, int64_t d,
                                                    int64_t head_dim) {
  const int64_t base = row_offset(s.t, b, h, r) + d * s.t.stride[3];
  RawChannels<Vector> raw;
  if constexpr (Vector) {
    raw.word = *reinterpret_cast<const uint32_t*>(static_cast<const uint16_t*>(s.t.data) + base);
  } else {
#pragma unroll
    for (int c = 0; c < kMeanChannels; ++c)
      raw.x[c] = d + c < head_dim ? load_element(s.t.data, base + c * s.t.stride[3], s.dtype) : 0.0f;
  }
  return raw;
}

template <bool Vector>
__device__ inline void add_channels(const RawChannels<Vector>& raw, bool bf16, float (&sum)[kMeanChannels]) {
  if constexpr (Vector) {
    const auto low = static_cast<uint16_t>(raw.word & 0xFFFFu), high = static_cast<uint16_t>(raw.word >> 16);
    sum[0] = __fadd_rn(sum[0], bf16 ? sattn_bf16_to_float(low) : sattn_f16_to_float(low));
    sum[1] = __fadd_rn(sum[1], bf16 ? sattn_bf16_to_float(high) : sattn_f16_to_float(high));
  } else {
#pragma unroll
    for (int c = 0; c < kMeanChannels; ++c) sum[c] = __fadd_rn(sum[c], raw.x[c]);
  }
}

// sum[c] plus rows [first, first + count) of head h at channels d + c, added in row order.
template <bool Vector>
__device__ inline void sum_rows(const MeanSource& s, int64_t b, int64_t h, int64_t first, int64_t count, int64_t d,
                                int64_t head_dim, float (&sum)[kMeanChannels]) {
  const bool bf16 = s.dtype == SATTN_DTYPE_BF16;
  int64_t r = first;
  for (; r + kMeanRowsInFlight <= first + count; r += kMeanRowsInFlight) {
    RawChannels<Vector> raw[kMeanRowsInFlight];
#pragma unroll
    for (int k = 0; k < kMeanRowsInFlight; ++k) raw[k] = load_channels<Vector>(s, b, h, r + k, d, head_dim);
#pragma unroll
    for (int k = 0; k < kMeanRowsInFlight; ++k) add_channels<Vector>(raw[k], bf16, sum);
  }
  for (; r < first + count; ++r) add_channels<Vector>(load_channels<Vector>(s, b, h, r, d, head_dim), bf16, sum);
}

// Every mean the selection needs, in one launch so that the reads of Q and K overlap: grid (groups of means / the
// groups a block serves, B * Hk), each group's channels split over `lanes` threads of kMeanChannels channels. Groups
// are the key blocks, the compression blocks, then the query blocks. Key and compression means are stored
// channel-major ([B*Hk, D, groups]) so that the scoring threads, one per key block, read them coalesced.
template <bool Vector>
__global__ void block_means_kernel(const KernelParams p, const TopkInput t, const MeanSource q, const MeanSource k,
                                   int lanes) {
  const int64_t D = p.head_dim, chunks = (D + kMeanChannels - 1) / kMeanChannels, bh = blockIdx.y;
  const int64_t b = bh / p.kv_heads, hk = bh % p.kv_heads;
  const int64_t per_block = kThreads / lanes, g = blockIdx.x * per_block + threadIdx.x / lanes;
  if (threadIdx.x / lanes >= per_block || g >= t.k_blocks + t.comp_blocks + t.q_blocks) return;
  for (int64_t chunk = threadIdx.x % lanes; chunk < chunks; chunk += lanes) {
    const int64_t d = chunk * kMeanChannels;
    float sum[kMeanChannels] = {};
    if (g < t.k_blocks + t.comp_blocks) {
      const bool comp = g >= t.k_blocks;
      const int64_t size = comp ? t.comp : t.block, index = comp ? g - t.k_blocks : g;
      const int64_t groups = comp ? t.comp_blocks : t.k_blocks;
      float* const out = comp ? t.comp_means : t.block_means;
      const int64_t first = index * size, count = min(p.kv_len, first + size) - first;
      sum_rows<Vector>(k, b, hk, first, count, d, D, sum);
#pragma unroll
      for (int c = 0; c < kMeanChannels; ++c)
        if (d + c < D) out[(bh * D + d + c) * groups + index] = __fdiv_rn(sum[c], static_cast<float>(count));
    } else {  // the mean query of a query block over the G heads of kv head hk, heads then rows
      const int64_t qb = g - t.k_blocks - t.comp_blocks, group = p.q_heads / p.kv_heads;
      const int64_t i0 = qb * t.block, rows = min(p.q_len, i0 + t.block) - i0;
      for (int64_t hq = hk * group; hq < (hk + 1) * group; ++hq) sum_rows<Vector>(q, b, hq, i0, rows, d, D, sum);
#pragma unroll
      for (int c = 0; c < kMeanChannels; ++c)
        if (d + c < D) t.qbar[(bh * t.q_blocks + qb) * D + d + c] = __fdiv_rn(sum[c], static_cast<float>(group * rows));
    }
  }
}

__device__ inline float rank_of(float s) { return s == s ? s : -INFINITY; }

// Scoring and choosing, one thread block per (b, hk, kSelectRows query blocks). Scoring stages the query blocks'
// means and a chunk of channels x key blocks (or compression blocks) of the key means in shared memory; a thread
// keeps kSelectChains independent chains (its key block against every kSelectParts-th query block), each the core's
// dot_f32: products and sums rounded one by one, in channel order, no fused multiply-adds. Then one warp per query
// block keeps the n best by rank counting (a candidate is kept when fewer than n candidates beat it: larger score, or
// equal score and lower index). Scores live in shared memory where they fit, else in the workspace.
constexpr int kSelectRows = 8;  // query blocks per thread block, one warp each when choosing
constexpr int kSelectThreads = 32 * kSelectRows;
constexpr int kSelectColumns = 64;  // key blocks scored at once (8192 keys at block 128: one pass)
constexpr int kSelectParts = kSelectThreads / kSelectColumns;  // threads per key block
constexpr int kSelectChains = kSelectRows / kSelectParts;      // query blocks per thread
constexpr int kSelectChannels = 32;                            // channels staged at once
constexpr int64_t kMaxSharedScores = 4096;  // [kSelectRows, k_blocks] floats in shared memory: 16 KiB

// Static shared memory of the scoring: staged means and the query means' chunk.
struct SelectStage {
  float means[kSelectChannels][kSelectColumns];
  float qbar[kSelectRows][kSelectChannels];
};

// dots[r][g] = qbar[r] . means[:, g] for the thread block's query blocks r and groups g < groups (key blocks, or
// compression blocks), means channel-major [D, groups].
__device__ void score_groups(SelectStage& stage, const float* qbar, int64_t rows, const float* means, int64_t groups,
                             int64_t D, float* dots, int64_t dots_stride) {
  const int column = static_cast<int>(threadIdx.x) % kSelectColumns,
            part = static_cast<int>(threadIdx.x) / kSelectColumns;
  for (int64_t g0 = 0; g0 < groups; g0 += kSelectColumns) {
    float acc[kSelectChains] = {};
    for (int64_t c0 = 0; c0 < D; c0 += kSelectChannels) {
      __syncthreads();  // the previous chunk is consumed
      // A fixed count of loads per thread, unrolled, so that all are in flight before the first store waits.
      constexpr int kLoads = kSelectChannels * kSelectColumns / kSelectThreads;
      float staged[kLoads];
#pragma unroll
      for (int k = 0; k < kLoads; ++k) {
        const int e = static_cast<int>(threadIdx.x) + k * kSelectThreads;
        const int64_t c = c0 + e / kSelectColumns, g = g0 + e % kSelectColumns;
        staged[k] = c < D && g < groups ? __ldg(means + c * groups + g) : 0.0f;
      }
#pragma unroll
      for (int k = 0; k < kLoads; ++k) {
        const int e = static_cast<int>(threadIdx.x) + k * kSelectThreads;
        stage.means[e / kSelectColumns][e % kSelectColumns] = staged[k];
      }
      for (int e = static_cast<int>(threadIdx.x); e < kSelectRows * kSelectChannels; e += kSelectThreads) {
        const int64_t r = e / kSelectChannels, c = c0 + e % kSelectChannels;
        stage.qbar[r][e % kSelectChannels] = r < rows && c < D ? qbar[r * D + c] : 0.0f;
      }
      __syncthreads();
      const int channels = static_cast<int>(min(int64_t{kSelectChannels}, D - c0));
#pragma unroll 8
      for (int c = 0; c < channels; ++c) {
        const float mean = stage.means[c][column];
#pragma unroll
        for (int k = 0; k < kSelectChains; ++k)
          acc[k] = __fadd_rn(acc[k], __fmul_rn(stage.qbar[part + kSelectParts * k][c], mean));
      }
    }
    if (g0 + column < groups)
#pragma unroll
      for (int k = 0; k < kSelectChains; ++k)
        if (part + kSelectParts * k < rows) dots[(part + kSelectParts * k) * dots_stride + g0 + column] = acc[k];
  }
}

__global__ void __launch_bounds__(kSelectThreads)
    select_blocks_kernel(const KernelParams p, const TopkInput t, int64_t q_offset, int64_t global_tokens,
                         int32_t causal) {
  __shared__ SelectStage stage;
  extern __shared__ float shared_scores[];
  const int64_t q_groups = (t.q_blocks + kSelectRows - 1) / kSelectRows;
  const int64_t bh = blockIdx.x / q_groups, qb0 = blockIdx.x % q_groups * kSelectRows;
  const int64_t rows = min(int64_t{kSelectRows}, t.q_blocks - qb0), first_row = bh * t.q_blocks + qb0;
  const int64_t D = p.head_dim;
  float* const scores =
      t.k_blocks <= kMaxSharedScores / kSelectRows ? shared_scores : t.scores + first_row * t.k_blocks;
  const float* const qbar = t.qbar + first_row * D;
  if (t.comp > 0) {  // dots against the compression blocks, then a key block's score is the best it overlaps
    float* const dots = t.comp_dots + first_row * t.comp_blocks;
    score_groups(stage, qbar, rows, t.comp_means + bh * D * t.comp_blocks, t.comp_blocks, D, dots, t.comp_blocks);
    __syncthreads();
    for (int64_t e = threadIdx.x; e < rows * t.k_blocks; e += kSelectThreads) {
      const int64_t r = e / t.k_blocks, kb = e % t.k_blocks;
      const int64_t first = kb * t.block / t.comp, last = (min(p.kv_len, (kb + 1) * t.block) - 1) / t.comp;
      float best = -INFINITY;
      for (int64_t cb = first; cb <= last; ++cb) best = fmaxf(best, rank_of(dots[r * t.comp_blocks + cb]));
      scores[r * t.k_blocks + kb] = best;
    }
  } else {
    score_groups(stage, qbar, rows, t.block_means + bh * D * t.k_blocks, t.k_blocks, D, scores, t.k_blocks);
  }
  __syncthreads();

  const int lane = static_cast<int>(threadIdx.x) % 32, r = static_cast<int>(threadIdx.x) / 32;
  if (r >= rows) return;
  const int64_t qb = qb0 + r, i0 = qb * t.block, i1 = min(p.q_len, i0 + t.block);
  const int64_t p_first = i0 + q_offset, p_last = i1 - 1 + q_offset;
  uint8_t* const kept = t.kept + (first_row + r) * t.k_blocks;
  const float* const row_scores = scores + r * t.k_blocks;
  if (global_tokens > 0 && p_first < global_tokens) {  // global query rows keep every block
    for (int64_t kb = lane; kb < t.k_blocks; kb += 32) kept[kb] = 1;
    return;
  }
  int64_t candidates = t.k_blocks;
  if (causal) candidates = p_last < 0 ? 0 : min(t.k_blocks, p_last / t.block + 1);
  int64_t n = 0;
  if (candidates > 0) {
    if (t.topk_blocks > 0) {
      n = t.topk_blocks;
    } else {
      const double wanted = ceil(static_cast<double>(t.keep_ratio) * static_cast<double>(candidates) - 1e-6);
      n = max(int64_t{1}, static_cast<int64_t>(wanted));
    }
    n = min(n, candidates);
  }
  for (int64_t kb = lane; kb < t.k_blocks; kb += 32) {
    bool keep = false;
    if (kb < candidates) {
      const float mine = rank_of(row_scores[kb]);
      int64_t better = 0;
      for (int64_t other = 0; other < candidates && better < n; ++other) {
        const float theirs = rank_of(row_scores[other]);
        better += theirs > mine || (theirs == mine && other < kb);
      }
      keep = better < n;
    }
    keep = keep || kb < t.global_blocks || (p_last >= 0 && p_last < p.kv_len && kb == p_last / t.block);
    kept[kb] = keep ? 1 : 0;
  }
}

// ---- the families ------------------------------------------------------------------------------------------------

// The buffers of a run, carved in one order for plan-time sizing and run-time use.
struct BlockBuffers {
  int64_t* row_ptr;
  sattn_tile_span* spans;
  LayoutScan scan;
  TopkInput topk;
};

int64_t layout_rows(const sattn_attention_desc& d) {
  const int64_t heads = d.pattern == SATTN_PATTERN_BLOCK_TOPK ? d.num_kv_heads : d.num_q_heads;
  return d.batch * heads * ceil_div(d.q_len, kTileQ);
}

BlockBuffers carve_blocks(const Plan& plan, WorkspaceCarver& carver) {
  const sattn_attention_desc& d = plan.desc;
  const int64_t rows = layout_rows(d), k_tiles = ceil_div(d.kv_len, kTileK);
  BlockBuffers buffers{};
  buffers.row_ptr = carver.take<int64_t>(static_cast<size_t>(rows + 1));
  buffers.spans = carver.take<sattn_tile_span>(static_cast<size_t>(rows * k_tiles));  // at most one per tile
  buffers.scan.blocks = std::max<int64_t>(1, ceil_div(rows, kLayoutRows));
  buffers.scan.words = carver.take<unsigned long long>(static_cast<size_t>(buffers.scan.blocks + 1));
  if (d.pattern == SATTN_PATTERN_BLOCK_TOPK) {
    const sattn_pattern_params& params = d.params;
    TopkInput& t = buffers.topk;
    t.block = params.block_size;
    t.comp = params.comp_block_size;
    t.q_blocks = ceil_div(d.q_len, t.block);
    t.k_blocks = ceil_div(d.kv_len, t.block);
    t.comp_blocks = t.comp > 0 ? ceil_div(d.kv_len, t.comp) : 0;
    t.global_blocks = std::min(ceil_div(params.global_tokens, t.block), t.k_blocks);
    t.topk_blocks = params.topk_blocks;
    t.keep_ratio = params.keep_ratio;
    const size_t heads = static_cast<size_t>(d.batch * d.num_kv_heads), D = static_cast<size_t>(d.head_dim);
    t.qbar = carver.take<float>(heads * static_cast<size_t>(t.q_blocks) * D);
    t.block_means = carver.take<float>(heads * static_cast<size_t>(t.k_blocks) * D);
    t.comp_means = t.comp > 0 ? carver.take<float>(heads * static_cast<size_t>(t.comp_blocks) * D) : nullptr;
    t.scores = carver.take<float>(heads * static_cast<size_t>(t.q_blocks * t.k_blocks));
    t.comp_dots = t.comp > 0 ? carver.take<float>(heads * static_cast<size_t>(t.q_blocks * t.comp_blocks)) : nullptr;
    t.kept = carver.take<uint8_t>(heads * static_cast<size_t>(t.q_blocks * t.k_blocks));
  }
  return buffers;
}

void carve(const Plan& plan, WorkspaceCarver& carver) { (void)carve_blocks(plan, carver); }

std::string refuse(const sattn_problem& problem) {
  const sattn_attention_desc& d = *problem.desc;
  const int64_t rows = layout_rows(d);
  if (rows + 1 > 0x7fffffff) return "too many layout rows for the device build (" + std::to_string(rows) + ")";
  if (d.kv_len > 0x7fffffff)
    return "block patterns are laid out on the device for kv_len up to 2^31 - 1, got " + std::to_string(d.kv_len);
  if (d.pattern == SATTN_PATTERN_BLOCK_TOPK) {
    const int64_t b = d.params.block_size, c = d.params.comp_block_size;
    if (d.batch * d.num_kv_heads > 65535)
      return "block_topk selects on the device for batch * kv heads up to 65535, got " +
             std::to_string(d.batch * d.num_kv_heads);
    if (d.batch * d.num_kv_heads * ceil_div(d.q_len, b) > 0x7fffffff ||
        ceil_div(d.q_len, b) + ceil_div(d.kv_len, b) + (c > 0 ? ceil_div(d.kv_len, c) : 0) > 0x7fffffff)
      return "too many blocks for one grid";
  }
  return {};
}

// Builds the layout from the block mask described by `in` (whose geometry fields this fills) and attends.
int build_and_attend(const Plan& plan, KernelParams& params, BlockLayoutInput in, const BlockBuffers& buffers,
                     cudaStream_t stream) {
  const sattn_attention_desc& d = plan.desc;
  in.q_tiles = ceil_div(d.q_len, kTileQ);
  in.k_tiles = ceil_div(d.kv_len, kTileK);
  in.rows = in.batches * in.heads * in.q_tiles;
  in.q_len = d.q_len;
  in.kv_len = d.kv_len;
  in.q_offset = d.kv_len - d.q_len;
  in.key_block = static_cast<uint32_t>(std::min(in.block, d.kv_len));
  in.causal = (d.flags & SATTN_FLAG_CAUSAL) != 0 ? 1 : 0;
  const LayoutScan& scan = buffers.scan;
  if (const cudaError_t error =
          cudaMemsetAsync(scan.words, 0, sizeof(unsigned long long) * static_cast<size_t>(scan.blocks + 1), stream);
      error != cudaSuccess)
    return error;
  // As many blocks as this mask's rows need (a broadcast mask has fewer rows than the plan sized the buffers for).
  const auto blocks = static_cast<unsigned>(std::max<int64_t>(1, ceil_div(in.rows, kLayoutRows)));
  build_layout_kernel<<<blocks, kLayoutThreads, 0, stream>>>(in, scan, buffers.row_ptr, buffers.spans);
  if (const cudaError_t error = cudaGetLastError(); error != cudaSuccess) return error;

  sattn_layout_view& layout = params.layout;
  layout.batches = in.batches;
  layout.heads = in.heads;
  layout.head_divisor = in.mask_head_divisor;
  layout.row_ptr = buffers.row_ptr;
  layout.spans = buffers.spans;
  layout.num_spans = -1;  // on the device only
  Selection& selection = params.selection;
  selection.block_mask = in.mask;
  for (int a = 0; a < 4; ++a) selection.mask_stride[a] = in.mask_stride[a];
  selection.mask_head_divisor = in.mask_head_divisor;
  selection.block_size = in.block;
  return attend(params, stream);
}

int run_block_mask(const Plan& plan, const sattn_run_args& args, KernelParams& params, void* workspace, void* stream) {
  WorkspaceCarver carver(workspace);
  const BlockBuffers buffers = carve_blocks(plan, carver);
  const sattn_tensor& mask = *args.block_mask;
  BlockLayoutInput in{};
  in.mask = static_cast<const uint8_t*>(mask.data);
  in.batches = mask.shape[0];
  in.heads = mask.shape[1];
  for (int a = 0; a < 4; ++a) in.mask_stride[a] = mask.strides[a];
  if (in.batches == 1) in.mask_stride[0] = 0;
  if (in.heads == 1) in.mask_stride[1] = 0;
  in.mask_head_divisor = 1;
  in.block = plan.desc.params.block_size;
  return build_and_attend(plan, params, in, buffers, static_cast<cudaStream_t>(stream));
}

int run_block_topk(const Plan& plan, const sattn_run_args& args, KernelParams& params, void* workspace, void* stream) {
  (void)args;  // params holds the run's tensors
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const sattn_attention_desc& d = plan.desc;
  WorkspaceCarver carver(workspace);
  BlockBuffers buffers = carve_blocks(plan, carver);
  TopkInput& t = buffers.topk;
  const unsigned heads = static_cast<unsigned>(d.batch * d.num_kv_heads);
  const int64_t chunks = ceil_div(d.head_dim, kMeanChannels), groups = t.k_blocks + t.comp_blocks + t.q_blocks;
  const int lanes = static_cast<int>(std::min<int64_t>(chunks, kThreads));  // threads per group of means
  const MeanSource q_source = mean_source(params.q, d.dtype, d.head_dim);
  const MeanSource k_source = mean_source(params.k, d.dtype, d.head_dim);
  const dim3 mean_grid(static_cast<unsigned>(ceil_div(groups, kThreads / lanes)), heads);
  if (q_source.vector && k_source.vector)
    block_means_kernel<true><<<mean_grid, kThreads, 0, s>>>(params, t, q_source, k_source, lanes);
  else
    block_means_kernel<false><<<mean_grid, kThreads, 0, s>>>(params, t, q_source, k_source, lanes);
  const size_t score_bytes =
      t.k_blocks <= kMaxSharedScores / kSelectRows ? sizeof(float) * static_cast<size_t>(kSelectRows * t.k_blocks) : 0;
  const int64_t select_blocks = static_cast<int64_t>(heads) * ceil_div(t.q_blocks, kSelectRows);
  select_blocks_kernel<<<static_cast<unsigned>(select_blocks), kSelectThreads, score_bytes, s>>>(
      params, t, d.kv_len - d.q_len, d.params.global_tokens, (d.flags & SATTN_FLAG_CAUSAL) != 0 ? 1 : 0);
  if (const cudaError_t error = cudaGetLastError(); error != cudaSuccess) return error;

  BlockLayoutInput in{};
  in.mask = t.kept;
  in.batches = d.batch;
  in.heads = d.num_kv_heads;
  in.mask_stride[3] = 1;
  in.mask_stride[2] = t.k_blocks;
  in.mask_stride[1] = t.q_blocks * t.k_blocks;
  in.mask_stride[0] = d.num_kv_heads * t.q_blocks * t.k_blocks;
  in.mask_head_divisor = d.num_q_heads / d.num_kv_heads;
  in.block = t.block;
  in.global_tokens = d.params.global_tokens;
  return build_and_attend(plan, params, in, buffers, s);
}

}  // namespace

const SelectionFamily kBlockMaskFamily{refuse, carve, run_block_mask};
const SelectionFamily kBlockTopkFamily{refuse, carve, run_block_topk};

}  // namespace sattn_cuda
