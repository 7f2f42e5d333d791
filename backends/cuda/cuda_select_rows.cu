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
    // Also at most 65535 score blocks of 32 rows (the grid's y dimension).
    chunk_rows = std::clamp<int64_t>(kScoresBudget / std::max<int64_t>(1, d.kv_len * 4), 1,
                                     std::min<int64_t>(slice_query_rows, int64_t{65535} * 32));
    bits_words = slice_rows * k_tiles * kTileQ;
  }
};

struct RowBuffers {
  int64_t* row_ptr;
  sattn_tile_span* spans;
  uint64_t* bits;
  float* scores;        // [chunk_rows, kv_len]
  uint32_t* threshold;  // topk: the k-th best score key of each chunk row
  int64_t* last_tied;   // topk: the highest index kept among the keys whose score key equals the threshold
};

RowBuffers carve_rows(const Plan& plan, WorkspaceCarver& carver) {
  const RowGeometry g(plan.desc);
  RowBuffers w{};
  w.row_ptr = carver.take<int64_t>(static_cast<size_t>(g.slice_rows + 1));
  w.spans = carver.take<sattn_tile_span>(static_cast<size_t>(g.slice_rows));
  w.bits = carver.take<uint64_t>(static_cast<size_t>(g.bits_words));
  w.scores = carver.take<float>(static_cast<size_t>(g.chunk_rows * plan.desc.kv_len));
  if (plan.desc.pattern == SATTN_PATTERN_TOPK_PER_QUERY) {
    w.threshold = carver.take<uint32_t>(static_cast<size_t>(g.chunk_rows));
    w.last_tied = carver.take<int64_t>(static_cast<size_t>(g.chunk_rows));
  }
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
// A block scores 32 rows x 32 keys. When its rows read one kv head, Q and K pass through shared memory in chunks of
// kScoreDims channels; each thread still adds its products one channel after the other, carrying the sum across
// chunks, so the result is the sequential dot bit for bit. Rows of several kv heads (q_len < 32) read directly.
constexpr int kScoreTile = 32;
constexpr int kScoreDims = 64;

__global__ void __launch_bounds__(kThreads)
    scores_kernel(const KernelParams p, int64_t first, int64_t count, float* scores) {
  __shared__ float q_tile[kScoreTile][kScoreDims + 1];
  __shared__ float k_tile[kScoreTile][kScoreDims + 1];
  const int tx = static_cast<int>(threadIdx.x) % kScoreTile, ty = static_cast<int>(threadIdx.x) / kScoreTile;
  constexpr int kRowsPerThread = kScoreTile / (kThreads / kScoreTile);
  const int64_t row0 = static_cast<int64_t>(blockIdx.y) * kScoreTile,
                j0 = static_cast<int64_t>(blockIdx.x) * kScoreTile;
  const int64_t rows = min(static_cast<int64_t>(kScoreTile), count - row0);
  const int64_t group = p.q_heads / p.kv_heads;
  const int64_t hk_first = (first + row0) / p.q_len / group, hk_last = (first + row0 + rows - 1) / p.q_len / group;
  const int64_t j = j0 + tx;
  float acc[kRowsPerThread];
  for (int r = 0; r < kRowsPerThread; ++r) acc[r] = 0.0f;
  if (hk_first == hk_last) {
    for (int64_t c0 = 0; c0 < p.head_dim; c0 += kScoreDims) {
      const int64_t dims = min(static_cast<int64_t>(kScoreDims), p.head_dim - c0);
      for (int e = static_cast<int>(threadIdx.x); e < kScoreTile * kScoreDims; e += kThreads) {
        const int row = e / kScoreDims, c = e % kScoreDims;
        float qv = 0.0f, kv = 0.0f;
        if (c < dims && row < rows) {
          const int64_t r = first + row0 + row;
          qv = load_element(p.q.data, row_offset(p.q, 0, r / p.q_len, r % p.q_len) + (c0 + c) * p.q.stride[3], p.dtype);
        }
        if (c < dims && j0 + row < p.kv_len)
          kv = load_element(p.k.data, row_offset(p.k, 0, hk_first, j0 + row) + (c0 + c) * p.k.stride[3], p.dtype);
        q_tile[row][c] = qv;
        k_tile[row][c] = kv;
      }
      __syncthreads();
      for (int64_t c = 0; c < dims; ++c) {
        const float kv = k_tile[tx][c];
        for (int r = 0; r < kRowsPerThread; ++r)
          acc[r] = __fadd_rn(acc[r], __fmul_rn(q_tile[ty + r * (kThreads / kScoreTile)][c], kv));
      }
      __syncthreads();
    }
  }
  if (j >= p.kv_len) return;
  for (int r = 0; r < kRowsPerThread; ++r) {
    const int64_t row = ty + r * (kThreads / kScoreTile);
    if (row >= rows) continue;
    const int64_t flat = first + row0 + row, hq = flat / p.q_len, i = flat % p.q_len;
    if (j >= allowed_keys(p, i)) continue;
    const float score = hk_first == hk_last ? acc[r]
                                            : sequential_dot(p.q, row_offset(p.q, 0, hq, i), p.k,
                                                             row_offset(p.k, 0, hq / group, j), p.dtype, p.head_dim);
    scores[(row0 + row) * p.kv_len + j] = score;
  }
}

// topk: the threshold of a row, by radix selection over the score keys (8 bits a pass, most significant first): the
// k-th largest key T, and among the keys equal to T the index of the last one kept, so that exactly k keys satisfy
// key > T or (key == T and j <= last_tied) -- the k best with ties to the lower index.
__global__ void __launch_bounds__(kThreads)
    topk_threshold_kernel(const KernelParams p, int64_t first, int64_t k, const float* scores, uint32_t* threshold,
                          int64_t* last_tied) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  __shared__ int histogram[256];
  __shared__ uint32_t prefix_shared;
  __shared__ int64_t remaining_shared, tied_shared;
  const int64_t row = blockIdx.x;
  const int64_t i = (first + row) % p.q_len;
  const int64_t allowed = allowed_keys(p, i);
  const float* s = scores + row * p.kv_len;
  if (k >= allowed) {  // every allowed key is kept
    if (threadIdx.x == 0) threshold[row] = 0u, last_tied[row] = p.kv_len;
    return;
  }
  uint32_t prefix = 0, mask = 0;
  int64_t remaining = k;  // keys still to take at the current prefix
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += kThreads) histogram[b] = 0;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < allowed; j += kThreads) {
      const uint32_t key = score_key(s[j]);
      if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 255u], 1);
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
  if (threadIdx.x == 0) threshold[row] = prefix, last_tied[row] = tied_shared;
}

