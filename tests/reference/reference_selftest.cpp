// Checks of the reference against itself and against values worked out by hand: the reference has to be right for
// the accuracy suite to mean anything, so its rules are cross-checked through cases where two patterns must agree.
#include "detail.hpp"
#include "reference.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <random>

namespace {

using sattn_ref::Inputs;
using sattn_ref::Problem;

Problem make_problem(int pattern, int64_t Hq, int64_t Hk, int64_t Lq, int64_t Lk, int64_t D, bool causal = false) {
  Problem problem;
  problem.B = 2;
  problem.Hq = Hq;
  problem.Hk = Hk;
  problem.Lq = Lq;
  problem.Lk = Lk;
  problem.D = D;
  problem.Dv = D + 3;
  problem.causal = causal;
  problem.pattern = pattern;
  return problem;
}

Inputs random_inputs(const Problem& p, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  auto fill = [&](int64_t count) {
    std::vector<float> values(static_cast<size_t>(count));
    for (float& value : values) value = uniform(generator);
    return values;
  };
  Inputs inputs;
  inputs.q = fill(p.B * p.Hq * p.Lq * p.D);
  inputs.k = fill(p.B * p.Hk * p.Lk * p.D);
  inputs.v = fill(p.B * p.Hk * p.Lk * p.Dv);
  return inputs;
}

size_t kept_in_row(const std::vector<uint8_t>& mask, const Problem& p, int64_t row) {
  return static_cast<size_t>(std::count(mask.begin() + row * p.Lk, mask.begin() + (row + 1) * p.Lk, uint8_t{1}));
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (size_t n = 0; n < a.size(); ++n) worst = std::max(worst, std::abs(a[n] - b[n]));
  return worst;
}

}  // namespace

TEST_CASE("SplitMix64 matches the published sequence for seed 0") {
  sattn_ref::detail::SplitMix64 generator(0);
  CHECK(generator.next() == 0xE220A8397B1DCDAFull);
  CHECK(generator.next() == 0x6E789E6AA1B965F4ull);
  CHECK(generator.next() == 0x06C45D188009454Full);
}

TEST_CASE("floor division and modulo round toward minus infinity") {
  using sattn_ref::detail::floor_div;
  using sattn_ref::detail::floor_mod;
  CHECK(floor_div(7, 4) == 1);
  CHECK(floor_div(-1, 4) == -1);
  CHECK(floor_div(-4, 4) == -1);
  CHECK(floor_div(-5, 4) == -2);
  CHECK(floor_mod(-1, 37) == 36);
  CHECK(floor_mod(-38, 37) == 36);
  CHECK(floor_mod(40, 37) == 3);
}

TEST_CASE("attention of hand-worked problems") {
  Problem p = make_problem(SATTN_PATTERN_DENSE, 1, 1, 1, 2, 2);
  p.B = 1;
  p.Dv = 1;
  p.scale = 0.5;
  Inputs inputs;
  inputs.q = {1.0f, 2.0f};
  inputs.k = {1.0f, 0.0f, 0.0f, 1.0f};  // scores 0.5 and 1.0
  inputs.v = {3.0f, -1.0f};
  const sattn_ref::Result result = sattn_ref::attention(p, inputs);
  const double w0 = std::exp(0.5);
  const double w1 = std::exp(1.0);
  CHECK(result.o[0] == Approx((3.0 * w0 - 1.0 * w1) / (w0 + w1)).epsilon(1e-14));
  CHECK(result.lse[0] == Approx(std::log(w0 + w1)).epsilon(1e-14));

  p.causal = true;
  p.Lq = 1;
  p.Lk = 2;  // p_0 = 1: both keys allowed
  CHECK(sattn_ref::attention(p, inputs).lse[0] == Approx(std::log(w0 + w1)).epsilon(1e-14));
}

