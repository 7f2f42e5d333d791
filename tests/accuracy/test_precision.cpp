// The five precisions: every pattern at every precision on f32 inputs, the 16-bit precisions on inputs stored in
// their own type, and the integer precisions on keys with a per-channel bias (the case K smoothing is for), with
// awkward sizes, GQA, Lq != Lk, caller-given quantisation scales, landmark, and non-finite inputs refused.
#include "examples.hpp"
#include "quantisation.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

using sattn_acc::Case;
using sattn_acc::example_case;

namespace {

const int all_precisions[] = {SATTN_PRECISION_FP32, SATTN_PRECISION_BF16, SATTN_PRECISION_FP16, SATTN_PRECISION_INT8,
                              SATTN_PRECISION_INT4};
const int integer_precisions[] = {SATTN_PRECISION_INT8, SATTN_PRECISION_INT4};

float qmax_of(int precision) { return precision == SATTN_PRECISION_INT8 ? 127.0f : 7.0f; }

// B, Hq, Hk, Lq, Lk, D, Dv: GQA with Lq < Lk and odd D, Lq > Lk, G = 3 with Dv != D.
struct Shape {
  int64_t B, Hq, Hk, Lq, Lk, D, Dv;
};
const Shape awkward_shapes[] = {{1, 4, 2, 70, 90, 37, 37}, {2, 3, 3, 61, 45, 24, 24}, {1, 6, 2, 33, 47, 64, 29}};

Case biased_case(int pattern, int precision, const Shape& s, bool causal, double key_bias, uint32_t seed) {
  Case c = example_case(pattern, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, causal);
  c.problem.Dv = s.Dv;
  c.problem.precision = precision;
  c.key_bias = key_bias;
  c.seed = seed;
  return c;
}

}  // namespace

TEST_CASE("every pattern at every precision", "[precision]") {
  std::vector<Case> cases;
  uint32_t seed = 800;
  for (int pattern : sattn_acc::all_patterns())
    for (int precision : all_precisions)
      for (bool causal : {false, true}) {
        if (pattern == SATTN_PATTERN_LANDMARK && causal) continue;
        Case c = example_case(pattern, 1, 4, 2, 70, 90, 64, causal);
        c.problem.precision = precision;
        if (sattn_acc::is_integer_precision(precision)) c.key_bias = 3.0;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("16-bit precisions on inputs stored in their own type", "[precision]") {
  const std::pair<int32_t, int> storage_and_precision[] = {{SATTN_DTYPE_F16, SATTN_PRECISION_FP16},
                                                           {SATTN_DTYPE_BF16, SATTN_PRECISION_BF16}};
  std::vector<Case> cases;
  uint32_t seed = 880;
  for (int pattern :
       {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_TOPK, SATTN_PATTERN_TOPK_PER_QUERY})
    for (const auto& [dtype, precision] : storage_and_precision)
      for (bool causal : {false, true}) {
        Case c = example_case(pattern, 2, 4, 1, 83, 64, 24, causal);
        c.dtype = dtype;
        c.problem.precision = precision;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("bf16 and fp32 decode shapes: a few query rows over many keys, from bf16 and f32 rows", "[precision]") {
  // Blocks of at most 16 rows (G heads x Lq positions) read K and V in place on the cpu backend (cpu_decode.inc for
  // bf16 on avx512dot, cpu_decode_float.inc for fp32 on every path): key counts ending mid-group and mid-pair, D of 32
  // to 128 with Dv != D, windows with dilation and global tokens (masked tiles, and key ranges that keep nothing),
  // causal, BLHD, and padded rows (strided: the packing paths). One (batch, kv head) pair and 512 or more keys: fewer
  // pairs than workers on a machine of two or more cores, so the keys are split across tasks and merged.
  struct Decode {
    int64_t B, Hq, Hk, Lq, Lk, D, Dv;
  };
  const Decode shapes[] = {{2, 8, 2, 1, 1000, 128, 128}, {1, 16, 1, 1, 77, 64, 64}, {2, 4, 4, 3, 333, 96, 32},
                           {1, 8, 2, 4, 130, 64, 160},   {2, 4, 1, 2, 64, 32, 32},  {1, 8, 1, 1, 1000, 64, 64},
                           {1, 4, 1, 3, 2100, 128, 96},  {1, 2, 1, 2, 700, 32, 32}};
  const sattn_acc::Layout layouts[] = {sattn_acc::Layout::bhld, sattn_acc::Layout::blhd, sattn_acc::Layout::padded};
  std::vector<Case> cases;
  uint32_t seed = 950;
  for (const Decode& s : shapes)
    for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW})
      for (int32_t dtype : {SATTN_DTYPE_BF16, SATTN_DTYPE_F32})
        for (bool causal : {false, true}) {
          Case c = example_case(pattern, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D, causal);
          c.problem.Dv = s.Dv;
          c.problem.precision = seed / 3 % 2 == 0 ? SATTN_PRECISION_BF16 : SATTN_PRECISION_FP32;  // every mix
          c.dtype = dtype;
          c.layout = layouts[seed % 3];
          c.with_lse = seed % 4 != 0;
          c.seed = seed++;
          cases.push_back(c);
        }
  sattn_acc::check_cases(cases);
}

TEST_CASE("decode with the keys split across tasks, at every precision", "[precision]") {
  // One (batch, kv head) pair, Lq <= 3, 600 to 2000 keys: split into ranges of key tiles on machines of two or more
  // cores (the cpu backend's decode split), each range's O, maximum and sum merged at the end.
  std::vector<Case> cases;
  uint32_t seed = 1010;
  for (int precision : all_precisions)
    for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_LOCAL_GLOBAL})
      for (bool causal : {false, true}) {
        Case c = example_case(pattern, 1, 4, 1, 1 + seed % 3, 600 + 350 * (seed % 5), 64, causal);
        c.problem.precision = precision;
        if (sattn_acc::is_integer_precision(precision)) c.key_bias = 3.0;
        c.seed = seed++;
        cases.push_back(c);
      }
  sattn_acc::check_cases(cases);
}

