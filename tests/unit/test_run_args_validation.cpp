// Run arguments are checked against the plan: presence, data pointers, devices, dtypes, shapes, strides, output
// overlap, LSE and block masks, and the workspace. Each mistake gets its status and a message naming the tensor.
#include <functional>
#include <sstream>
#include <string>
#include <tuple>

#include "api_helpers.hpp"

namespace {

struct PlanFixture {
  sattn_attention_desc desc = test::valid_desc();
  sattn_plan* plan = nullptr;
  explicit PlanFixture(const std::function<void(sattn_attention_desc&)>& adjust = {}) {
    if (adjust) adjust(desc);
    REQUIRE(test::create(desc, &plan) == SATTN_OK);
  }
  ~PlanFixture() { sattn_plan_destroy(plan); }
};

void expect_run_rejected(const PlanFixture& f, const sattn_run_args& args, sattn_status status, const char* message) {
  test::require_status(sattn_plan_can_implement(f.plan, &args), status, message);
  test::require_status(test::run(f.plan, args), status, message);
}

}  // namespace

TEST_CASE("tensors must match the plan", "[run_args]") {
  PlanFixture f;
  test::Problem p(f.desc);
  test::require_status(sattn_plan_can_implement(f.plan, &p.args), SATTN_OK, "");

  SECTION("missing tensor") {
    sattn_run_args args = p.args;
    args.k = nullptr;
    expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, "run argument k is NULL");
  }
  // One tensor of the valid arguments changed by `change`, every other argument as it was.
  struct BadTensor {
    const char* what;
    const sattn_tensor* sattn_run_args::*slot;
    std::function<void(sattn_tensor&)> change;
    const char* message;
  };
  const std::vector<BadTensor> cases{
      {"NULL data", &sattn_run_args::v, [](auto& t) { t.data = nullptr; }, "v.data is NULL"},
      {"wrong shape", &sattn_run_args::q, [](auto& t) { t.shape[2] = 36; },
       "q has shape [2, 4, 36, 16] but the plan expects [2, 4, 37, 16]"},
      {"wrong dtype", &sattn_run_args::o, [](auto& t) { t.dtype = SATTN_DTYPE_BF16; },
       "o.dtype is bf16 but the plan expects f32"},
      {"wrong device", &sattn_run_args::k, [](auto& t) { t.device_type = SATTN_DEVICE_CUDA; }, "k.device_type is 2"},
      {"wrong ndim", &sattn_run_args::q, [](auto& t) { t.ndim = 3; }, "q.ndim is 3 but must be 4"},
      {"negative stride", &sattn_run_args::q, [](auto& t) { t.strides[1] = -16; }, "q.strides[1] is -16"},
      // Every head would write the same memory.
      {"overlapping output", &sattn_run_args::o, [](auto& t) { t.strides[1] = 0; }, "o has overlapping strides"},
      {"overflowing extent", &sattn_run_args::q, [](auto& t) { t.strides[0] = int64_t{1} << 62; },
       "q extent (strides [4611686018427387904, 592, 16, 1] over shape [2, 4, 37, 16]) overflows 64 bits"},
      // Never dereferenced: the check refuses it first.
      {"extent past the end of the address space", &sattn_run_args::k,
       [](auto& t) { t.data = reinterpret_cast<void*>(~uintptr_t{0} - 63); }, "past the end of the address space"},
  };
  SECTION("bad tensors") {
    for (const BadTensor& bad : cases) {
      INFO(bad.what);
      sattn_run_args args = p.args;
      sattn_tensor changed = *(args.*bad.slot);
      bad.change(changed);
      args.*bad.slot = &changed;
      expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, bad.message);
    }
  }
  SECTION("broadcast inputs are fine") {
    sattn_tensor k = p.k.view;
    k.strides[0] = 0;  // both batches read the same keys
    sattn_run_args args = p.args;
    args.k = &k;
    test::require_status(test::run(f.plan, args), SATTN_OK, "");
  }
  SECTION("block mask given to another pattern") {
    std::vector<uint8_t> mask(64, 1);
    sattn_tensor m{mask.data(), SATTN_DEVICE_CPU, 0, SATTN_DTYPE_U8, 4, {2, 1, 4, 4}, {16, 16, 4, 1}};
    sattn_run_args args = p.args;
    args.block_mask = &m;
    expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, "only used by pattern block_mask, not dense");
  }
  SECTION("run args struct_size") {
    sattn_run_args args = p.args;
    args.struct_size = 0;
    expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, "sattn_run_args.struct_size is 0");
  }
}

