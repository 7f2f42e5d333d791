// lsh on the device (docs/patterns.md): queries and keys hash to the first argmax of [x.R, -x.R], with the SplitMix64
// projection R[D][nb/2] generated per element in closed form (sattn_lsh_projection in sattn_kernels.h), so no matrix
// is stored, whatever nb. The layout lists, per (batch, query head,
// query tile), the key tiles where some query of the tile shares a bucket with some key of the tile or holds its own
// position; its spans are of the backend's kind kTileBuckets, which the kernels evaluate element by element from the
// buckets (tile_keeps in cuda_device.cuh), causal on top.
//
// Workspace: the buckets (4 bytes per query row and per key row) and the layout, whose rows have a fixed number of
// span slots, (k_tiles + 1) / 2 (the most runs of consecutive kept tiles a row can have), padded with empty spans.
#include <algorithm>

#include "cuda_select_common.cuh"
#include "cuda_select_rows.hpp"

namespace sattn_cuda {
namespace {

constexpr int kHashWarps = 4;
constexpr int kTileThreads = 256;
constexpr int64_t kMaxKeyTiles = 40 * 1024;  // one flag byte per key tile in shared memory (48 KiB in all)

struct LshGeometry {
  int64_t q_tiles, k_tiles, rows, slots;
  explicit LshGeometry(const sattn_attention_desc& d)
      : q_tiles((d.q_len + kTileQ - 1) / kTileQ),
        k_tiles((d.kv_len + kTileK - 1) / kTileK),
        rows(d.batch * d.num_q_heads * q_tiles),
        slots((k_tiles + 1) / 2) {}
};

struct LshBuffers {
  int32_t* q_buckets;
  int32_t* k_buckets;
  int64_t* row_ptr;
  sattn_tile_span* spans;
};

LshBuffers carve_lsh(const Plan& plan, WorkspaceCarver& carver) {
  const sattn_attention_desc& d = plan.desc;
  const LshGeometry g(d);
  LshBuffers w{};
  // kTileQ entries of padding: the flash kernel evaluates the rows of a last, partial query tile too (their results
  // are dropped), and for the last head those read past the end of the query buckets.
  w.q_buckets = carver.take<int32_t>(static_cast<size_t>(d.batch * d.num_q_heads * d.q_len + kTileQ));
  w.k_buckets = carver.take<int32_t>(static_cast<size_t>(d.batch * d.num_kv_heads * d.kv_len));
  w.row_ptr = carver.take<int64_t>(static_cast<size_t>(g.rows + 1));
  w.spans = carver.take<sattn_tile_span>(static_cast<size_t>(g.rows * g.slots));
  return w;
}

// R[d][c], draw number d * half + c + 1 of SplitMix64 started at seed, mapped to [-1, 1) exactly as the core does.
struct Best {
  float value;  // ScoreOrder's rank: NaN as -inf
  int32_t index;
};

__device__ inline Best better(Best a, Best b) {
  return a.value > b.value || (a.value == b.value && a.index < b.index) ? a : b;
}

__device__ inline float rank(float v) { return v != v ? -INFINITY : v; }

// One warp per row of x ([batches, heads, len, D]); the lanes split the nb/2 projections, each accumulated over d in
// increasing order without fused multiply-add, then the warp reduces to the first argmax of [x.R, -x.R].
__global__ void __launch_bounds__(kHashWarps * 32)
    hash_kernel(const Operand x, int32_t dtype, int64_t heads, int64_t len, int64_t dim, int64_t half, uint64_t seed,
                int64_t rows, int32_t* buckets) {
  extern __shared__ float shared_rows[];
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t r = blockIdx.x * static_cast<int64_t>(kHashWarps) + warp;
  if (r >= rows) return;  // no block-wide barrier follows
  const int64_t b = r / (heads * len), h = r / len % heads, i = r % len;
  float* row = shared_rows + warp * dim;
  const int64_t offset = row_offset(x, b, h, i);
  for (int64_t d = lane; d < dim; d += 32) row[d] = load_element(x.data, offset + d * x.stride[3], dtype);
  __syncwarp();
  Best positive{-INFINITY, 0x7fffffff}, negative{-INFINITY, 0x7fffffff};
  for (int64_t c = lane; c < half; c += 32) {
    float acc = 0.0f;
    for (int64_t d = 0; d < dim; ++d) acc = __fadd_rn(acc, __fmul_rn(row[d], sattn_lsh_projection(seed, d, half, c)));
    positive = better(positive, Best{rank(acc), static_cast<int32_t>(c)});
    negative = better(negative, Best{rank(-acc), static_cast<int32_t>(half + c)});
  }
  for (int offset_lane = 16; offset_lane > 0; offset_lane /= 2) {
    positive = better(positive, Best{__shfl_xor_sync(0xffffffffu, positive.value, offset_lane),
                                     __shfl_xor_sync(0xffffffffu, positive.index, offset_lane)});
    negative = better(negative, Best{__shfl_xor_sync(0xffffffffu, negative.value, offset_lane),
                                     __shfl_xor_sync(0xffffffffu, negative.index, offset_lane)});
  }
  // Every positive index is below every negative one: the negative half wins only when strictly larger.
  if (lane == 0) buckets[r] = negative.value > positive.value ? negative.index : positive.index;
}

// One block per layout row (b, hq, query tile): flags the key tiles holding a key of some query's bucket or some
// query's own position (with causal only up to the tile's last position), then writes the runs of flagged tiles as
// spans into the row's slots.
__global__ void __launch_bounds__(kTileThreads)
    lsh_tiles_kernel(const KernelParams p, const int32_t* q_buckets, const int32_t* k_buckets, int64_t k_tiles,
                     int64_t slots, int64_t rows, int64_t* row_ptr, sattn_tile_span* spans) {
  extern __shared__ unsigned char flags[];
  __shared__ int32_t tile_buckets[kTileQ];
  const int64_t row = blockIdx.x, q_tiles = (p.q_len + kTileQ - 1) / kTileQ;
  const int64_t qt = row % q_tiles, hq = row / q_tiles % p.q_heads, b = row / (q_tiles * p.q_heads);
  const int64_t hk = hq / (p.q_heads / p.kv_heads);
  const int64_t i0 = qt * kTileQ, count = min(kTileQ, p.q_len - i0);
  for (int64_t x = threadIdx.x; x < k_tiles; x += kTileThreads) flags[x] = 0;
  for (int64_t x = threadIdx.x; x < count; x += kTileThreads)
    tile_buckets[x] = q_buckets[(b * p.q_heads + hq) * p.q_len + i0 + x];
  __syncthreads();
  const sattn_element_rule& rule = *p.layout.rule;
  const int64_t first_position = i0 + rule.q_offset, last_position = i0 + count - 1 + rule.q_offset;
  const int64_t limit = rule.causal ? max(int64_t{0}, min(p.kv_len, last_position + 1)) : p.kv_len;
  const int32_t* keys = k_buckets + (b * p.kv_heads + hk) * p.kv_len;
  for (int64_t j = threadIdx.x; j < limit; j += kTileThreads) {
    const int64_t tile = j / kTileK;
    if (flags[tile] != 0) continue;
    bool kept = j >= first_position && j <= last_position;
    for (int64_t x = 0; x < count && !kept; ++x) kept = tile_buckets[x] == keys[j];
    if (kept) flags[tile] = 1;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  sattn_tile_span* out = spans + row * slots;
  int64_t used = 0;
  for (int64_t t = 0; t < k_tiles;) {
    if (flags[t] == 0) {
      ++t;
      continue;
    }
    int64_t end = t + 1;
    while (end < k_tiles && flags[end] != 0) ++end;
    out[used++] = sattn_tile_span{static_cast<int32_t>(t), static_cast<int32_t>(end), kTileBuckets, 0, 0};
    t = end;
  }
  for (; used < slots; ++used) out[used] = sattn_tile_span{0, 0, kTileBuckets, 0, 0};
  row_ptr[row] = row * slots;
  if (row == rows - 1) row_ptr[rows] = rows * slots;
}

std::string refuse_lsh(const sattn_problem& problem) {
  const sattn_attention_desc& d = *problem.desc;
  const int64_t k_tiles = (d.kv_len + kTileK - 1) / kTileK;
  if (k_tiles > kMaxKeyTiles)
    return "lsh: kv_len " + std::to_string(d.kv_len) + " has more than " + std::to_string(kMaxKeyTiles) +
           " key tiles of " + std::to_string(kTileK) + " (the tile flags live in shared memory)";
  return {};
}

void carve(const Plan& plan, WorkspaceCarver& carver) { (void)carve_lsh(plan, carver); }

int run(const Plan& plan, const sattn_run_args& args, KernelParams& params, void* workspace, void* stream) {
  (void)args;
  const sattn_attention_desc& d = plan.desc;
  const LshGeometry g(d);
  WorkspaceCarver carver(workspace);
  const LshBuffers w = carve_lsh(plan, carver);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t half = d.params.lsh_buckets / 2;
  const size_t hash_shared = sizeof(float) * kHashWarps * static_cast<size_t>(d.head_dim);
  const int64_t q_rows = d.batch * d.num_q_heads * d.q_len, k_rows = d.batch * d.num_kv_heads * d.kv_len;
  if (q_rows > 0)
    hash_kernel<<<blocks_for(q_rows, kHashWarps), kHashWarps * 32, hash_shared, s>>>(
        params.q, params.dtype, d.num_q_heads, d.q_len, d.head_dim, half, d.params.lsh_seed, q_rows, w.q_buckets);
  if (k_rows > 0)
    hash_kernel<<<blocks_for(k_rows, kHashWarps), kHashWarps * 32, hash_shared, s>>>(
        params.k, params.dtype, d.num_kv_heads, d.kv_len, d.head_dim, half, d.params.lsh_seed, k_rows, w.k_buckets);
  if (g.rows > 0)
    lsh_tiles_kernel<<<static_cast<unsigned>(g.rows), kTileThreads, static_cast<size_t>(g.k_tiles), s>>>(
        params, w.q_buckets, w.k_buckets, g.k_tiles, g.slots, g.rows, w.row_ptr, w.spans);
  cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return error;
  params.layout.batches = d.batch;
  params.layout.heads = d.num_q_heads;
  params.layout.head_divisor = 1;
  params.layout.row_ptr = w.row_ptr;
  params.layout.spans = w.spans;
  params.layout.num_spans = g.rows * g.slots;
  params.selection.q_buckets = w.q_buckets;
  params.selection.k_buckets = w.k_buckets;
  return attend(params, stream);
}

const SelectionFamily kLshFamily{refuse_lsh, carve, run};

}  // namespace

const SelectionFamily* lsh_family() { return &kLshFamily; }

}  // namespace sattn_cuda
