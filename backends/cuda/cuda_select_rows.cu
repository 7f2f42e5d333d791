// topk_per_query and nm_structured on the device (docs/patterns.md): every query row scores its allowed keys with the
// core's sequential fp32 dot, keeps the k best (topk) or the N best of every aligned group of M (nm), ties to the
// lower index, and attends to the kept keys through a layout of BITS spans.
//
// Why BITS spans and not per-row index lists: the kept set of a 128-row query tile is any subset of the keys, and
// both attention kernels already walk BITS spans (sattn_bits_keep) at full speed, for any k; an index list would need
// a gather kernel of its own and would only pay off for very small k. One BITS span per layout row covers every key
// tile, so the layout has a fixed shape that the workspace can be carved for at plan time.
//
// Workspace bound: the bits of all heads would grow as Hq * Lq * Lk / 8 bytes, so the run walks slices of kv heads
// (with their G query heads) whose bits fit kBitsBudget, one attention launch per slice; inside a slice the fp32
// scores are computed for chunks of query rows that fit kScoresBudget. A single kv head larger than the budget is
// still processed as one slice.
#include <cub/block/block_scan.cuh>

#include <algorithm>

#include "cuda_select_common.cuh"
#include "cuda_select_rows.hpp"

namespace sattn_cuda {
namespace {

constexpr int64_t kBitsBudget = int64_t{256} << 20;
constexpr int64_t kScoresBudget = int64_t{64} << 20;
constexpr int kThreads = 256;

// The slicing both carve() and run() derive from the plan alone.
struct RowGeometry {
  int64_t group, q_tiles, k_tiles;
  int64_t slice_kv_heads;  // kv heads per slice
  int64_t slice_rows;      // layout rows of a slice: slice_kv_heads * group * q_tiles
  int64_t chunk_rows;      // query rows scored at once
  int64_t bits_words;      // of a slice

  explicit RowGeometry(const sattn_attention_desc& d) {
    group = d.num_q_heads / d.num_kv_heads;
    q_tiles = (d.q_len + kTileQ - 1) / kTileQ;
    k_tiles = (d.kv_len + kTileK - 1) / kTileK;
    const int64_t kv_head_bytes = std::max<int64_t>(1, group * q_tiles * k_tiles * kTileQ * 8);
    slice_kv_heads = std::clamp<int64_t>(kBitsBudget / kv_head_bytes, 1, d.num_kv_heads);
    slice_rows = slice_kv_heads * group * q_tiles;
    const int64_t slice_query_rows = std::max<int64_t>(1, slice_kv_heads * group * d.q_len);
    chunk_rows = std::clamp<int64_t>(kScoresBudget / std::max<int64_t>(1, d.kv_len * 4), 1, slice_query_rows);
    bits_words = slice_rows * k_tiles * kTileQ;
  }
};

struct RowBuffers {
  int64_t* row_ptr;
  sattn_tile_span* spans;
  uint64_t* bits;
  float* scores;  // [chunk_rows, kv_len]
};

RowBuffers carve_rows(const Plan& plan, WorkspaceCarver& carver) {
  const RowGeometry g(plan.desc);
  RowBuffers w{};
  w.row_ptr = carver.take<int64_t>(static_cast<size_t>(g.slice_rows + 1));
  w.spans = carver.take<sattn_tile_span>(static_cast<size_t>(g.slice_rows));
  w.bits = carver.take<uint64_t>(static_cast<size_t>(g.bits_words));
  w.scores = carver.take<float>(static_cast<size_t>(g.chunk_rows * plan.desc.kv_len));
  return w;
}

// One BITS span per layout row over every key tile; row r's tiles start at word r * k_tiles * tile_q.
__global__ void bits_layout_kernel(int64_t rows, int64_t k_tiles, int64_t* row_ptr, sattn_tile_span* spans) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r > rows) return;
  row_ptr[r] = r;
  if (r == rows) return;
  spans[r] = sattn_tile_span{0, static_cast<int32_t>(k_tiles), SATTN_TILE_BITS, 0, r * k_tiles * kTileQ};
}

