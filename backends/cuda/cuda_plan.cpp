// Plan creation: the layout's rule, row pointers, spans and bit words go to the plan's device in one allocation, made
// here and freed with the plan (run() never allocates).
#include "cuda_plan.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backend_host.hpp"
#include <sattn_kernels.h>
#include "cuda_kernels.hpp"
#include "cuda_select.hpp"

namespace sattn_cuda {

using sattn_backend_util::Failure;

[[noreturn]] void fail_cuda(int error, const std::string& what) {
  const cudaError_t e = static_cast<cudaError_t>(error);
  throw Failure{e == cudaErrorMemoryAllocation ? SATTN_ERROR_OUT_OF_MEMORY : SATTN_ERROR_DEVICE,
                "cuda backend: " + what + ": " + cudaGetErrorString(e)};
}

void check_cuda(int error, const std::string& what) {
  if (error != cudaSuccess) fail_cuda(error, what);
}

DeviceScope::DeviceScope(int device) {
  check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
  if (previous_ != device) check_cuda(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
}

DeviceScope::~DeviceScope() {
  int current = previous_;
  if (cudaGetDevice(&current) == cudaSuccess && current != previous_) cudaSetDevice(previous_);
}

namespace {

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// The Hopper kernel's work items (query tile, head, batch; cuda_flash_wgmma.cu's default order) with the heavy rows
// moved to the front, the rest in the default order, which keeps the blocks running at one time on neighbouring
// tiles of one head (their K and V stay in L2). Window attention with global tokens is the case: its first query
// tile attends to every key, and run last it would finish alone. A row is heavy when it holds more than twice the
// mean tile count and more than an eighth of an SM's share of all tiles: lighter outliers (a random block mask's
// fullest rows) cost less at the end than moving them costs in L2 locality (block_mask_12 ran 4% slower reordered).
// Empty when no row is heavy (the default order then) or there are more than kMaxOrderedItems items (the order costs
// 4 bytes of device memory per item, which a layout shared by every head and batch does not: past 16 MiB the tail
// is cheaper).
constexpr int64_t kMaxOrderedItems = int64_t{1} << 22;
std::vector<int32_t> heavy_rows_first(const sattn_attention_desc& d, const sattn_layout_view& view,
                                      int multiprocessors) {
  const int64_t q_tiles = view.num_q_tiles, items = q_tiles * d.num_q_heads * d.batch;
  if (items <= 1 || items > kMaxOrderedItems) return {};
  std::vector<int64_t> tiles(static_cast<size_t>(items));
  int64_t total = 0;
  for (int64_t index = 0; index < items; ++index) {
    const int64_t rest = index / q_tiles;
    const int64_t row =
        sattn_layout_row(&view, rest / d.num_q_heads, rest % d.num_q_heads, q_tiles - 1 - index % q_tiles);
    int64_t count = 0;
    for (int64_t s = view.row_ptr[row]; s < view.row_ptr[row + 1]; ++s)
      count += std::max<int64_t>(0, int64_t{view.spans[s].k_end} - view.spans[s].k_begin);
    tiles[static_cast<size_t>(index)] = count;
    total += count;
  }
  std::vector<int32_t> order(static_cast<size_t>(items));
  for (int64_t index = 0; index < items; ++index) order[static_cast<size_t>(index)] = static_cast<int32_t>(index);
  const auto heavy = [&](int32_t index) {
    const int64_t count = tiles[static_cast<size_t>(index)];
    return count * items > 2 * total && count * 8 * multiprocessors > total;
  };
  const auto light = std::stable_partition(order.begin(), order.end(), heavy);
  if (light == order.begin()) return {};
  return order;
}

void copy_layout(Plan& plan, const sattn_layout* static_layout, int multiprocessors) {
  sattn_layout_view view{};
  view.struct_size = sizeof view;
  sattn_backend_util::check(host->get_layout_view(static_layout, &view));
  if (view.tile_q != plan.problem.tile_q || view.tile_k != kTileK || view.keys != nullptr)
    throw Failure{SATTN_ERROR_INTERNAL, "cuda backend: the layout does not have the tile shape it asked for"};
  const int64_t rows = view.batches * view.heads * view.num_q_tiles;
  const size_t rule_bytes = align16(sizeof(sattn_element_rule));
  const size_t row_bytes = align16(sizeof(int64_t) * static_cast<size_t>(rows + 1));
  const size_t span_bytes = align16(sizeof(sattn_tile_span) * static_cast<size_t>(view.num_spans));
  const size_t bit_bytes =
      align16(sizeof(uint64_t) * static_cast<size_t>(view.bits != nullptr ? view.num_bits_words : 0));
  const std::vector<int32_t> order =
      plan.wgmma ? heavy_rows_first(plan.desc, view, multiprocessors) : std::vector<int32_t>{};
  const size_t order_bytes = sizeof(int32_t) * order.size();
  std::vector<unsigned char> staging(rule_bytes + row_bytes + span_bytes + bit_bytes + order_bytes);
  unsigned char* at = staging.data();
  std::memcpy(at, view.rule, sizeof(sattn_element_rule));
  std::memcpy(at + rule_bytes, view.row_ptr, sizeof(int64_t) * static_cast<size_t>(rows + 1));
  if (view.num_spans > 0)
    std::memcpy(at + rule_bytes + row_bytes, view.spans, sizeof(sattn_tile_span) * static_cast<size_t>(view.num_spans));
  if (view.bits != nullptr && view.num_bits_words > 0)
    std::memcpy(at + rule_bytes + row_bytes + span_bytes, view.bits,
                sizeof(uint64_t) * static_cast<size_t>(view.num_bits_words));
  if (order_bytes > 0) std::memcpy(at + rule_bytes + row_bytes + span_bytes + bit_bytes, order.data(), order_bytes);

  check_cuda(cudaMalloc(&plan.device_layout, staging.size()), "allocating the layout on the device");
  check_cuda(cudaMemcpy(plan.device_layout, staging.data(), staging.size(), cudaMemcpyHostToDevice),
             "copying the layout to the device");
  auto* base = static_cast<unsigned char*>(plan.device_layout);
  plan.layout = view;
  plan.layout.rule = reinterpret_cast<const sattn_element_rule*>(base);
  plan.layout.row_ptr = reinterpret_cast<const int64_t*>(base + rule_bytes);
  plan.layout.spans = reinterpret_cast<const sattn_tile_span*>(base + rule_bytes + row_bytes);
  plan.layout.bits =
      bit_bytes > 0 ? reinterpret_cast<const uint64_t*>(base + rule_bytes + row_bytes + span_bytes) : nullptr;
  plan.work_order = order_bytes > 0
                        ? reinterpret_cast<const int32_t*>(base + rule_bytes + row_bytes + span_bytes + bit_bytes)
                        : nullptr;
}

// A data-dependent pattern has no static layout; its runs build their layouts in the workspace, all under one rule
// that only carries what applies element-wise on top of the selection: causal, the position offset and the global
// tokens. It lives on the device for the plan's lifetime.
void copy_selection_rule(Plan& plan) {
  const sattn_attention_desc& d = plan.desc;
  sattn_element_rule rule{};
  rule.struct_size = sizeof rule;
  rule.kind = SATTN_RULE_NONE;
  rule.causal = (d.flags & SATTN_FLAG_CAUSAL) != 0 ? 1 : 0;
  rule.q_offset = d.kv_len - d.q_len;
  rule.kv_len = d.kv_len;
  rule.global_tokens = d.pattern == SATTN_PATTERN_BLOCK_TOPK ? d.params.global_tokens : 0;
  rule.dilation = 1;
  check_cuda(cudaMalloc(&plan.device_layout, sizeof rule), "allocating the rule on the device");
  check_cuda(cudaMemcpy(plan.device_layout, &rule, sizeof rule, cudaMemcpyHostToDevice),
             "copying the rule to the device");
  plan.layout = sattn_layout_view{};
  plan.layout.struct_size = sizeof plan.layout;
  plan.layout.tile_q = kTileQ;
  plan.layout.tile_k = kTileK;
  plan.layout.num_q_tiles = (d.q_len + kTileQ - 1) / kTileQ;
  plan.layout.num_k_tiles = (d.kv_len + kTileK - 1) / kTileK;
  plan.layout.q_len = d.q_len;
  plan.layout.kv_len = d.kv_len;
  plan.layout.batches = 1;
  plan.layout.heads = 1;
  plan.layout.head_divisor = 1;
  plan.layout.rule = static_cast<const sattn_element_rule*>(plan.device_layout);
}

}  // namespace

bool hopper_kernels(int device) {
  int major = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  const char* wgmma = std::getenv("SATTN_CUDA_WGMMA");
  return major == 9 && (wgmma == nullptr || std::string(wgmma) != "0");
}

int64_t layout_tile_q(const sattn_problem& problem) {
  const sattn_attention_desc& d = *problem.desc;
  // Patterns whose partial tiles have fast masks (causal, plain band) and whose tiles a taller query tile does not
  // multiply; block patterns keep 128 rows, which their blocks usually divide.
  const bool pattern = d.pattern == SATTN_PATTERN_DENSE ||
                       (d.pattern == SATTN_PATTERN_SLIDING_WINDOW && d.params.dilation <= 1 && d.params.wrap == 0);
  if (!pattern || d.q_len <= kDecodeMaxQueries ||
      !wide_tiles_supported(d.dtype, d.precision, d.head_dim, d.head_dim_v) || !hopper_kernels(problem.device_id))
    return kTileQ;
  return kTileQWide;
}

void carve_decode(const Plan& plan, WorkspaceCarver& carver, DecodePlan* decode) {
  const DecodePlan& d = plan.decode;
  if (d.splits == 0) return;
  const sattn_attention_desc& desc = plan.desc;
  const size_t rows = static_cast<size_t>(d.splits) * static_cast<size_t>(desc.batch * desc.num_q_heads * desc.q_len);
  float* partial_o = carver.take<float>(rows * static_cast<size_t>(desc.head_dim_v));
  float* partial_stats = carver.take<float>(2 * rows);
  if (decode != nullptr) *decode = d, decode->partial_o = partial_o, decode->partial_stats = partial_stats;
}

bool is_quantized(const sattn_attention_desc& desc) {
  return desc.precision == SATTN_PRECISION_INT8 || desc.precision == SATTN_PRECISION_INT4;
}

void carve_quantized(const Plan& plan, WorkspaceCarver& carver, QuantizedBuffers* buffers) {
  const sattn_attention_desc& d = plan.desc;
  if (!is_quantized(d)) return;
  // Landmark attends to m <= kv_len derived keys: kv_len rows are enough for every pattern.
  const auto count = [](int64_t a, int64_t b, int64_t c, int64_t e) { return static_cast<size_t>(a * b * c * e); };
  QuantizedBuffers q{};
  q.row_bytes = (d.head_dim + 3) / 4 * 4;
  q.q = carver.take<int8_t>(count(d.batch, d.num_q_heads, d.q_len, q.row_bytes));
  q.k = carver.take<int8_t>(count(d.batch, d.num_kv_heads, d.kv_len, q.row_bytes));
  q.v = carver.take<int8_t>(count(d.batch, d.num_kv_heads, d.kv_len, d.head_dim_v));
  q.q_scale = carver.take<float>(count(d.batch, d.num_q_heads, d.q_len, 1));
  q.k_scale = carver.take<float>(count(d.batch, d.num_kv_heads, d.kv_len, 1));
  q.v_scale = carver.take<float>(count(d.batch, d.num_kv_heads, d.head_dim_v, 1));
  q.lse_shift = carver.take<float>(count(d.batch, d.num_q_heads, d.q_len, 1));
  q.kbar = carver.take<double>(count(d.batch, d.num_kv_heads, d.head_dim, 1));
  q.v_max_scale = carver.take<double>(count(d.batch, d.num_kv_heads, d.head_dim_v, 1));
  q.qmax = d.precision == SATTN_PRECISION_INT4 ? 7.0 : 127.0;
  q.given_q = d.params.scale_q, q.given_k = d.params.scale_k, q.given_v = d.params.scale_v;
  q.softmax_scale = d.scale;
  if (buffers != nullptr) *buffers = q;
}

sattn_status plan_create(const sattn_problem* problem, const sattn_layout* static_layout, void** state) {
  return sattn_backend_util::boundary(host, "cuda", [&] {
    const SelectionFamily* family = selection_family(problem->desc->pattern);
    if (static_layout == nullptr && family == nullptr)
      throw Failure{SATTN_ERROR_NOT_SUPPORTED, "cuda backend: pattern " + std::to_string(problem->desc->pattern) +
                                                   " is not selected on the device"};
    auto plan = std::make_unique<Plan>();
    plan->desc = *problem->desc;
    plan->problem = *problem;
    plan->problem.desc = &plan->desc;
    plan->device = problem->device_id;
    DeviceScope scope(plan->device);
    check_cuda(prepare_generic(), "raising the generic kernel's shared-memory limit");
    check_cuda(prepare_flash(), "raising the flash kernel's shared-memory limit");
    check_cuda(prepare_decode(), "raising the decode kernel's shared-memory limit");
    check_cuda(prepare_quantized(), "raising the integer kernel's shared-memory limit");
    check_cuda(prepare_flash_int8(), "raising the int8 tensor-core kernel's shared-memory limit");
    plan->wgmma = hopper_kernels(plan->device);
    if (plan->wgmma) check_cuda(prepare_flash_wgmma(), "raising the wgmma kernel's shared-memory limit");
    check_cuda(cudaDeviceGetAttribute(&plan->multiprocessors, cudaDevAttrMultiProcessorCount, plan->device),
               "asking for the number of SMs");
    try {
      if (static_layout != nullptr) {
        copy_layout(*plan, static_layout, plan->multiprocessors);
        if (!is_quantized(plan->desc)) plan->decode = plan_decode(plan->desc, plan->layout, plan->multiprocessors);
        WorkspaceCarver measure(nullptr);
        carve_decode(*plan, measure);
        carve_quantized(*plan, measure);
        plan->workspace_bytes = measure.bytes();
      } else {
        plan->family = family;
        copy_selection_rule(*plan);
        WorkspaceCarver measure(nullptr);
        family->carve(*plan, measure);
        plan->quantized_offset = (measure.bytes() + 255) / 256 * 256;
        WorkspaceCarver quantized(nullptr);
        carve_quantized(*plan, quantized);
        plan->workspace_bytes = plan->quantized_offset + quantized.bytes();
      }
    } catch (...) {
      if (plan->device_layout != nullptr) cudaFree(plan->device_layout);
      throw;
    }
    const sattn_attention_desc& d = plan->desc;
    const bool tensor_cores = sixteen_bit_tensors(d.dtype, d.precision) && d.head_dim == d.head_dim_v &&
                              (d.head_dim == 64 || d.head_dim == 128);
    if (is_quantized(d)) {
      plan->kernel = d.head_dim == d.head_dim_v && (d.head_dim == 64 || d.head_dim == 128)
                         ? "cuda_quantize + cuda_flash_int8_mma_m16n8k32 (int8 scores, f16 P V on tensor cores)"
                         : "cuda_quantize + cuda_integer_warp_per_row (dp4a scores, fp32 softmax and P V)";
      *state = plan.release();
      return;
    }
    if (plan->decode.splits > 0) {
      const DecodePlan& decode = plan->decode;
      plan->kernel = "cuda_decode_split_k (" + std::to_string(decode.splits) + " splits of the keys, " +
                     (decode.tc_heads_per_block > 0
                          ? "flash mma.sync blocks of " + std::to_string(decode.tc_heads_per_block) +
                                " query heads (CUDA cores for unaligned tensors), "
                          : "CUDA-core blocks of " + std::to_string(decode.heads_per_block) + " query heads, ") +
                     "log-sum-exp merge)";
      *state = plan.release();
      return;
    }
    if (tensor_cores && plan->wgmma) {  // the persistent kernel's item counter follows the other buffers
      plan->has_work_counter = true;
      plan->work_counter_offset = (plan->workspace_bytes + 255) / 256 * 256;
      plan->workspace_bytes = plan->work_counter_offset + sizeof(uint32_t);
    }
    plan->kernel = tensor_cores
                       ? std::string(plan->wgmma ? "cuda_flash_wgmma_m64nNk16_d" : "cuda_flash_mma_m16n8k16_d") +
                             std::to_string(d.head_dim) +
                             (plan->layout.tile_q == kTileQWide ? " (192-row tiles: three consumer warpgroups)" : "") +
                             " (cuda_generic_warp_per_row for unaligned tensors)"
                       : std::string("cuda_generic_warp_per_row");
    *state = plan.release();
  });
}

void plan_destroy(void* state) {
  auto* plan = static_cast<Plan*>(state);
  if (plan == nullptr) return;
  if (plan->device_layout != nullptr) {
    int previous = 0;
    const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != plan->device &&
                          cudaSetDevice(plan->device) == cudaSuccess;
    cudaFree(plan->device_layout);  // synchronises with work still reading the layout
    if (switched) cudaSetDevice(previous);
  }
  delete plan;
}

}  // namespace sattn_cuda