TEST_CASE("causal with Lq > Lk leaves the first Lq - Lk rows empty") {
  Problem p = make_problem(SATTN_PATTERN_DENSE, 4, 2, 50, 37, 16, true);
  const Inputs inputs = random_inputs(p, 3);
  const sattn_ref::Result result = sattn_ref::attention(p, inputs);
  for (int64_t row = 0; row < p.B * p.Hq * p.Lq; ++row) {
    const int64_t i = row % p.Lq;
    const double lse = result.lse[static_cast<size_t>(row)];
    if (i < p.Lq - p.Lk) {
      CHECK(std::isinf(lse));
      CHECK(lse < 0);
      for (int64_t d = 0; d < p.Dv; ++d) CHECK(result.o[static_cast<size_t>(row * p.Dv + d)] == 0.0);
    } else {
      CHECK(std::isfinite(lse));
    }
  }
}

TEST_CASE("sliding window keeps the expected number of keys") {
  Problem p = make_problem(SATTN_PATTERN_SLIDING_WINDOW, 1, 1, 41, 41, 8);
  p.B = 1;
  p.params.window_size = 5;
  const Inputs inputs = random_inputs(p, 4);
  std::vector<uint8_t> mask = sattn_ref::kept_mask(p, inputs);
  for (int64_t i = 0; i < p.Lq; ++i)
    CHECK(kept_in_row(mask, p, i) == static_cast<size_t>(std::min<int64_t>(i + 5, 40) - std::max<int64_t>(i - 5, 0) + 1));

  p.params.wrap = 1;
  p.params.dilation = 3;  // 11 distinct positions of a 41-ring
  mask = sattn_ref::kept_mask(p, inputs);
  for (int64_t i = 0; i < p.Lq; ++i) CHECK(kept_in_row(mask, p, i) == 11);
  CHECK(mask[0 * 41 + 26] == 1);  // 0 - 3*5 wraps to 26
  CHECK(mask[0 * 41 + 25] == 0);

  p.params.global_tokens = 2;
  p.params.wrap = 0;
  p.params.dilation = 1;
  p.causal = true;
  mask = sattn_ref::kept_mask(p, inputs);
  CHECK(kept_in_row(mask, p, 1) == 2);   // global query: everything up to itself
  CHECK(kept_in_row(mask, p, 30) == 8);  // keys 25..30 plus the two global keys
}

TEST_CASE("patterns that degenerate to dense agree with dense") {
  for (bool causal : {false, true}) {
    Problem dense = make_problem(SATTN_PATTERN_DENSE, 4, 2, 45, 70, 24, causal);
    const Inputs inputs = random_inputs(dense, 5);
    const std::vector<uint8_t> expected = sattn_ref::kept_mask(dense, inputs);
    INFO("causal " << causal);

    Problem p = dense;
    p.pattern = SATTN_PATTERN_SLIDING_WINDOW;
    p.params.window_size = 200;
    CHECK(sattn_ref::kept_mask(p, inputs) == expected);

    p = dense;
    p.pattern = SATTN_PATTERN_BLOCK_LOCAL_GLOBAL;
    p.params.block_size = 16;
    p.params.local_blocks = 5;
    CHECK(sattn_ref::kept_mask(p, inputs) == expected);

    p = dense;
    p.pattern = SATTN_PATTERN_BLOCK_TOPK;
    p.params.block_size = 16;
    p.params.keep_ratio = 1.0f;
    CHECK(sattn_ref::kept_mask(p, inputs) == expected);
    p.params.comp_block_size = 8;
    CHECK(sattn_ref::kept_mask(p, inputs) == expected);

    p = dense;
    p.pattern = SATTN_PATTERN_TOPK_PER_QUERY;
    p.params.topk_k = 70;
    CHECK(sattn_ref::kept_mask(p, inputs) == expected);

    p = dense;
    p.pattern = SATTN_PATTERN_NM_STRUCTURED;
    p.params.nm_n = 3;
    p.params.nm_m = 3;
    CHECK(sattn_ref::kept_mask(p, inputs) == expected);
  }
}

TEST_CASE("landmark with one key per landmark is dense attention") {
  Problem dense = make_problem(SATTN_PATTERN_DENSE, 4, 1, 29, 23, 16);
  const Inputs inputs = random_inputs(dense, 6);
  const sattn_ref::Result expected = sattn_ref::attention(dense, inputs);
  Problem p = dense;
  p.pattern = SATTN_PATTERN_LANDMARK;
  p.params.num_landmarks = 23;
  for (int64_t iterations : {0, 2}) {
    p.params.landmark_iters = iterations;
    const sattn_ref::Result result = sattn_ref::attention(p, inputs);
    CHECK(max_difference(result.o, expected.o) < 1e-12);
    CHECK(max_difference(result.lse, expected.lse) < 1e-12);
  }
}

