// One LMUL's vector types and the RVV 1.0 intrinsics that carry their type in the name (loads, stores, splats,
// reinterpretations), so a kernel templated on Lanes<L> is written once and its LMUL chosen by measurement
// (docs/backends.md, "rvv"). Arithmetic uses the overloaded intrinsics, which take any LMUL. Only the -march=rv64gcv
// sources include this.
#pragma once

#include <riscv_vector.h>

#include <cstddef>
#include <cstdint>

namespace sattn_rvv {

template <int Lmul>
struct Lanes;

// HALF / QUARTER: the LMUL of 16-bit / 8-bit elements in as many lanes; MASK: the vbool ratio SEW / LMUL of 32-bit
// elements.
#define SATTN_RVV_LANES(L, HALF, QUARTER, MASK)                                                    \
  template <>                                                                                      \
  struct Lanes<L> {                                                                                \
    using vf = vfloat32m##L##_t;                                                                   \
    using vu = vuint32m##L##_t;                                                                    \
    using vi = vint32m##L##_t;                                                                     \
    using vh = vuint16m##HALF##_t;                                                                 \
    using vq = vint8##QUARTER##_t;                                                                 \
    using vb = vbool##MASK##_t;                                                                    \
    static size_t setvl(size_t n) { return __riscv_vsetvl_e32m##L(n); }                            \
    static size_t vlmax() { return __riscv_vsetvlmax_e32m##L(); }                                  \
    static vf load(const float* p, size_t vl) { return __riscv_vle32_v_f32m##L(p, vl); }           \
    static vf load(const float* p, ptrdiff_t stride_bytes, size_t vl) {                            \
      return __riscv_vlse32_v_f32m##L(p, stride_bytes, vl);                                        \
    }                                                                                              \
    static vu load_u32(const uint32_t* p, ptrdiff_t stride_bytes, size_t vl) {                     \
      return __riscv_vlse32_v_u32m##L(p, stride_bytes, vl);                                        \
    }                                                                                              \
    static vh load_u16(const uint16_t* p, size_t vl) { return __riscv_vle16_v_u16m##HALF(p, vl); } \
    static vh load_u16(const uint16_t* p, ptrdiff_t stride_bytes, size_t vl) {                     \
      return __riscv_vlse16_v_u16m##HALF(p, stride_bytes, vl);                                     \
    }                                                                                              \
    static vq load_i8(const int8_t* p, ptrdiff_t stride_bytes, size_t vl) {                        \
      return __riscv_vlse8_v_i8##QUARTER(p, stride_bytes, vl);                                     \
    }                                                                                              \
    static void store(float* p, vf v, size_t vl) { __riscv_vse32_v_f32m##L(p, v, vl); }            \
    static void store(float* p, ptrdiff_t stride_bytes, vf v, size_t vl) {                         \
      __riscv_vsse32_v_f32m##L(p, stride_bytes, v, vl);                                            \
    }                                                                                              \
    static void store_u16(uint16_t* p, ptrdiff_t stride_bytes, vh v, size_t vl) {                  \
      __riscv_vsse16_v_u16m##HALF(p, stride_bytes, v, vl);                                         \
    }                                                                                              \
    static vf splat(float x, size_t vl) { return __riscv_vfmv_v_f_f32m##L(x, vl); }                \
    static vu bits(vf v) { return __riscv_vreinterpret_v_f32m##L##_u32m##L(v); }                   \
    static vf floats(vu v) { return __riscv_vreinterpret_v_u32m##L##_f32m##L(v); }                 \
    static vi ints(vu v) { return __riscv_vreinterpret_v_u32m##L##_i32m##L(v); }                   \
    static vu uints(vi v) { return __riscv_vreinterpret_v_i32m##L##_u32m##L(v); }                  \
  };

SATTN_RVV_LANES(8, 4, m2, 4)
SATTN_RVV_LANES(4, 2, m1, 8)
SATTN_RVV_LANES(2, 1, mf2, 16)
#undef SATTN_RVV_LANES

}  // namespace sattn_rvv