TEST_CASE("integer precisions on biased keys of awkward sizes", "[precision]") {
  // A bias of 3 is about what trained keys carry; 40 would leave an unsmoothed int4 K a single level for the
  // N(0, 1) part, so these cases fail unless the library smooths K.
  std::vector<Case> cases;
  uint32_t seed = 1900;
  for (int precision : integer_precisions)
    for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_TOPK,
                        SATTN_PATTERN_TOPK_PER_QUERY, SATTN_PATTERN_LANDMARK})
      for (bool causal : {false, true})
        for (double key_bias : {3.0, 40.0})
          for (const Shape& shape : awkward_shapes) {
            if (pattern == SATTN_PATTERN_LANDMARK && causal) continue;
            cases.push_back(biased_case(pattern, precision, shape, causal, key_bias, seed++));
          }
  sattn_acc::check_cases(cases);
}

TEST_CASE("integer precisions with given quantisation scales", "[precision]") {
  // Static scales a little above what the computed ones would be, so nothing is clamped; every row or channel then
  // shares one scale. Q and V lie in [-2, 2] and smoothed keys are about N(0, 1) (|K - kbar| < 5.5 here); landmark
  // quantises its landmarks, means of about ten keys and values, which stay below 1.5 here.
  uint32_t seed = 950;
  for (int precision : integer_precisions)
    for (int pattern :
         {SATTN_PATTERN_DENSE, SATTN_PATTERN_SLIDING_WINDOW, SATTN_PATTERN_BLOCK_TOPK, SATTN_PATTERN_LANDMARK})
      for (const Shape& shape : awkward_shapes) {
        Case c = biased_case(pattern, precision, shape, pattern != SATTN_PATTERN_LANDMARK, 3.0, seed++);
        c.problem.params.scale_q = 2.1f / qmax_of(precision);
        const bool landmark = pattern == SATTN_PATTERN_LANDMARK;
        c.problem.params.scale_k = (landmark ? 1.5f : 5.5f) / qmax_of(precision);
        c.problem.params.scale_v = (landmark ? 1.5f : 2.05f) / qmax_of(precision);
        sattn_acc::check_case(c);
      }
}