TEST_CASE("landmark segment means and k-means on separated clusters") {
  // Keys 0..5 on the real line: 0, 10, 1, 11, 2, 12. Segments {0,10,1} {11,2,12} mean 11/3 and 25/3; k-means
  // moves them to {0,1,2} and {10,11,12}, with values the means of V over those clusters.
  Problem p = make_problem(SATTN_PATTERN_LANDMARK, 1, 1, 1, 6, 1);
  p.B = 1;
  p.Dv = 1;
  p.params.num_landmarks = 2;
  Inputs inputs;
  inputs.q = {0.5f};
  inputs.k = {0.0f, 10.0f, 1.0f, 11.0f, 2.0f, 12.0f};
  inputs.v = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const sattn_ref::detail::Shape shape = sattn_ref::detail::validated_shape(p, inputs);
  sattn_ref::detail::Landmarks marks = sattn_ref::detail::landmarks(p, inputs, shape, 0, 0);
  CHECK(marks.keys[0] == Approx(11.0 / 3.0));
  CHECK(marks.keys[1] == Approx(25.0 / 3.0));
  CHECK(marks.values[0] == Approx(2.0));
  CHECK(marks.values[1] == Approx(5.0));

  p.params.landmark_iters = 2;
  marks = sattn_ref::detail::landmarks(p, inputs, shape, 0, 0);
  CHECK(marks.keys[0] == Approx(1.0));
  CHECK(marks.keys[1] == Approx(11.0));
  CHECK(marks.values[0] == Approx(3.0));
  CHECK(marks.values[1] == Approx(4.0));

  // Three landmarks where one cluster empties: keys 0, 0, 0, 0, 9, 9 → segments {0,0} {0,0} {9,9}; the second
  // centroid ties with the first on every zero key, which goes to the lower one, so cluster 1 empties and keeps
  // its centroid 0 with a zero value.
  p.params.num_landmarks = 3;
  inputs.k = {0.0f, 0.0f, 0.0f, 0.0f, 9.0f, 9.0f};
  marks = sattn_ref::detail::landmarks(p, inputs, shape, 0, 0);
  CHECK(marks.keys[1] == 0.0);
  CHECK(marks.values[0] == Approx(2.5));
  CHECK(marks.values[1] == 0.0);
  CHECK(marks.values[2] == Approx(5.5));
}

TEST_CASE("block_topk keeps the best block, the diagonal block and the global blocks") {
  // One query block (Lq = 4, b = 4), Lk = 20: five key blocks. Block 2 points the same way as the queries.
  Problem p = make_problem(SATTN_PATTERN_BLOCK_TOPK, 2, 1, 4, 20, 2);
  p.B = 1;
  p.Dv = 1;
  p.params.block_size = 4;
  p.params.topk_blocks = 1;
  Inputs inputs;
  inputs.q.assign(16, 1.0f);
  for (int64_t j = 0; j < 20; ++j) {
    const float sign = j / 4 == 2 ? 1.0f : -1.0f;
    inputs.k.insert(inputs.k.end(), {sign, sign * 0.5f});
    inputs.v.push_back(static_cast<float>(j));
  }
  std::vector<uint8_t> mask = sattn_ref::kept_mask(p, inputs);
  auto kept_blocks = [&](int64_t row) {
    std::vector<int> blocks;
    for (int64_t kb = 0; kb < 5; ++kb) blocks.push_back(mask[static_cast<size_t>(row * 20 + kb * 4)]);
    return blocks;
  };
  CHECK(kept_blocks(0) == std::vector<int>{0, 0, 1, 0, 1});  // best block 2, block 4 holds p_last = 19
  CHECK(kept_blocks(7) == kept_blocks(0));                    // shared by both query heads of the kv head

  p.params.global_tokens = 5;  // first ceil(5/4) = 2 blocks, plus keys 0..4 element-wise
  mask = sattn_ref::kept_mask(p, inputs);
  CHECK(kept_blocks(0) == std::vector<int>{1, 1, 1, 0, 1});

  p.params.global_tokens = 0;
  p.params.topk_blocks = 0;
  p.params.keep_ratio = 0.2f;  // 0.2f * 5 = 1.0000000149: one block, not two
  mask = sattn_ref::kept_mask(p, inputs);
  CHECK(kept_blocks(0) == std::vector<int>{0, 0, 1, 0, 1});

  p.params.topk_blocks = 1;
  p.causal = true;  // p_last = 19: every block is a candidate, the diagonal block is 4
  mask = sattn_ref::kept_mask(p, inputs);
  CHECK(kept_blocks(0) == std::vector<int>{0, 0, 1, 0, 1});
  CHECK(kept_in_row(mask, p, 0) == 5);  // p_0 = 16: block 2 (8..11) and key 16 of block 4
}