// The bit words of the chunk's rows: word w of row r holds keys [64 w, 64 w + 64). topk keeps the keys above the
// row's threshold; nm ranks each key inside its group of M (the keys of the group that ScoreOrder puts first).
__global__ void row_bits_kernel(const KernelParams p, int64_t first, int64_t count, int64_t k_tiles, int64_t nm_n,
                                int64_t nm_m, const float* scores, const uint32_t* threshold, const int64_t* last_tied,
                                uint64_t* bits) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= count * k_tiles) return;
  const int64_t row = t / k_tiles, w = t % k_tiles;
  const int64_t r = first + row, hq = r / p.q_len, i = r % p.q_len;
  const int64_t allowed = allowed_keys(p, i);
  const float* s = scores + row * p.kv_len;
  uint64_t word = 0;
  const int64_t j_end = min(allowed, (w + 1) * 64);
  for (int64_t j = w * 64; j < j_end; ++j) {
    const uint32_t key = score_key(s[j]);
    bool keep;
    if (threshold != nullptr) {
      keep = key > threshold[row] || (key == threshold[row] && j <= last_tied[row]);
    } else {
      const int64_t group_begin = j / nm_m * nm_m, group_end = min(allowed, group_begin + nm_m);
      int64_t better = 0;
      for (int64_t x = group_begin; x < group_end && better < nm_n; ++x) {
        const uint32_t other = score_key(s[x]);
        better += other > key || (other == key && x < j) ? 1 : 0;
      }
      keep = better < nm_n;
    }
    if (keep) word |= uint64_t{1} << (j - w * 64);
  }
  const int64_t layout_row = hq * ((p.q_len + kTileQ - 1) / kTileQ) + i / kTileQ;
  bits[(layout_row * k_tiles + w) * kTileQ + i % kTileQ] = word;
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
        const dim3 score_grid(blocks_for(d.kv_len, kScoreTile), blocks_for(count, kScoreTile));
        scores_kernel<<<score_grid, kThreads, 0, s>>>(sp, first, count, w.scores);
        if (topk)
          topk_threshold_kernel<<<static_cast<unsigned>(count), kThreads, 0, s>>>(sp, first, d.params.topk_k, w.scores,
                                                                                  w.threshold, w.last_tied);
        row_bits_kernel<<<blocks_for(count * g.k_tiles, kThreads), kThreads, 0, s>>>(
            sp, first, count, g.k_tiles, d.params.nm_n, d.params.nm_m, w.scores, topk ? w.threshold : nullptr,
            w.last_tied, w.bits);
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
