// libFuzzer target over the C API: the input is read as a sattn_attention_desc (with struct_size variants), optional
// sattn_plan_prefs, and for small problems tensors and a u8 block mask filled from the input. It then calls
// sattn_plan_create, _can_implement, _workspace_size, _run, _get_info, _get_stats and _destroy. It asserts only
// that nothing crashes (the sanitizers catch memory errors, leaks and undefined behaviour) and that every failure
// status comes with a non-empty sattn_last_error().
//
// Input layout (missing bytes read as zero):
//   [0, 8)            control bytes, see struct Control
//   [8, 8 + 344)      the descriptor's bytes as the struct holds them (x86-64 / LP64 layout)
//   next 16 bytes     prefs: struct_size variant, flags, device_id, num_threads
//   next 32 bytes     a backend name (NUL-terminated within these bytes, used when the prefs mode asks for it)
//   the rest          tensor and block-mask contents, read cyclically
// tests/fuzz/make_corpus.py writes the seed corpus in this layout.
#include <sattn.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/descriptor.hpp"
#include "core/error.hpp"

namespace {

// Plans whose layout is built at creation (dense, sliding_window, block_local_global) cost O(1) per query row and a
// few spans per query tile, whatever kv_len is; they are created for q_len <= 2^13 (a millisecond or so under the
// sanitizers) and any kv_len. Longer queries still go through validation (resolve_problem) and, for patterns whose
// layout is built per run, through plan creation too.
constexpr int64_t kMaxPlannedLength = int64_t{1} << 13;
// A run happens only when every tensor has at most 2^14 elements and the work of the run (pairs times head
// dimensions, LSH hashing, k-means rounds) stays under 2^16 operations, so that an input costs about a millisecond
// under the sanitizers and the ctest run of 200000 inputs takes a few minutes.
constexpr int64_t kMaxRunElements = int64_t{1} << 14;
constexpr int64_t kMaxRunWork = int64_t{1} << 16;

bool verbose() {
  static const bool on = std::getenv("SATTN_FUZZ_VERBOSE") != nullptr;
  return on;
}

// Every failure must explain itself.
void check(sattn_status status, const char* call) {
  if (verbose()) std::fprintf(stderr, "%s: %s %s\n", call, sattn_status_string(status), sattn_last_error());
  if (status == SATTN_OK) return;
  const char* message = sattn_last_error();
  if (message == nullptr || message[0] == '\0') {
    std::fprintf(stderr, "fuzz_plan: %s returned %s with an empty sattn_last_error()\n", call,
                 sattn_status_string(status));
    std::abort();
  }
}

// Reads the input front to back; past its end every byte is zero.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  void take(void* out, size_t n) {
    auto* bytes = static_cast<uint8_t*>(out);
    for (size_t i = 0; i < n; ++i) bytes[i] = pos_ < size_ ? data_[pos_++] : 0;
  }
  template <typename T>
  T get() {
    T value{};
    take(&value, sizeof value);
    return value;
  }
  // What is left, for tensor contents.
  const uint8_t* rest() const { return data_ + std::min(pos_, size_); }
  size_t rest_size() const { return size_ - std::min(pos_, size_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

struct Control {
  uint8_t desc_size;  // struct_size variant of the descriptor
  uint8_t tame;       // which groups of fields are folded into small ranges (bits below)
  uint8_t prefs;      // prefs variant
  uint8_t run;        // what the run does: tensor layout, LSE, data range, workspace
  uint8_t mutate;     // which run argument is spoiled, if any
  uint8_t detail;     // how
  uint8_t info;       // struct_size variants of plan_info and plan_stats
  uint8_t extra;      // long lengths, broadcast inputs
};

enum TameBits : uint8_t {
  kTameSizes = 1,     // batch, heads, lengths, head dims into small ranges
  kTameParams = 2,    // pattern parameters into small ranges
  kTameEnums = 4,     // dtype, precision, pattern, flags, scales into (mostly) valid values
  kTameReserved = 8,  // reserved words zero
};

uint64_t fold(int64_t raw, uint64_t range) { return static_cast<uint64_t>(raw) % range; }

void tame_descriptor(sattn_attention_desc& d, uint8_t tame, uint8_t extra) {
  if (tame & kTameSizes) {
    d.num_kv_heads = 1 + static_cast<int64_t>(fold(d.num_kv_heads, 3));
    d.num_q_heads = d.num_kv_heads * (1 + static_cast<int64_t>(fold(d.num_q_heads, 3)));
    d.batch = 1 + static_cast<int64_t>(fold(d.batch, 3));
    // Mostly short sequences that can run; one input in four up to the planning bound or far beyond it (most of
    // those are only validated, or planned without a run: see kMaxPlannedLength).
    uint64_t length_range = 64;
    if ((extra & 3) == 3) length_range = (extra & 0x20) ? uint64_t{1} << 41 : uint64_t{kMaxPlannedLength};
    d.q_len = 1 + static_cast<int64_t>(fold(d.q_len, length_range));
    d.kv_len = 1 + static_cast<int64_t>(fold(d.kv_len, length_range));
    d.head_dim = 1 + static_cast<int64_t>(fold(d.head_dim, 16));
    d.head_dim_v = 1 + static_cast<int64_t>(fold(d.head_dim_v, 16));
  }
  if (tame & kTameParams) {
    sattn_pattern_params& p = d.params;
    p.window_size = static_cast<int64_t>(fold(p.window_size, 40));
    p.dilation = static_cast<int64_t>(fold(p.dilation, 6));
    p.wrap = static_cast<int64_t>(fold(p.wrap, 2));
    p.global_tokens = static_cast<int64_t>(fold(p.global_tokens, 24));
    p.block_size = static_cast<int64_t>(fold(p.block_size, 40));
    p.topk_blocks = static_cast<int64_t>(fold(p.topk_blocks, 10));
    p.local_blocks = static_cast<int64_t>(fold(p.local_blocks, 5));
    p.comp_block_size = static_cast<int64_t>(fold(p.comp_block_size, 24));
    p.nm_n = static_cast<int64_t>(fold(p.nm_n, 9));
    p.nm_m = static_cast<int64_t>(fold(p.nm_m, 9));
    p.topk_k = static_cast<int64_t>(fold(p.topk_k, 24));
    p.lsh_buckets = static_cast<int64_t>(fold(p.lsh_buckets, 18));
    p.num_landmarks = static_cast<int64_t>(fold(p.num_landmarks, 24));
    p.landmark_iters = static_cast<int64_t>(fold(p.landmark_iters, 6));
    if (!(p.keep_ratio >= 0.0f && p.keep_ratio <= 1.0f)) p.keep_ratio = 0.25f;
  }
  if (tame & kTameEnums) {
    d.dtype = 1 + static_cast<int32_t>(fold(d.dtype, 4));                        // 4 (u8) is refused
    d.precision = static_cast<int32_t>(fold(d.precision, 6));                    // 5 is refused
    d.pattern = static_cast<int32_t>(fold(d.pattern, SATTN_PATTERN_COUNT + 1));  // COUNT is refused
    if (!(d.flags & 0x80000000u)) d.flags &= SATTN_FLAG_CAUSAL | SATTN_FLAG_WANT_LSE;
    if (!(d.scale >= 0.0f && d.scale <= 4.0f)) d.scale = 0.0f;
    for (float* s : {&d.params.scale_q, &d.params.scale_k, &d.params.scale_v})
      if (!(*s >= 0.0f && *s <= 4.0f)) *s = 0.0f;
  }
  if (tame & kTameReserved) std::fill(std::begin(d.params.reserved), std::end(d.params.reserved), 0);
}

// A caller's struct of `size` bytes in a buffer of exactly that many (at least 4, for struct_size itself), so
// that the sanitizers see any read or write past what the caller provided.
template <typename Struct>
std::vector<uint8_t> versioned_buffer(const Struct& value, uint32_t size) {
  std::vector<uint8_t> buffer(std::max<size_t>(4, std::min<size_t>(size, sizeof(Struct) + 64)), 0);
  std::memcpy(buffer.data(), &value, std::min(buffer.size(), sizeof(Struct)));
  std::memcpy(buffer.data(), &size, sizeof size);
  return buffer;
}

// struct_size variants: mostly right, else the raw value, 0, a few bytes more, or a truncated size.
uint32_t struct_size_variant(uint8_t mode, uint32_t raw, size_t right, size_t older) {
  switch (mode % 8) {
    case 4:
      return raw;
    case 5:
      return 0;
    case 6:
      return static_cast<uint32_t>(right + 1 + raw % 64);
    case 7:
      return static_cast<uint32_t>(raw % right);
    case 3:
      return static_cast<uint32_t>(older);
    default:
      return static_cast<uint32_t>(right);
  }
}

int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}
int64_t product(std::initializer_list<int64_t> factors) {
  int64_t r = 1;
  for (const int64_t f : factors) r = saturating_mul(r, f);
  return r;
}

int64_t dtype_size(int32_t dtype) { return dtype == SATTN_DTYPE_F32 ? 4 : dtype == SATTN_DTYPE_U8 ? 1 : 2; }

// One run argument: its description and a buffer that covers exactly the extent the description claims.
struct Tensor {
  sattn_tensor view{};
  std::vector<uint8_t> storage;
};

// Fills t's storage from the fuzz bytes, cyclically, or with small finite values.
void fill(Tensor& t, const uint8_t* bytes, size_t size, size_t& cursor, bool finite) {
  for (size_t i = 0; i < t.storage.size(); ++i) {
    const uint8_t b = size > 0 ? bytes[(cursor + i) % size] : static_cast<uint8_t>(i * 37u);
    t.storage[i] = b;
  }
  cursor += t.storage.size();
  if (finite && t.view.dtype != SATTN_DTYPE_U8) {
    // Re-encode every element as a small value (a few distinct ones per byte), so selections see real scores.
    const int64_t n = static_cast<int64_t>(t.storage.size()) / dtype_size(t.view.dtype);
    for (int64_t i = 0; i < n; ++i) {
      const float x = static_cast<float>(static_cast<int8_t>(t.storage[static_cast<size_t>(i)])) / 32.0f;
      if (t.view.dtype == SATTN_DTYPE_F32) {
        std::memcpy(&t.storage[static_cast<size_t>(i) * 4], &x, 4);
      } else {
        uint32_t bits = 0;
        std::memcpy(&bits, &x, 4);
        // bf16 is the top half of an f32; as f16 these bits are just some finite or special value, also fine.
        const auto half = static_cast<uint16_t>(bits >> 16);
        std::memcpy(&t.storage[static_cast<size_t>(i) * 2], &half, 2);
      }
    }
  }
}

// A tensor of the given shape: contiguous, permuted ([B, L, H, D] memory) or broadcast over the batch (stride 0);
// its buffer holds the whole extent plus 8 bytes, so a pointer moved by 1 to 3 bytes still points into it.
Tensor make_tensor(int32_t dtype, int32_t ndim, std::array<int64_t, 4> shape, uint8_t layout) {
  Tensor t;
  t.view.device_type = SATTN_DEVICE_CPU;
  t.view.dtype = dtype;
  t.view.ndim = ndim;
  for (int i = 0; i < 4; ++i) t.view.shape[i] = i < ndim ? shape[static_cast<size_t>(i)] : 0;
  int64_t stride = 1;
  std::array<int, 4> order{3, 2, 1, 0};  // innermost first
  if (ndim == 4 && (layout & 1)) order = {3, 1, 2, 0};
  if (ndim == 3) order = {2, 1, 0, 3};
  for (int k = 0; k < ndim; ++k) {
    const int dim = order[static_cast<size_t>(k)];
    t.view.strides[dim] = stride;
    stride *= t.view.shape[dim];
  }
  if (layout & 2) t.view.strides[0] = 0;  // broadcast over the batch (inputs only; outputs must refuse it)
  int64_t last = 0;
  for (int i = 0; i < ndim; ++i) last += (t.view.shape[i] - 1) * t.view.strides[i];
  t.storage.assign(static_cast<size_t>((last + 1) * dtype_size(dtype) + 8), 0);
  t.view.data = t.storage.data();
  return t;
}

// Spoils one field of a tensor so that the library must refuse it, or so that the description still stays within
// the buffer (a stride of 0): the library cannot know how large a caller's buffer is, so a description that claims
// more memory than the buffer has (a larger stride) would be the caller's bug, not one the fuzzer should report.
void spoil(Tensor& t, uint8_t how, uint8_t dim) {
  const int i = dim % 4;
  switch (how % 9) {
    case 0:
      t.view.data = nullptr;
      break;
    case 1:
      t.view.data = t.storage.data() + 1 + dim % 3;  // misaligned for f32, f16, bf16
      break;
    case 2:
      t.view.dtype = static_cast<int32_t>(dim % 6);
      break;
    case 3:
      t.view.ndim = static_cast<int32_t>(dim % 6) - 1;
      break;
    case 4:
      t.view.shape[i] += (dim & 0x10) ? -1 : 1;  // the buffer is for the original shape: must be refused
      break;
    case 5:
      t.view.strides[i] = -1 - dim;
      break;
    case 6:  // the extent overflows int64 (a dimension of size 1 never multiplies its stride, so it stays valid)
      if (t.view.shape[i] == 2) t.view.strides[i] = std::numeric_limits<int64_t>::max();  // extent + 1 overflows
      if (t.view.shape[i] > 2) t.view.strides[i] = std::numeric_limits<int64_t>::max() / (t.view.shape[i] - 1) + 1;
      break;
    case 7:
      t.view.device_type = static_cast<int32_t>(dim % 16);
      break;
    default:
      t.view.strides[i] = 0;  // fine for inputs, an overlap for outputs
      break;
  }
}

void run_plan(const sattn_plan* plan, const sattn_problem& problem, const Control& control, Reader& reader) {
  const sattn_attention_desc& d = *problem.desc;
  const int64_t B = d.batch, Hq = d.num_q_heads, Hk = d.num_kv_heads, Lq = d.q_len, Lk = d.kv_len;
  const int64_t D = d.head_dim, Dv = d.head_dim_v;
  const sattn_pattern_params& p = d.params;
  // Elements of every tensor and the work of the run's selection and attention.
  const int64_t biggest =
      std::max({product({B, Hq, Lq, D}), product({B, Hk, Lk, D}), product({B, Hk, Lk, Dv}), product({B, Hq, Lq, Dv})});
  int64_t work = product({B, Hq, Lq, Lk, D + Dv});
  if (d.pattern == SATTN_PATTERN_LSH) work = std::max(work, product({B, Hq + Hk, std::max(Lq, Lk), D, p.lsh_buckets}));
  if (d.pattern == SATTN_PATTERN_LANDMARK)
    work = std::max(work, product({p.landmark_iters + 1, B, Hk, Lk, p.num_landmarks, D + Dv}));
  if (biggest > kMaxRunElements || work > kMaxRunWork) return;

  const uint8_t layout = control.run;
  const bool finite = (control.run & 0x10) != 0;
  const bool want_lse = (d.flags & SATTN_FLAG_WANT_LSE) != 0 || (control.run & 0x20) != 0;
  const bool want_mask = d.pattern == SATTN_PATTERN_BLOCK_MASK || (control.run & 0x40) != 0;
  // Inputs may broadcast over the batch; outputs never.
  const uint8_t input_layout = static_cast<uint8_t>(layout & ((control.extra & 4) ? 3 : 1));
  std::array<Tensor, 6> tensors{
      make_tensor(d.dtype, 4, {B, Hq, Lq, D}, input_layout),  make_tensor(d.dtype, 4, {B, Hk, Lk, D}, input_layout),
      make_tensor(d.dtype, 4, {B, Hk, Lk, Dv}, input_layout), make_tensor(d.dtype, 4, {B, Hq, Lq, Dv}, layout & 1),
      make_tensor(SATTN_DTYPE_F32, 3, {B, Hq, Lq, 0}, 0),     Tensor{}};
  if (want_mask) {
    const int64_t b = std::max<int64_t>(problem.tile_q, 1);
    const int64_t heads = (control.extra & 8) ? 1 : Hq;
    tensors[5] =
        make_tensor(SATTN_DTYPE_U8, 4, {(control.extra & 16) ? 1 : B, heads, (Lq + b - 1) / b, (Lk + b - 1) / b}, 0);
  }
  size_t cursor = 0;
  for (Tensor& t : tensors)
    if (!t.storage.empty()) fill(t, reader.rest(), reader.rest_size(), cursor, finite);

  // Roughly one input in four spoils one argument.
  if (control.mutate % 4 == 0) {
    Tensor& victim = tensors[static_cast<size_t>((control.mutate / 4) % 6)];
    if (!victim.storage.empty()) spoil(victim, control.detail, static_cast<uint8_t>(control.mutate >> 3));
  }

  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  args.q = &tensors[0].view;
  args.k = &tensors[1].view;
  args.v = &tensors[2].view;
  args.o = &tensors[3].view;
  args.lse = want_lse ? &tensors[4].view : nullptr;
  args.block_mask = want_mask ? &tensors[5].view : nullptr;
  if (control.mutate == 0x81) args.q = nullptr;
  if (control.mutate == 0x85) args.struct_size = control.detail;

  check(sattn_plan_can_implement(plan, &args), "sattn_plan_can_implement");

  size_t bytes = 0;
  check(sattn_plan_workspace_size(plan, &bytes), "sattn_plan_workspace_size");
  // The workspace: as asked, one byte short, NULL, or misaligned by a byte (still of the asked size).
  std::vector<uint8_t> workspace(bytes + 1);
  void* base = bytes > 0 ? workspace.data() : nullptr;
  size_t given = bytes;
  switch ((control.run >> 2) & 3) {
    case 1:
      given = bytes > 0 ? bytes - 1 : 0;
      break;
    case 2:
      base = nullptr;
      break;
    case 3:
      base = workspace.data() + 1;
      break;
    default:
      break;
  }
  check(sattn_plan_run(plan, &args, base, given, nullptr), "sattn_plan_run");
}

void query_plan(const sattn_plan* plan, const Control& control) {
  size_t bytes = 0;
  check(sattn_plan_workspace_size(plan, &bytes), "sattn_plan_workspace_size");

  sattn_plan_info info = SATTN_PLAN_INFO_INIT;
  const uint32_t info_size =
      struct_size_variant(control.info, control.detail, sizeof info, offsetof(sattn_plan_info, plan_bytes));
  std::vector<uint8_t> info_buffer = versioned_buffer(info, info_size);
  check(sattn_plan_get_info(plan, reinterpret_cast<sattn_plan_info*>(info_buffer.data())), "sattn_plan_get_info");

  sattn_plan_stats stats = SATTN_PLAN_STATS_INIT;
  const uint32_t stats_size = struct_size_variant(control.info >> 3, control.detail, sizeof stats, sizeof stats);
  std::vector<uint8_t> stats_buffer = versioned_buffer(stats, stats_size);
  check(sattn_plan_get_stats(plan, reinterpret_cast<sattn_plan_stats*>(stats_buffer.data())), "sattn_plan_get_stats");
}

// SATTN_FUZZ_VERBOSE=1 prints each input's descriptor as the target passes it, to explain a finding.
void describe(const sattn_attention_desc& d, uint32_t struct_size, const Control& c) {
  if (!verbose()) return;
  const sattn_pattern_params& p = d.params;
  std::fprintf(
      stderr,
      "desc: struct_size=%u flags=0x%x B=%lld Hq=%lld Hk=%lld Lq=%lld Lk=%lld D=%lld Dv=%lld dtype=%d "
      "precision=%d pattern=%d scale=%g | window=%lld dilation=%lld wrap=%lld global=%lld block=%lld "
      "keep=%g topk_blocks=%lld local=%lld comp=%lld nm=%lld:%lld topk_k=%lld lsh=%lld seed=%llu "
      "landmarks=%lld iters=%lld | control prefs=0x%02x run=0x%02x mutate=0x%02x detail=0x%02x "
      "extra=0x%02x\n",
      struct_size, d.flags, static_cast<long long>(d.batch), static_cast<long long>(d.num_q_heads),
      static_cast<long long>(d.num_kv_heads), static_cast<long long>(d.q_len), static_cast<long long>(d.kv_len),
      static_cast<long long>(d.head_dim), static_cast<long long>(d.head_dim_v), d.dtype, d.precision, d.pattern,
      static_cast<double>(d.scale), static_cast<long long>(p.window_size), static_cast<long long>(p.dilation),
      static_cast<long long>(p.wrap), static_cast<long long>(p.global_tokens), static_cast<long long>(p.block_size),
      static_cast<double>(p.keep_ratio), static_cast<long long>(p.topk_blocks), static_cast<long long>(p.local_blocks),
      static_cast<long long>(p.comp_block_size), static_cast<long long>(p.nm_n), static_cast<long long>(p.nm_m),
      static_cast<long long>(p.topk_k), static_cast<long long>(p.lsh_buckets),
      static_cast<unsigned long long>(p.lsh_seed), static_cast<long long>(p.num_landmarks),
      static_cast<long long>(p.landmark_iters), c.prefs, c.run, c.mutate, c.detail, c.extra);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader reader(data, size);
  Control control{};
  reader.take(&control, sizeof control);

  sattn_attention_desc desc{};
  reader.take(&desc, sizeof desc);
  tame_descriptor(desc, control.tame, control.extra);
  const uint32_t desc_size = struct_size_variant(control.desc_size, desc.struct_size, sizeof desc, sizeof desc);
  std::vector<uint8_t> desc_buffer = versioned_buffer(desc, desc_size);
  const auto* user_desc = reinterpret_cast<const sattn_attention_desc*>(desc_buffer.data());
  describe(desc, desc_size, control);

  const auto prefs_raw = reader.get<std::array<uint32_t, 4>>();
  std::array<char, 33> backend_name{};
  reader.take(backend_name.data(), 32);
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  std::vector<uint8_t> prefs_buffer;
  const sattn_plan_prefs* user_prefs = nullptr;
  if (control.prefs % 4 != 0) {
    if (control.prefs % 4 == 3) {
      prefs.flags = prefs_raw[1] & ((control.prefs & 0x10) ? ~0u : SATTN_PREF_STRICT);
      prefs.device_id = (control.prefs & 0x20) ? static_cast<int32_t>(prefs_raw[2]) : 0;
      prefs.num_threads = (control.prefs & 0x40) ? static_cast<int32_t>(prefs_raw[3]) : 0;
    }
    switch ((control.prefs >> 2) % 4) {
      case 1:
        prefs.backend = "cpu";
        break;
      case 2:
        prefs.backend = backend_name.data();
        break;
      case 3:
        prefs.backend = "";
        break;
      default:
        break;
    }
    const uint32_t prefs_size =
        struct_size_variant(control.prefs & 0x80 ? prefs_raw[0] & 0xff : 0, prefs_raw[0], sizeof prefs, sizeof prefs);
    prefs_buffer = versioned_buffer(prefs, prefs_size);
    user_prefs = reinterpret_cast<const sattn_plan_prefs*>(prefs_buffer.data());
  }

  // Validation alone, at any size (white box: the same checks sattn_plan_create starts with).
  std::optional<sattn::ResolvedProblem> resolved;
  const sattn_status valid = sattn::guarded([&] { resolved = sattn::resolve_problem(user_desc, user_prefs); });
  check(valid, "resolve_problem");
  if (verbose() && resolved) std::fprintf(stderr, "resolved pattern %d\n", resolved->desc.pattern);

  // Lengths as the library read them (a truncated struct_size leaves the defaults, which are refused).
  const int64_t q_len = resolved ? resolved->desc.q_len : desc.q_len;
  const bool short_enough = q_len <= kMaxPlannedLength;
  if (resolved && !short_enough && !sattn::layout_depends_on_run(resolved->desc.pattern)) return 0;
  if (!resolved && !short_enough) return 0;  // refused anyway; keep the loop fast

  sattn_plan* plan = nullptr;
  const sattn_status created = sattn_plan_create(user_desc, user_prefs, (control.extra & 0x80) ? nullptr : &plan);
  check(created, "sattn_plan_create");
  if (created != SATTN_OK || plan == nullptr) return 0;

  query_plan(plan, control);
  if (resolved) run_plan(plan, resolved->problem(), control, reader);
  query_plan(plan, control);
  sattn_plan_destroy(plan);
  return 0;
}