TEST_CASE("lsh puts each query with the keys of its bucket") {
  Problem p = make_problem(SATTN_PATTERN_LSH, 2, 1, 30, 30, 8);
  p.params.lsh_buckets = 4;
  p.params.lsh_seed = 1234;
  const Inputs inputs = random_inputs(p, 7);
  const std::vector<uint8_t> mask = sattn_ref::kept_mask(p, inputs);
  // A key shared by two queries' kept sets (other than their own positions) means the two queries share a bucket,
  // so their kept sets are equal apart from the own positions: bucket membership is an equivalence.
  for (int64_t i = 0; i < p.Lq; ++i) {
    CHECK(mask[static_cast<size_t>(i * p.Lk + i)] == 1);
    for (int64_t i2 = 0; i2 < p.Lq; ++i2) {
      bool share = false;
      bool differ = false;
      for (int64_t j = 0; j < p.Lk; ++j) {
        if (j == i || j == i2) continue;
        const bool a = mask[static_cast<size_t>(i * p.Lk + j)] != 0;
        const bool b = mask[static_cast<size_t>(i2 * p.Lk + j)] != 0;
        share = share || (a && b);
        differ = differ || (a != b);
      }
      CHECK_FALSE((share && differ));
    }
  }
}

TEST_CASE("nm_structured and topk_per_query keep the right counts") {
  Problem p = make_problem(SATTN_PATTERN_NM_STRUCTURED, 1, 1, 40, 37, 16, true);
  p.params.nm_n = 2;
  p.params.nm_m = 5;
  const Inputs inputs = random_inputs(p, 8);
  std::vector<uint8_t> mask = sattn_ref::kept_mask(p, inputs);
  for (int64_t i = 0; i < p.Lq; ++i) {
    const int64_t allowed = std::clamp<int64_t>(i - 3 + 1, 0, 37);
    const int64_t expected = (allowed / 5) * 2 + std::min<int64_t>(allowed % 5, 2);
    CHECK(kept_in_row(mask, p, i) == static_cast<size_t>(expected));
  }
  p.pattern = SATTN_PATTERN_TOPK_PER_QUERY;
  p.params.topk_k = 7;
  mask = sattn_ref::kept_mask(p, inputs);
  for (int64_t i = 0; i < p.Lq; ++i)
    CHECK(kept_in_row(mask, p, i) == static_cast<size_t>(std::min<int64_t>(std::clamp<int64_t>(i - 2, 0, 37), 7)));
}

TEST_CASE("the reference rejects what the contract leaves undefined") {
  Problem p = make_problem(SATTN_PATTERN_LANDMARK, 1, 1, 8, 8, 4);
  p.params.num_landmarks = 2;
  const Inputs inputs = random_inputs(p, 9);
  CHECK_THROWS_AS(sattn_ref::kept_mask(p, inputs), std::invalid_argument);
  p.causal = true;
  CHECK_THROWS_AS(sattn_ref::attention(p, inputs), std::invalid_argument);
  p.causal = false;
  p.params.num_landmarks = 9;
  CHECK_THROWS_AS(sattn_ref::attention(p, inputs), std::invalid_argument);
  p.pattern = SATTN_PATTERN_AUTO;
  CHECK_THROWS_AS(sattn_ref::attention(p, inputs), std::invalid_argument);
  CHECK(sattn_ref::tolerance(SATTN_PRECISION_INT8) == 4e-2);
  CHECK(sattn_ref::tolerance(SATTN_PRECISION_INT4) == 5e-1);
  CHECK_THROWS_AS(sattn_ref::tolerance(9), std::invalid_argument);
}