namespace {

std::string address_text(const void* address) {
  std::ostringstream text;
  text << address;
  return text.str();
}

}  // namespace

TEST_CASE("tensor data must be aligned to the element size", "[run_args]") {
  SECTION("f32: 4 bytes") {
    PlanFixture f([](auto& d) { d.flags = SATTN_FLAG_WANT_LSE; });
    test::Problem p(f.desc);
    std::vector<float> lse(static_cast<size_t>(2 * 4 * 37) + 1);
    sattn_tensor l{lse.data(), SATTN_DEVICE_CPU, 0, SATTN_DTYPE_F32, 3, {2, 4, 37, 0}, {4 * 37, 37, 1, 0}};
    p.args.lse = &l;
    test::require_status(test::run(f.plan, p.args), SATTN_OK, "");
    // Buffers one element longer, so that a pointer moved by 1 to 3 bytes still has its whole extent inside.
    std::vector<float> room(p.q.data.size() + p.k.data.size() + p.o.data.size() + 8);
    for (const auto& [name, slot, source] :
         {std::tuple{"q", &sattn_run_args::q, &p.q.view}, std::tuple{"k", &sattn_run_args::k, &p.k.view},
          std::tuple{"v", &sattn_run_args::v, &p.v.view}, std::tuple{"o", &sattn_run_args::o, &p.o.view},
          std::tuple{"lse", &sattn_run_args::lse, static_cast<sattn_tensor*>(&l)}}) {
      for (const int shift : {1, 2, 3}) {
        sattn_tensor moved = *source;
        moved.data = reinterpret_cast<unsigned char*>(room.data()) + shift;
        sattn_run_args args = p.args;
        args.*slot = &moved;
        INFO(name << " moved by " << shift);
        const std::string message = std::string(name) + ".data (" + address_text(moved.data) +
                                    ") is not aligned to 4 bytes, the size of one f32 element";
        expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, message.c_str());
      }
    }
    // Four bytes on is aligned again.
    sattn_tensor moved = p.o.view;
    std::vector<float> out(p.o.data.size() + 1);
    moved.data = out.data() + 1;
    sattn_run_args args = p.args;
    args.o = &moved;
    test::require_status(test::run(f.plan, args), SATTN_OK, "");
  }
  for (const int32_t dtype : {SATTN_DTYPE_F16, SATTN_DTYPE_BF16}) {
    const std::string dtype_name = sattn_dtype_name(dtype);
    DYNAMIC_SECTION(dtype_name << ": 2 bytes") {
      PlanFixture f([dtype](auto& d) { d.dtype = dtype; });
      std::vector<uint16_t> q(static_cast<size_t>(2 * 4 * 37 * 16) + 1), k(static_cast<size_t>(2 * 2 * 53 * 16)),
          v(static_cast<size_t>(2 * 2 * 53 * 8)), o(static_cast<size_t>(2 * 4 * 37 * 8));
      sattn_tensor tq{q.data(), SATTN_DEVICE_CPU, 0, dtype, 4, {2, 4, 37, 16}, {4 * 37 * 16, 37 * 16, 16, 1}};
      sattn_tensor tk{k.data(), SATTN_DEVICE_CPU, 0, dtype, 4, {2, 2, 53, 16}, {2 * 53 * 16, 53 * 16, 16, 1}};
      sattn_tensor tv{v.data(), SATTN_DEVICE_CPU, 0, dtype, 4, {2, 2, 53, 8}, {2 * 53 * 8, 53 * 8, 8, 1}};
      sattn_tensor to{o.data(), SATTN_DEVICE_CPU, 0, dtype, 4, {2, 4, 37, 8}, {4 * 37 * 8, 37 * 8, 8, 1}};
      sattn_run_args args = SATTN_RUN_ARGS_INIT;
      args.q = &tq;
      args.k = &tk;
      args.v = &tv;
      args.o = &to;
      test::require_status(test::run(f.plan, args), SATTN_OK, "");
      tq.data = reinterpret_cast<unsigned char*>(q.data()) + 1;
      const std::string message = "q.data (" + address_text(tq.data) + ") is not aligned to 2 bytes, the size of one " +
                                  dtype_name + " element";
      expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, message.c_str());
      tq.data = q.data() + 1;  // one element on: aligned
      test::require_status(test::run(f.plan, args), SATTN_OK, "");
    }
  }
  SECTION("u8 block masks may start anywhere") {
    PlanFixture f([](auto& d) {
      d.pattern = SATTN_PATTERN_BLOCK_MASK;
      d.params.block_size = 16;
    });
    test::Problem p(f.desc);
    std::vector<uint8_t> mask(static_cast<size_t>(2 * 3 * 4) + 1, 1);
    sattn_tensor m{mask.data() + 1, SATTN_DEVICE_CPU, 0, SATTN_DTYPE_U8, 4, {2, 1, 3, 4}, {12, 12, 4, 1}};
    p.args.block_mask = &m;
    test::require_status(test::run(f.plan, p.args), SATTN_OK, "");
  }
}