// scores[r - first][j] = q_i . k_j for every allowed key of chunk row r (row r = hq * q_len + i of the slice).
// Register-tiled on CUDA cores (tensor cores sum in their own order; the selection must see the sequential sum): a
// block scores kScoreRows rows of one kv head (those rows are contiguous: hk * G * q_len onwards, so the tiles are
// aligned to the kv head and a chunk that starts inside one clips the first) against kScoreKeys keys, through shared
// memory in chunks of kScoreChannels channels stored channel-major; a thread owns 8 rows x 4 keys, so each channel
// costs it three 16-byte shared loads for 32 products. Every sum still adds its products one channel after the
// other, carrying across chunks, so the result is the sequential dot bit for bit. Channels past head_dim are zeros on
// both sides: +0 products, which leave a sum that starts at +0 unchanged (it can never be -0).
constexpr int kScoreRows = 128;
constexpr int kScoreKeys = 64;
constexpr int kScoreChannels = 32;
static_assert(kThreads == (kScoreRows / 8) * (kScoreKeys / 4), "a thread scores 8 rows x 4 keys");

// The tiling of a chunk: rows [first, first + count) in tiles aligned to their kv head, numbered over the slice
// (tile t: kv head t / tiles_per_kv_head); the chunk's tiles are first_tile onwards.
struct ScoreTiling {
  int64_t rows_per_kv_head, tiles_per_kv_head, first_tile, row_tiles, key_tiles;

  ScoreTiling(const KernelParams& p, int64_t first, int64_t count) {
    rows_per_kv_head = p.q_heads / p.kv_heads * p.q_len;
    tiles_per_kv_head = (rows_per_kv_head + kScoreRows - 1) / kScoreRows;
    first_tile = tile_of(first);
    row_tiles = tile_of(first + count - 1) - first_tile + 1;
    key_tiles = (p.kv_len + kScoreKeys - 1) / kScoreKeys;
  }
  int64_t tile_of(int64_t row) const {
    const int64_t hk = row / rows_per_kv_head;
    return hk * tiles_per_kv_head + (row - hk * rows_per_kv_head) / kScoreRows;
  }
};

