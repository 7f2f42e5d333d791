// The built-in RISC-V Vector backend "rvv": a flash-style kernel over the core's block layout, vectorised over query
// rows with RVV 1.0 intrinsics (rvv_kernel.cpp), VLEN-agnostic: fp32, bf16, fp16, int8 and int4 for every pattern.
// Built for rv64gc like the rest of libsattn: it calls into the rv64gcv kernel sources only once probe() has seen V.
#include <sattn_backend.h>
#include <sattn_kernels.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rvv_host.hpp"
#include "rvv_kernel.hpp"

namespace sattn_rvv {

const sattn_host_api* host = nullptr;

namespace {

struct Plan {
  sattn_attention_desc desc;  // the plan's own copy: problem.desc points here
  sattn_problem problem;
  std::string kernel;
  int64_t slot_floats;  // scratch of one worker
  int64_t slots;        // workers that may run at once, each with its own slot of the workspace
};

// Registration asks once; every other entry point runs only for an available backend.
int probe() { return probe_has_vector() ? 1 : 0; }

sattn_status supports(const sattn_problem* problem) {
  const sattn_attention_desc& d = *problem->desc;
  if (d.dtype != SATTN_DTYPE_F32 && d.dtype != SATTN_DTYPE_F16 && d.dtype != SATTN_DTYPE_BF16) {
    host->set_error("rvv backend: only f32, f16 and bf16 tensors");
    return SATTN_ERROR_NOT_SUPPORTED;
  }
  return SATTN_OK;
}

bool block_pattern(int32_t pattern) {
  return pattern == SATTN_PATTERN_BLOCK_TOPK || pattern == SATTN_PATTERN_BLOCK_LOCAL_GLOBAL ||
         pattern == SATTN_PATTERN_BLOCK_MASK;
}

// Query rows per tile: enough that the G stacked heads fill whole chunks of VLMAX rows (each vector instruction
// then works on VLMAX lanes), at least 128, and no more than the sequence has. Block patterns take their block
// size (a multiple of 8, at most 256) for both sides, so every kept block is one FULL or CAUSAL tile, as in cpu.
void tile_shape(const sattn_problem* problem, int64_t* tile_q, int64_t* tile_k) {
  const sattn_attention_desc& d = *problem->desc;
  const int64_t group = std::max<int64_t>(1, d.num_q_heads / std::max<int64_t>(1, d.num_kv_heads));
  const int64_t block = d.params.block_size;
  const int64_t needed = (std::max(d.q_len, d.kv_len) + INT32_MAX - 1) / INT32_MAX;
  if (block_pattern(d.pattern) && block > 0 && block % 8 == 0 && block <= 256) {
    *tile_q = *tile_k = std::clamp<int64_t>(std::max(block, needed), 1, 65536);
    return;
  }
  const int64_t rows = std::max<int64_t>(128, (chunk_rows() + group - 1) / group);
  *tile_q = std::clamp<int64_t>(std::max(std::min(rows, d.q_len), needed), 1, 65536);
  // 64 keys: the per-tile work (packing K^T, the softmax's rescale) is a few percent of the tile's multiply-adds.
  // Windows take 32: an edge tile costs the rows its keys concern (2 w + tile_k positions), so shorter tiles waste
  // less (docs/performance.md counts both).
  const int64_t keys = d.pattern == SATTN_PATTERN_SLIDING_WINDOW ? 32 : 64;
  *tile_k = std::clamp<int64_t>(std::max(keys, needed), 1, 65536);
}

// Estimated seconds, only compared with the other backends' estimates, which count 2 (D + Dv) flops per kept pair
// at 40 GFLOP/s (cpu) and 4 GFLOP/s (reference). The kernel's instruction count per pair shrinks with the lanes a
// vector instruction fills (VLMAX rows, or the rows a tile has); below 4 lanes the portable cpu backend is the
// better choice, above it rvv is.
double cost(const sattn_problem* problem) {
  const sattn_attention_desc& d = *problem->desc;
  const double pairs = static_cast<double>(d.batch) * static_cast<double>(d.num_q_heads) *
                       static_cast<double>(d.q_len) * static_cast<double>(d.kv_len);
  const int64_t group = std::max<int64_t>(1, d.num_q_heads / std::max<int64_t>(1, d.num_kv_heads));
  const double lanes = static_cast<double>(std::min(chunk_rows(), group * std::min<int64_t>(d.q_len, 128)));
  return 2.0 * pairs * static_cast<double>(d.head_dim + d.head_dim_v) / (4e10 * std::max(0.5, lanes / 4.0));
}

sattn_status plan_create(const sattn_problem* problem, const sattn_layout*, void** state) {
  return boundary([&] {
    auto plan = std::make_unique<Plan>();
    plan->desc = *problem->desc;
    plan->problem = *problem;
    plan->problem.desc = &plan->desc;
    const sattn_attention_desc& d = plan->desc;
    plan->kernel = "rvv_flash_m" + std::to_string(kMacLmul) + "_vlen" + std::to_string(vector_bytes() * 8) + "_" +
                   sattn_precision_name(d.precision);
    const int64_t group = d.num_q_heads / d.num_kv_heads;
    plan->slot_floats = scratch_floats(problem->tile_q, problem->tile_k, group, d.head_dim, d.head_dim_v);
    const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
    // More workers than cores never run at once: the workspace stays a few tiles per core whatever the caller asks.
    plan->slots = problem->num_threads > 0 ? std::min<int64_t>(problem->num_threads, cores) : cores;
    *state = plan.release();
  });
}

void plan_destroy(void* state) { delete static_cast<Plan*>(state); }

const char* kernel_name(const void* state) { return static_cast<const Plan*>(state)->kernel.c_str(); }

// Scratch lives in the caller's workspace: one slot per worker, each sized by the tile (never by Lq x Lk).
size_t workspace_size(const void* state) {
  const Plan& plan = *static_cast<const Plan*>(state);
  return static_cast<size_t>(plan.slots * plan.slot_floats) * sizeof(float);
}

sattn_status can_implement(const void*, const sattn_run_args*) { return SATTN_OK; }

// The int8/int4 operands of one run (docs/patterns.md): Q, K and V gathered to fp32 (landmark: the derived keys and
// values) and quantised by the host, the one definition every backend shares.
struct Quantized {
  std::vector<float> q, k, v;
  std::vector<int8_t> q8, k8, v8;
  std::vector<float> q_scale, k_scale, v_scale, lse_shift;
  sattn_quantized_operands operands{};
};

void quantize(const Plan& plan, const sattn_run_args& args, const sattn_layout_view& view, Quantized& out) {
  const sattn_attention_desc& d = plan.desc;
  const auto size = [](int64_t a, int64_t b, int64_t c, int64_t e) { return static_cast<size_t>(a * b * c * e); };
  const int64_t kv_rows = view.kv_len;
  out.q.resize(size(d.batch, d.num_q_heads, d.q_len, d.head_dim));
  check(host->gather_f32(args.q, out.q.data()));
  const float* k = view.keys;
  const float* v = view.values;
  if (k == nullptr) {  // not landmark: the run's K and V
    out.k.resize(size(d.batch, d.num_kv_heads, kv_rows, d.head_dim));
    out.v.resize(size(d.batch, d.num_kv_heads, kv_rows, d.head_dim_v));
    check(host->gather_f32(args.k, out.k.data()));
    check(host->gather_f32(args.v, out.v.data()));
    k = out.k.data();
    v = out.v.data();
  }
  out.q8.resize(out.q.size());
  out.k8.resize(size(d.batch, d.num_kv_heads, kv_rows, d.head_dim));
  out.v8.resize(size(d.batch, d.num_kv_heads, kv_rows, d.head_dim_v));
  out.q_scale.resize(size(d.batch, d.num_q_heads, d.q_len, 1));
  out.k_scale.resize(size(d.batch, d.num_kv_heads, kv_rows, 1));
  out.v_scale.resize(size(d.batch, d.num_kv_heads, d.head_dim_v, 1));
  out.lse_shift.resize(out.q_scale.size());
  out.operands = sattn_quantized_operands{sizeof(sattn_quantized_operands),
                                          0u,
                                          out.q8.data(),
                                          out.k8.data(),
                                          out.v8.data(),
                                          out.q_scale.data(),
                                          out.k_scale.data(),
                                          out.v_scale.data(),
                                          out.lse_shift.data()};
  check(host->quantize(&plan.problem, out.q.data(), k, v, kv_rows, &out.operands));
}

sattn_status run(const void* state, const sattn_run_args* args, const sattn_layout* layout, void* workspace,
                 size_t workspace_bytes, void*, sattn_run_counters*) {
  return boundary([&] {
    const Plan& plan = *static_cast<const Plan*>(state);
    if (layout == nullptr) throw Failure{SATTN_ERROR_INTERNAL, "rvv backend: the core passed no layout"};
    if (workspace_bytes < workspace_size(state) || (workspace == nullptr && workspace_size(state) > 0))
      throw Failure{SATTN_ERROR_INVALID_ARGUMENT, "rvv backend: the workspace is smaller than workspace_size"};
    sattn_layout_view view{};
    view.struct_size = sizeof view;
    check(host->get_layout_view(layout, &view));
    if (view.tile_q != plan.problem.tile_q || view.tile_k != plan.problem.tile_k)  // the scratch is sized by them
      throw Failure{SATTN_ERROR_INTERNAL, "rvv backend: the layout's tiles differ from the plan's"};
    const sattn_attention_desc& d = plan.desc;
    Quantized quantized;
    if (sattn_is_integer_precision(d.precision)) quantize(plan, *args, view, quantized);
    const KernelParams params{
        &view,      args->q,       args->k,
        args->v,    args->o,       args->lse,
        d.batch,    d.num_q_heads, d.num_kv_heads,
        d.q_len,    d.head_dim,    d.head_dim_v,
        d.scale,    d.precision,   sattn_is_integer_precision(d.precision) ? &quantized.operands : nullptr,
        view.kv_len};
    const int64_t tasks = d.batch * d.num_kv_heads * view.num_q_tiles;
    const int64_t slots = std::min(plan.slots, tasks);
    float* scratch = static_cast<float*>(workspace);
    // Worker slot c runs tasks c, c + slots, ...: interleaving spreads the longer causal rows over the workers.
    parallel_for(slots, plan.problem.num_threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c)
        for (int64_t t = c; t < tasks; t += slots) run_task(params, scratch + c * plan.slot_floats, t);
    });
  });
}