TEST_CASE("LSE is required with SATTN_FLAG_WANT_LSE and checked when given", "[run_args]") {
  PlanFixture f([](auto& d) { d.flags = SATTN_FLAG_WANT_LSE; });
  test::Problem p(f.desc);
  expect_run_rejected(f, p.args, SATTN_ERROR_INVALID_ARGUMENT, "SATTN_FLAG_WANT_LSE but run argument lse is NULL");
  std::vector<float> lse(static_cast<size_t>(2 * 4 * 37));
  sattn_tensor t{lse.data(), SATTN_DEVICE_CPU, 0, SATTN_DTYPE_F32, 3, {2, 4, 37, 0}, {4 * 37, 37, 1, 0}};
  sattn_run_args args = p.args;
  args.lse = &t;
  test::require_status(test::run(f.plan, args), SATTN_OK, "");
  t.shape[2] = 38;
  expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, "lse has shape [2, 4, 38]");
}

TEST_CASE("block masks are checked against the plan", "[run_args]") {
  PlanFixture f([](auto& d) {
    d.pattern = SATTN_PATTERN_BLOCK_MASK;
    d.params.block_size = 16;  // ceil(37/16) = 3 query blocks, ceil(53/16) = 4 key blocks
  });
  test::Problem p(f.desc);
  expect_run_rejected(f, p.args, SATTN_ERROR_INVALID_ARGUMENT, "pattern block_mask needs run argument block_mask");
  std::vector<uint8_t> mask(static_cast<size_t>(2 * 4 * 3 * 4), 1);
  sattn_tensor m{mask.data(), SATTN_DEVICE_CPU, 0, SATTN_DTYPE_U8, 4, {2, 4, 3, 4}, {48, 12, 4, 1}};
  sattn_run_args args = p.args;
  args.block_mask = &m;
  test::require_status(test::run(f.plan, args), SATTN_OK, "");
  m.shape[1] = 1;  // one mask shared by every head is fine too
  test::require_status(test::run(f.plan, args), SATTN_OK, "");
  m.shape[3] = 5;  // more key blocks than kv_len has
  expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT,
                      "block_mask has shape [2, 1, 3, 5] but the plan expects [2, 1, 3, 4]");
  m.shape[3] = 4;
  m.shape[1] = 3;  // neither 1 nor num_q_heads
  expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, "block_mask has shape [2, 3, 3, 4]");
  m.shape[1] = 4;
  m.dtype = SATTN_DTYPE_F32;
  expect_run_rejected(f, args, SATTN_ERROR_INVALID_ARGUMENT, "block_mask.dtype is f32 but the plan expects u8");
}

TEST_CASE("the workspace must be as large as the plan asks", "[run_args]") {
  PlanFixture f;
  test::Problem p(f.desc);
  size_t bytes = 0;
  REQUIRE(sattn_plan_workspace_size(f.plan, &bytes) == SATTN_OK);
  REQUIRE(bytes > 0);
  std::vector<unsigned char> workspace(bytes);
  test::require_status(sattn_plan_run(f.plan, &p.args, workspace.data(), bytes - 1, nullptr),
                       SATTN_ERROR_WORKSPACE_TOO_SMALL, "is smaller than the");
  test::require_status(sattn_plan_run(f.plan, &p.args, nullptr, bytes, nullptr), SATTN_ERROR_INVALID_ARGUMENT,
                       "workspace is NULL");
  // A misaligned workspace of the asked size still works: the library realigns it.
  std::vector<unsigned char> larger(bytes + 1);
  test::require_status(sattn_plan_run(f.plan, &p.args, larger.data() + 1, bytes, nullptr), SATTN_OK, "");
}
