// load_row_f32 reads the same values as gather_f32 for every storage type and for strided (BLHD, padded) tensors: the
// block_topk selection reads rows with it instead of a whole fp32 copy and must see the same numbers.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "core/half.hpp"
#include "core/tensor_io.hpp"

using namespace sattn;

namespace {

// A [2, 3, 5, 7] tensor of random values stored as `dtype` with the given strides (elements), in `storage`.
sattn_tensor make_tensor(int32_t dtype, const int64_t (&strides)[4], std::vector<uint16_t>& half_storage,
                         std::vector<float>& float_storage, uint32_t seed) {
  sattn_tensor t{};
  t.ndim = 4;
  t.dtype = dtype;
  const int64_t shape[4] = {2, 3, 5, 7};
  int64_t span = 1;
  for (int i = 0; i < 4; ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
    span += (shape[i] - 1) * strides[i];
  }
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  if (dtype == SATTN_DTYPE_F32) {
    float_storage.resize(static_cast<size_t>(span));
    for (float& x : float_storage) x = value(rng);
    t.data = float_storage.data();
  } else {
    half_storage.resize(static_cast<size_t>(span));
    for (uint16_t& x : half_storage)
      x = dtype == SATTN_DTYPE_F16 ? float_to_f16(value(rng)) : float_to_bf16(value(rng));
    t.data = half_storage.data();
  }
  return t;
}

}  // namespace

TEST_CASE("load_row_f32 reads the rows gather_f32 copies", "[tensor_io]") {
  const int64_t bhld[4] = {105, 35, 7, 1};
  const int64_t blhd[4] = {105, 7, 21, 1};             // [B, L, H, D] memory
  const int64_t padded[4] = {3 * 6 * 9, 6 * 9, 9, 1};  // rows of 9, heads of 6 rows
  const int64_t* layouts[3] = {bhld, blhd, padded};
  uint32_t seed = 7;
  for (int32_t dtype : {SATTN_DTYPE_F32, SATTN_DTYPE_F16, SATTN_DTYPE_BF16})
    for (const int64_t* layout : layouts) {
      const int64_t strides[4] = {layout[0], layout[1], layout[2], layout[3]};
      std::vector<uint16_t> halves;
      std::vector<float> floats;
      const sattn_tensor t = make_tensor(dtype, strides, halves, floats, seed++);
      std::vector<float> gathered(static_cast<size_t>(element_count(t)));
      gather_f32(t, gathered.data(), 1);
      std::vector<float> row(7);
      for (int64_t a = 0; a < 2; ++a)
        for (int64_t h = 0; h < 3; ++h)
          for (int64_t i = 0; i < 5; ++i) {
            load_row_f32(t, a, h, i, row.data());
            for (int64_t d = 0; d < 7; ++d)
              REQUIRE(row[static_cast<size_t>(d)] == gathered[static_cast<size_t>(((a * 3 + h) * 5 + i) * 7 + d)]);
          }
    }
}