TEST_CASE("integer plans refuse non-finite inputs and name the tensor", "[precision]") {
  struct Poison {
    int tensor;  // 0 q, 1 k, 2 v
    int64_t b, h, row, column;
    float value;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Poison poisons[] = {{0, 1, 2, 5, 3, nan}, {1, 0, 1, 17, 0, inf}, {2, 1, 0, 40, 6, -inf}};
  for (int precision : integer_precisions)
    for (int pattern : {SATTN_PATTERN_DENSE, SATTN_PATTERN_BLOCK_TOPK, SATTN_PATTERN_LANDMARK})
      for (const Poison& poison : poisons) {
        Case c = example_case(pattern, 2, 4, 2, 33, 47, 8, false);
        c.problem.precision = precision;
        c.with_lse = false;
        const sattn_ref::Problem& p = c.problem;
        INFO(sattn_acc::describe(c) << " poisoned tensor " << poison.tensor);
        const sattn_acc::Plan plan(c);
        REQUIRE(plan.status() == SATTN_OK);

        const std::array<int64_t, 4> shapes[3] = {
            {p.B, p.Hq, p.Lq, p.D}, {p.B, p.Hk, p.Lk, p.D}, {p.B, p.Hk, p.Lk, p.Dv}};
        std::vector<std::unique_ptr<sattn_acc::StridedBuffer>> buffers;
        for (const auto& shape : shapes) {
          buffers.push_back(
              std::make_unique<sattn_acc::StridedBuffer>(SATTN_DTYPE_F32, shape, sattn_acc::Layout::bhld));
          std::vector<float> values(static_cast<size_t>(shape[0] * shape[1] * shape[2] * shape[3]));
          for (size_t n = 0; n < values.size(); ++n)
            values[n] = static_cast<float>(std::sin(0.37 * static_cast<double>(n)));
          if (&shape == &shapes[poison.tensor])
            values[static_cast<size_t>(((poison.b * shape[1] + poison.h) * shape[2] + poison.row) * shape[3] +
                                       poison.column)] = poison.value;
          buffers.back()->store(values);
        }
        sattn_acc::StridedBuffer o(SATTN_DTYPE_F32, {p.B, p.Hq, p.Lq, p.Dv}, sattn_acc::Layout::bhld);
        const sattn_tensor q = buffers[0]->tensor(), k = buffers[1]->tensor(), v = buffers[2]->tensor();
        const sattn_tensor out = o.tensor();
        sattn_run_args args = SATTN_RUN_ARGS_INIT;
        args.q = &q;
        args.k = &k;
        args.v = &v;
        args.o = &out;
        size_t bytes = 0;
        REQUIRE(sattn_plan_workspace_size(plan.get(), &bytes) == SATTN_OK);
        std::vector<unsigned char> storage(bytes + 64);
        void* workspace = storage.data();
        size_t space = storage.size();
        std::align(64, bytes, workspace, space);

        CHECK(sattn_plan_run(plan.get(), &args, workspace, bytes, nullptr) == SATTN_ERROR_INVALID_ARGUMENT);
        const std::string message = sattn_last_error();
        const char* const names[3] = {"q", "k", "v"};
        // Landmark quantises the derived landmark keys and values, so its index is that of a landmark row.
        const std::string expected = pattern == SATTN_PATTERN_LANDMARK && poison.tensor > 0
                                         ? std::string(names[poison.tensor]) + " holds a non-finite value at [" +
                                               std::to_string(poison.b) + ", " + std::to_string(poison.h) + ", "
                                         : std::string(names[poison.tensor]) + " holds a non-finite value at [" +
                                               std::to_string(poison.b) + ", " + std::to_string(poison.h) + ", " +
                                               std::to_string(poison.row) + ", " + std::to_string(poison.column) + "]";
        CHECK_THAT(message, Catch::Matchers::Contains(expected));
      }
}