constexpr uint32_t kAllPatterns = ((1u << SATTN_PATTERN_COUNT) - 1u) & ~(1u << SATTN_PATTERN_AUTO);
constexpr uint32_t kPrecisions = (1u << SATTN_PRECISION_FP32) | (1u << SATTN_PRECISION_BF16) |
                                 (1u << SATTN_PRECISION_FP16) | (1u << SATTN_PRECISION_INT8) |
                                 (1u << SATTN_PRECISION_INT4);

const sattn_backend_ops kOps{sizeof(sattn_backend_ops),
                             SATTN_BACKEND_ABI_VERSION,
                             "rvv",
                             "RISC-V Vector 1.0 flash-style attention, vectorised over query rows, any VLEN: every "
                             "pattern, fp32/bf16/fp16/int8/int4",
                             SATTN_DEVICE_CPU,
                             0u,
                             kAllPatterns,
                             kPrecisions,
                             probe,
                             supports,
                             cost,
                             tile_shape,
                             plan_create,
                             plan_destroy,
                             kernel_name,
                             workspace_size,
                             can_implement,
                             run,
                             nullptr};  // selects_itself: the core builds every layout

}  // namespace
}  // namespace sattn_rvv

extern "C" const sattn_backend_ops* sattn_rvv_backend_entry(uint32_t abi, const sattn_host_api* api) {
  if (abi != SATTN_BACKEND_ABI_VERSION || api == nullptr || api->struct_size < sizeof(sattn_host_api)) return nullptr;
  sattn_rvv::host = api;
  return &sattn_rvv::kOps;
}