__global__ void __launch_bounds__(kThreads)
    scores_kernel(const KernelParams p, int64_t first, int64_t count, const ScoreTiling tiling, float* scores) {
  __shared__ __align__(16) float q_tile[kScoreChannels][kScoreRows + 4];  // + 4: 4-way, not 32-way, store conflicts
  __shared__ __align__(16) float k_tile[kScoreChannels][kScoreKeys + 4];
  const int64_t key_tile = blockIdx.x % tiling.key_tiles, row_tile = tiling.first_tile + blockIdx.x / tiling.key_tiles;
  const int64_t hk = row_tile / tiling.tiles_per_kv_head;
  const int64_t tile_base = hk * tiling.rows_per_kv_head + row_tile % tiling.tiles_per_kv_head * kScoreRows;
  const int64_t row_begin = max(first, tile_base);
  const int64_t row_end = min(min(first + count, tile_base + kScoreRows), (hk + 1) * tiling.rows_per_kv_head);
  const int64_t j0 = key_tile * kScoreKeys;
  if (row_begin >= row_end) return;
  // Causal: nothing to score once the keys start past what the tile's latest row may choose.
  const bool wraps = row_begin / p.q_len != (row_end - 1) / p.q_len;  // the tile spans query heads: every i
  if (j0 >= allowed_keys(p, wraps ? p.q_len - 1 : (row_end - 1) % p.q_len)) return;

  const int tx = static_cast<int>(threadIdx.x) % (kScoreKeys / 4),
            ty = static_cast<int>(threadIdx.x) / (kScoreKeys / 4);
  float acc[8][4];
#pragma unroll
  for (int r = 0; r < 8; ++r)
#pragma unroll
    for (int x = 0; x < 4; ++x) acc[r][x] = 0.0f;
  // Each thread copies one channel of every eighth row and key: the rows' offsets once, without a division a copy.
  __shared__ int64_t q_rows[kScoreRows];  // where a tile row's channel 0 is, -1 outside the chunk
  if (threadIdx.x < kScoreRows) {
    const int64_t r = tile_base + threadIdx.x;
    q_rows[threadIdx.x] = r >= row_begin && r < row_end ? row_offset(p.q, 0, r / p.q_len, r % p.q_len) : -1;
  }
  __syncthreads();
  const int copy_channel = static_cast<int>(threadIdx.x) % kScoreChannels;
  const int copy_row = static_cast<int>(threadIdx.x) / kScoreChannels;
  constexpr int kCopyRows = kThreads / kScoreChannels;
  const int64_t k_first = row_offset(p.k, 0, hk, j0);
  for (int64_t c0 = 0; c0 < p.head_dim; c0 += kScoreChannels) {
    const int64_t channel = c0 + copy_channel;
    const bool in_head = channel < p.head_dim;
#pragma unroll 4
    for (int row = copy_row; row < kScoreRows; row += kCopyRows) {
      const int64_t at = q_rows[row];
      q_tile[copy_channel][row] =
          in_head && at >= 0 ? load_element(p.q.data, at + channel * p.q.stride[3], p.dtype) : 0.0f;
    }
#pragma unroll 4
    for (int key = copy_row; key < kScoreKeys; key += kCopyRows)
      k_tile[copy_channel][key] =
          in_head && j0 + key < p.kv_len
              ? load_element(p.k.data, k_first + key * p.k.stride[2] + channel * p.k.stride[3], p.dtype)
              : 0.0f;
    __syncthreads();
#pragma unroll 4
    for (int c = 0; c < kScoreChannels; ++c) {
      const float4 low = *reinterpret_cast<const float4*>(&q_tile[c][ty * 4]);
      const float4 high = *reinterpret_cast<const float4*>(&q_tile[c][kScoreRows / 2 + ty * 4]);
      const float4 key = *reinterpret_cast<const float4*>(&k_tile[c][tx * 4]);
      const float qv[8] = {low.x, low.y, low.z, low.w, high.x, high.y, high.z, high.w};
      const float kv[4] = {key.x, key.y, key.z, key.w};
#pragma unroll
      for (int r = 0; r < 8; ++r)
#pragma unroll
        for (int x = 0; x < 4; ++x) acc[r][x] = __fadd_rn(acc[r][x], __fmul_rn(qv[r], kv[x]));
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < 8; ++r) {
    const int64_t row = tile_base + (r < 4 ? ty * 4 + r : kScoreRows / 2 + ty * 4 + r - 4);
    if (row < row_begin || row >= row_end) continue;
    const int64_t allowed = allowed_keys(p, row % p.q_len);
    float* const out = scores + (row - first) * p.kv_len;
#pragma unroll
    for (int x = 0; x < 4; ++x) {
      const int64_t j = j0 + tx * 4 + x;
      if (j < allowed) out[j] = acc[r][x];
    }
  }
}

// Where chunk row `row`'s bit word w lives: word w of layout row (hq, i / tile_q) holds keys [64 w, 64 w + 64).
__device__ inline int64_t bits_index(const KernelParams& p, int64_t first, int64_t row, int64_t k_tiles, int64_t w) {
  const int64_t r = first + row, hq = r / p.q_len, i = r % p.q_len;
  const int64_t layout_row = hq * ((p.q_len + kTileQ - 1) / kTileQ) + i / kTileQ;
  return (layout_row * k_tiles + w) * kTileQ + i % kTileQ;
}

// topk, one block per chunk row: the row's threshold by radix selection over the score keys (8 bits a pass, most
// significant first) -- the k-th largest key T and, among the keys equal to T, the index of the last one kept, so
// that exactly k keys satisfy key > T or (key == T and j <= last_tied): the k best with ties to the lower index --
// and then the row's bit words, while its scores are still in L1. The histogram's adds are aggregated per warp
// (__match_any_sync): the keys of a row mostly share their top bytes, and one shared atomic per key on the same bin
// would serialise the block.
__global__ void __launch_bounds__(kThreads) topk_bits_kernel(const KernelParams p, int64_t first, int64_t k,
                                                             int64_t k_tiles, const float* scores, uint64_t* bits) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  __shared__ int histogram[256];
  __shared__ uint32_t prefix_shared;
  __shared__ int64_t remaining_shared, tied_shared;
  const int64_t row = blockIdx.x;
  const int64_t i = (first + row) % p.q_len;
  const int64_t allowed = allowed_keys(p, i);
  const float* s = scores + row * p.kv_len;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  uint32_t prefix = 0;
  int64_t last_tied = p.kv_len;
  const bool every_key = k >= allowed;
  if (!every_key) {
    uint32_t mask = 0;
    int64_t remaining = k;  // keys still to take at the current prefix
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int b = static_cast<int>(threadIdx.x); b < 256; b += kThreads) histogram[b] = 0;
      __syncthreads();
      for (int64_t base = 0; base < allowed; base += kThreads) {  // every lane runs every round: warp-wide matches
        const int64_t j = base + threadIdx.x;
        uint32_t bin = 256u;  // outside the histogram: not counted
        if (j < allowed) {
          const uint32_t key = score_key(s[j]);
          if ((key & mask) == prefix) bin = (key >> shift) & 255u;
        }
        const unsigned peers = __match_any_sync(0xffffffffu, bin);
        if (bin < 256u && lane == __ffs(peers) - 1) atomicAdd(&histogram[bin], __popc(peers));
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        int64_t above = 0;
        int digit = 255;
        for (; digit > 0 && above + histogram[digit] < remaining; --digit) above += histogram[digit];
        prefix_shared = prefix | (static_cast<uint32_t>(digit) << shift);
        remaining_shared = remaining - above;
      }
      __syncthreads();
      prefix = prefix_shared;
      remaining = remaining_shared;
      mask |= 255u << shift;
      __syncthreads();
    }
    // The `remaining` lowest-index keys equal to T are kept: find the index of the last of them.
    int64_t seen = 0;
    for (int64_t base = 0; base < allowed; base += kThreads) {
      const int64_t j = base + threadIdx.x;
      const int tied = j < allowed && score_key(s[j]) == prefix ? 1 : 0;
      int before = 0, total = 0;
      Scan(scan_storage).ExclusiveSum(tied, before, total);
      if (tied && seen + before + 1 == remaining) tied_shared = j;
      seen += total;
      __syncthreads();               // scan_storage is reused by the next round
      if (seen >= remaining) break;  // uniform: every thread has the same `seen`
    }
    __syncthreads();
    last_tied = tied_shared;
  }
  // The bit words: a warp ballots the 64 keys of one word at a time. Words past the allowed keys stay 0 (run()
  // clears the bits first).
  const int64_t words = (allowed + 63) / 64;
  for (int64_t w = warp; w < words; w += kThreads / 32) {
    uint32_t halves[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t j = w * 64 + half * 32 + lane;
      bool keep = j < allowed;
      if (keep && !every_key) {
        const uint32_t key = score_key(s[j]);
        keep = key > prefix || (key == prefix && j <= last_tied);
      }
      halves[half] = __ballot_sync(0xffffffffu, keep);
    }
    if (lane == 0) bits[bits_index(p, first, row, k_tiles, w)] = halves[0] | uint64_t{halves[1]} << 32;
  }
}