TEST_CASE("quantised attention of a hand-worked problem") {
  // K' = K - (2, 4) = -(1, 1), (1, 1) and q = (1, 0) quantise without error (scales 1/127): the scores are q . K'
  // = (-1, 1), and the LSE gets q . kbar = 2 back, as in the exact attention whose scores are (1, 3).
  Problem p = make_problem(SATTN_PATTERN_DENSE, 1, 1, 1, 2, 2);
  p.B = 1;
  p.Dv = 1;
  p.scale = 1.0;
  p.precision = SATTN_PRECISION_INT8;
  Inputs inputs;
  inputs.q = {1.0f, 0.0f};
  inputs.k = {1.0f, 3.0f, 3.0f, 5.0f};
  inputs.v = {2.0f, -1.0f};  // s_v = 2/127: v_q = 127 and round(-63.5) = -64 (half to even)
  const sattn_ref::Result result = sattn_ref::quantised_attention(p, inputs);
  const double p0 = std::exp(-1.0) / (std::exp(-1.0) + std::exp(1.0)), p1 = 1.0 - p0;
  CHECK(result.o[0] == Approx(2.0 / 127.0 * (127.0 * p0 - 64.0 * p1)).epsilon(1e-14));
  CHECK(result.lse[0] == Approx(std::log(std::exp(-1.0) + std::exp(1.0)) + 2.0).epsilon(1e-14));
  CHECK(result.lse[0] == Approx(sattn_ref::attention(p, inputs).lse[0]).epsilon(1e-14));

  p.precision = SATTN_PRECISION_INT4;  // qmax 7: v_q = 7 and round(-3.5) = -4
  CHECK(sattn_ref::quantised_attention(p, inputs).o[0] == Approx(2.0 / 7.0 * (7.0 * p0 - 4.0 * p1)).epsilon(1e-14));

  p.params.scale_v = 0.25f;  // given: 2 / 0.25 = 8 clamps to 7, -1 / 0.25 = -4
  CHECK(sattn_ref::quantised_attention(p, inputs).o[0] == Approx(0.25 * (7.0 * p0 - 4.0 * p1)).epsilon(1e-14));

  p.precision = SATTN_PRECISION_FP32;
  CHECK_THROWS_AS(sattn_ref::quantised_attention(p, inputs), std::invalid_argument);
  p.precision = SATTN_PRECISION_INT8;
  inputs.k[2] = NAN;
  CHECK_THROWS_AS(sattn_ref::quantised_attention(p, inputs), std::invalid_argument);
}

TEST_CASE("quantised attention ignores a key bias shared by every key and is close to the exact attention") {
  Problem p = make_problem(SATTN_PATTERN_SLIDING_WINDOW, 4, 2, 33, 45, 16, true);
  p.params.window_size = 5;
  p.params.global_tokens = 2;
  Inputs inputs = random_inputs(p, 21);
  for (float& k : inputs.k) k = std::round(k * 1024.0f) / 1024.0f;  // so that k + bias is exact in fp32
  Inputs biased = inputs;
  for (size_t n = 0; n < biased.k.size(); ++n) biased.k[n] += n % 16 < 8 ? 3.0f : -2.5f;  // per channel
  for (int precision : {SATTN_PRECISION_INT8, SATTN_PRECISION_INT4}) {
    p.precision = precision;
    const sattn_ref::Result plain = sattn_ref::quantised_attention(p, inputs);
    const sattn_ref::Result shifted = sattn_ref::quantised_attention(p, biased);
    const sattn_ref::Result exact = sattn_ref::attention(p, biased);
    // k + bias - mean(k + bias) is k - mean(k) up to float64 rounding.
    CHECK(max_difference(plain.o, shifted.o) < 0.05 * sattn_ref::tolerance(precision));
    double max_o = 0.0;
    for (double x : exact.o) max_o = std::max(max_o, std::abs(x));
    CHECK(max_difference(shifted.o, exact.o) / max_o < sattn_ref::tolerance(precision));
  }
}
