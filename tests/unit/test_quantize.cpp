// quantize_operands on hand-worked tensors: K smoothing, per-row and per-channel scales, round half to even, given
// scales and clamping, the LSE shift, and the refusal of non-finite inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/quantize.hpp"

using namespace sattn;

namespace {

// Buffers for B = 1, Hq = 2, Hk = 1, Lq = 1, kv_rows = 2, D = Dv = 2.
struct Small {
  std::vector<int8_t> q = std::vector<int8_t>(4), k = std::vector<int8_t>(4), v = std::vector<int8_t>(4);
  std::vector<float> q_scale = std::vector<float>(2), k_scale = std::vector<float>(2);
  std::vector<float> v_scale = std::vector<float>(2), lse_shift = std::vector<float>(2);

  QuantizedOperands out() {
    return {q.data(), k.data(), v.data(), q_scale.data(), k_scale.data(), v_scale.data(), lse_shift.data()};
  }
};

QuantShape small_shape(int32_t precision) {
  return QuantShape{1, 2, 1, 1, 2, 2, 2, precision, 0.5f, 0.0f, 0.0f, 0.0f, 1};
}

const std::vector<float> q_in = {0.5f, -0.25f, 1.0f, 1.0f};  // [hq][d]
const std::vector<float> k_in = {1.0f, 3.0f, 3.0f, 5.0f};    // mean key (2, 4): K' = (-1, -1), (1, 1)
const std::vector<float> v_in = {0.0f, 2.0f, 0.0f, -1.0f};   // channel 0 all zero

}  // namespace

TEST_CASE("int8 quantisation smooths K and scales rows and channels", "[quantize]") {
  Small s;
  quantize_operands(small_shape(SATTN_PRECISION_INT8), q_in.data(), k_in.data(), v_in.data(), s.out());
  CHECK(s.k == std::vector<int8_t>{-127, -127, 127, 127});
  CHECK(s.k_scale == std::vector<float>{1.0f / 127, 1.0f / 127});
  CHECK(s.v_scale == std::vector<float>{1.0f, 2.0f / 127});  // an all-zero channel gets scale 1
  CHECK(s.v == std::vector<int8_t>{0, 127, 0, -64});         // -1 / (2/127) = -63.5 ties to even
  CHECK(s.q == std::vector<int8_t>{127, -64, 127, 127});     // -0.25 / (0.5/127) = -63.5
  CHECK(s.q_scale == std::vector<float>{0.5f / 127, 1.0f / 127});
  CHECK(s.lse_shift == std::vector<float>{0.0f, 3.0f});  // 0.5 * q . (2, 4)
}

TEST_CASE("int4 quantisation uses qmax 7", "[quantize]") {
  Small s;
  quantize_operands(small_shape(SATTN_PRECISION_INT4), q_in.data(), k_in.data(), v_in.data(), s.out());
  CHECK(s.k == std::vector<int8_t>{-7, -7, 7, 7});
  CHECK(s.v == std::vector<int8_t>{0, 7, 0, -4});  // -3.5 ties to even
  CHECK(s.q == std::vector<int8_t>{7, -4, 7, 7});
  CHECK(s.q_scale[0] == 0.5f / 7);
}

TEST_CASE("given scales replace the computed ones and clamp", "[quantize]") {
  Small s;
  QuantShape shape = small_shape(SATTN_PRECISION_INT8);
  shape.scale_q = 0.25f;
  shape.scale_k = 0.5f;
  shape.scale_v = 0.01f;
  quantize_operands(shape, q_in.data(), k_in.data(), v_in.data(), s.out());
  CHECK(s.q == std::vector<int8_t>{2, -1, 4, 4});   // -0.25 / 0.25 = -1; 0.5 / 0.25 = 2
  CHECK(s.k == std::vector<int8_t>{-2, -2, 2, 2});  // K is still smoothed
  CHECK(s.v == std::vector<int8_t>{0, 127, 0, -100});
  CHECK(s.q_scale == std::vector<float>{0.25f, 0.25f});
  CHECK(s.k_scale == std::vector<float>{0.5f, 0.5f});
  CHECK(s.v_scale == std::vector<float>{0.01f, 0.01f});
}

TEST_CASE("non-finite inputs are refused with the tensor and index named", "[quantize]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  struct Bad {
    int tensor, index;
    float value;
    std::string message;
  };
  for (const Bad& bad : {Bad{0, 3, nan, "q holds a non-finite value at [0, 1, 0, 1]"},
                         Bad{1, 2, inf, "k holds a non-finite value at [0, 0, 1, 0]"},
                         Bad{2, 1, -inf, "v holds a non-finite value at [0, 0, 0, 1]"}}) {
    std::vector<float> in[3] = {q_in, k_in, v_in};
    in[bad.tensor][static_cast<size_t>(bad.index)] = bad.value;
    in[2][3] = bad.tensor == 2 ? nan : in[2][3];  // a later bad value of the same tensor is not the one named
    Small s;
    try {
      quantize_operands(small_shape(SATTN_PRECISION_INT8), in[0].data(), in[1].data(), in[2].data(), s.out());
      FAIL("no error for " << bad.message);
    } catch (const Error& e) {
      CHECK(e.status() == SATTN_ERROR_INVALID_ARGUMENT);
      CHECK_THAT(e.what(), Catch::Matchers::StartsWith(bad.message));
    }
  }
}