// nm, one warp per bit word of a chunk row: each lane ranks two keys inside their aligned group of M (the keys of
// the group that ScoreOrder puts first are kept), and two ballots make the word.
__global__ void __launch_bounds__(kThreads)
    nm_bits_kernel(const KernelParams p, int64_t first, int64_t count, int64_t k_tiles, int64_t nm_n, int64_t nm_m,
                   const float* scores, uint64_t* bits) {
  const int64_t t = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  if (t >= count * k_tiles) return;  // whole warps leave: the ballots below see every lane
  const int64_t row = t / k_tiles, w = t % k_tiles;
  const int64_t allowed = allowed_keys(p, (first + row) % p.q_len);
  if (w * 64 >= allowed) return;  // the word stays 0
  const float* s = scores + row * p.kv_len;
  uint32_t halves[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t j = w * 64 + half * 32 + lane;
    bool keep = false;
    if (j < allowed) {
      const uint32_t key = score_key(s[j]);
      const int64_t group_begin = j / nm_m * nm_m, group_end = min(allowed, group_begin + nm_m);
      int64_t better = 0;
      for (int64_t x = group_begin; x < group_end && better < nm_n; ++x) {
        const uint32_t other = score_key(s[x]);
        better += other > key || (other == key && x < j) ? 1 : 0;
      }
      keep = better < nm_n;
    }
    halves[half] = __ballot_sync(0xffffffffu, keep);
  }
  if (lane == 0) bits[bits_index(p, first, row, k_tiles, w)] = halves[0] | uint64_t{halves[1]} << 32;
}

std::string refuse_rows(const sattn_problem& problem) {
  const sattn_attention_desc& d = *problem.desc;
  if (d.kv_len > 0x7fffffff)
    return "topk_per_query and nm_structured: kv_len " + std::to_string(d.kv_len) +
           " exceeds 2^31 - 1 (spans hold key tiles as int32)";
  return {};
}

void carve(const Plan& plan, WorkspaceCarver& carver) { (void)carve_rows(plan, carver); }

int run(const Plan& plan, const sattn_run_args& args, KernelParams& params, void* workspace, void* stream) {
  (void)args;
  const sattn_attention_desc& d = plan.desc;
  const RowGeometry g(d);
  WorkspaceCarver carver(workspace);
  const RowBuffers w = carve_rows(plan, carver);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool topk = d.pattern == SATTN_PATTERN_TOPK_PER_QUERY;

  bits_layout_kernel<<<blocks_for(g.slice_rows + 1, kThreads), kThreads, 0, s>>>(g.slice_rows, g.k_tiles, w.row_ptr,
                                                                                 w.spans);
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t hk0 = 0; hk0 < d.num_kv_heads; hk0 += g.slice_kv_heads) {
      const int64_t heads = std::min(g.slice_kv_heads, d.num_kv_heads - hk0), hq0 = hk0 * g.group;
      // The slice as a problem of its own: one batch, `heads` kv heads and their query heads.
      KernelParams sp = params;
      sp.q.data = offset_elements(params.q.data, b * params.q.stride[0] + hq0 * params.q.stride[1], params.dtype);
      sp.k.data = offset_elements(params.k.data, b * params.k.stride[0] + hk0 * params.k.stride[1], params.dtype);
      sp.v.data = offset_elements(params.v.data, b * params.v.stride[0] + hk0 * params.v.stride[1], params.dtype);
      sp.o.data = offset_elements(params.o.data, b * params.o.stride[0] + hq0 * params.o.stride[1], params.dtype);
      if (params.lse != nullptr) sp.lse = params.lse + b * params.lse_stride[0] + hq0 * params.lse_stride[1];
      sp.batch = 1;
      sp.kv_heads = heads;
      sp.q_heads = heads * g.group;
      sp.layout.batches = 1;
      sp.layout.heads = sp.q_heads;
      sp.layout.head_divisor = 1;
      sp.layout.row_ptr = w.row_ptr;
      sp.layout.spans = w.spans;
      sp.layout.bits = w.bits;
      sp.layout.bits_words_per_row = 1;
      sp.layout.num_spans = heads * g.group * g.q_tiles;
      sp.layout.num_bits_words = sp.layout.num_spans * g.k_tiles * kTileQ;

      // Rows past q_len in the last query tile and keys past the allowed ones stay 0.
      cudaError_t error = cudaMemsetAsync(w.bits, 0, sizeof(uint64_t) * sp.layout.num_bits_words, s);
      if (error != cudaSuccess) return error;
      const int64_t rows = sp.q_heads * d.q_len;
      for (int64_t first = 0; first < rows; first += g.chunk_rows) {
        const int64_t count = std::min(g.chunk_rows, rows - first);
        const ScoreTiling tiling(sp, first, count);
        scores_kernel<<<static_cast<unsigned>(tiling.row_tiles * tiling.key_tiles), kThreads, 0, s>>>(sp, first, count,
                                                                                                      tiling, w.scores);
        if (topk)
          topk_bits_kernel<<<static_cast<unsigned>(count), kThreads, 0, s>>>(sp, first, d.params.topk_k, g.k_tiles,
                                                                             w.scores, w.bits);
        else
          nm_bits_kernel<<<blocks_for(count * g.k_tiles * 32, kThreads), kThreads, 0, s>>>(
              sp, first, count, g.k_tiles, d.params.nm_n, d.params.nm_m, w.scores, w.bits);
        error = cudaGetLastError();
        if (error != cudaSuccess) return error;
      }
      error = static_cast<cudaError_t>(attend(sp, stream));
      if (error != cudaSuccess) return error;
    }
  return cudaGetLastError();
}

const SelectionFamily kRowFamily{refuse_rows, carve, run};

}  // namespace

const SelectionFamily* row_selection_family() { return &kRowFamily; }

}  // namespace sattn_cuda
