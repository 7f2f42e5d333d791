// Element-wise vector math of the rvv kernels: exp for the softmax, and the bf16/fp16 conversions and roundings done
// by integer operations on the bits, so they need no Zvfh/Zvfbfmin and agree bit for bit with sattn_kernels.h
// (round to nearest even, NaN kept a NaN, fp16 subnormals and overflow to infinity included).
#pragma once

#include <sattn_backend.h>

#include "rvv_lanes.hpp"

namespace sattn_rvv {

// exp(x) for x <= 0 (Cephes' polynomial, relative error about 1e-7, as the cpu backend's); exactly 0 below -87.3,
// which covers -inf (masked scores, and the first tile's rescale of an empty row).
template <class V>
inline typename V::vf exp_neg(typename V::vf x, size_t vl) {
  const typename V::vb underflow = __riscv_vmflt(x, -87.3f, vl);
  const typename V::vf xc = __riscv_vfmax(x, -87.3f, vl);
  const typename V::vi ni = __riscv_vfcvt_x(__riscv_vfmul(xc, 1.44269504088896341f, vl), vl);  // rounds to nearest
  const typename V::vf n = __riscv_vfcvt_f(ni, vl);
  typename V::vf r = __riscv_vfnmsac(xc, 0.693359375f, n, vl);
  r = __riscv_vfnmsac(r, -2.12194440e-4f, n, vl);
  typename V::vf p = V::splat(1.3981999507e-3f, vl);
  p = __riscv_vfmacc(p, 1.9875691500e-4f, r, vl);
  p = __riscv_vfadd(__riscv_vfmul(p, r, vl), 8.3334519073e-3f, vl);
  p = __riscv_vfadd(__riscv_vfmul(p, r, vl), 4.1665795894e-2f, vl);
  p = __riscv_vfadd(__riscv_vfmul(p, r, vl), 1.6666665459e-1f, vl);
  p = __riscv_vfadd(__riscv_vfmul(p, r, vl), 5.0000001201e-1f, vl);
  p = __riscv_vfmadd(p, __riscv_vfmul(r, r, vl), r, vl);  // p * r^2 + r
  p = __riscv_vfadd(p, 1.0f, vl);
  const typename V::vu scale = __riscv_vsll(V::uints(__riscv_vadd(ni, 127, vl)), 23, vl);  // 2^n
  return __riscv_vfmerge(__riscv_vfmul(p, V::floats(scale), vl), 0.0f, underflow, vl);
}

// x rounded to bf16 (nearest, ties to even), NaN kept a NaN: sattn_round_to_bf16.
template <class V>
inline typename V::vf round_bf16(typename V::vf x, size_t vl) {
  const typename V::vu u = V::bits(x);
  const typename V::vu lsb = __riscv_vand(__riscv_vsrl(u, 16, vl), 1u, vl);
  const typename V::vu rounded = __riscv_vand(__riscv_vadd(__riscv_vadd(u, lsb, vl), 0x7fffu, vl), 0xffff0000u, vl);
  return __riscv_vmerge(V::floats(rounded), x, __riscv_vmfne(x, x, vl), vl);
}

// x rounded to fp16 and widened back, as sattn_round_to_f16: 10 mantissa bits for normal numbers, steps of 2^-24 below
// 2^-14 (0.75 + |x| has exactly that step), infinity from 65520 on, NaN kept a NaN.
template <class V>
inline typename V::vf round_f16(typename V::vf x, size_t vl) {
  const typename V::vu u = V::bits(x);
  const typename V::vu magnitude = __riscv_vand(u, 0x7fffffffu, vl);
  const typename V::vu lsb = __riscv_vand(__riscv_vsrl(magnitude, 13, vl), 1u, vl);
  typename V::vu r = __riscv_vand(__riscv_vadd(__riscv_vadd(magnitude, lsb, vl), 0xfffu, vl), 0xffffe000u, vl);
  const typename V::vf tiny = __riscv_vfsub(__riscv_vfadd(V::floats(magnitude), 0.75f, vl), 0.75f, vl);
  r = __riscv_vmerge(r, V::bits(tiny), __riscv_vmsltu(magnitude, 0x38800000u, vl), vl);
  r = __riscv_vmerge(r, 0x7f800000u, __riscv_vmsgeu(magnitude, 0x477ff000u, vl), vl);
  r = __riscv_vor(r, __riscv_vand(u, 0x80000000u, vl), vl);
  return __riscv_vmerge(V::floats(r), x, __riscv_vmfne(x, x, vl), vl);
}

// Non-negative finite probabilities rounded to the precision (no NaN, infinity or sign to keep).
template <class V>
inline typename V::vf round_probability(typename V::vf p, int32_t precision, size_t vl) {
  if (precision == SATTN_PRECISION_BF16) {
    const typename V::vu u = V::bits(p);
    const typename V::vu lsb = __riscv_vand(__riscv_vsrl(u, 16, vl), 1u, vl);
    return V::floats(__riscv_vand(__riscv_vadd(__riscv_vadd(u, lsb, vl), 0x7fffu, vl), 0xffff0000u, vl));
  }
  if (precision == SATTN_PRECISION_FP16) {
    const typename V::vu u = V::bits(p);
    const typename V::vu lsb = __riscv_vand(__riscv_vsrl(u, 13, vl), 1u, vl);
    const typename V::vu normal = __riscv_vand(__riscv_vadd(__riscv_vadd(u, lsb, vl), 0xfffu, vl), 0xffffe000u, vl);
    const typename V::vf tiny = __riscv_vfsub(__riscv_vfadd(p, 0.75f, vl), 0.75f, vl);
    return __riscv_vmerge(V::floats(normal), tiny, __riscv_vmflt(p, 6.103515625e-05f, vl), vl);
  }
  return p;
}

// An input rounded to the precision (identity for fp32).
template <class V>
inline typename V::vf round_input(typename V::vf x, int32_t precision, size_t vl) {
  if (precision == SATTN_PRECISION_BF16) return round_bf16<V>(x, vl);
  if (precision == SATTN_PRECISION_FP16) return round_f16<V>(x, vl);
  return x;
}

// bf16 bits widened to fp32: exact, a shift.
template <class V>
inline typename V::vf bf16_to_f32(typename V::vh h, size_t vl) {
  return V::floats(__riscv_vsll(__riscv_vzext_vf2(h, vl), 16, vl));
}

// fp16 bits widened to fp32, exactly: the magnitude shifted into fp32's field is the value times 2^-112 (subnormal
// fp16 becoming subnormal fp32, which RISC-V never flushes), so one multiply rebiases it; infinities and NaNs get
// fp32's all-ones exponent instead.
template <class V>
inline typename V::vf f16_to_f32(typename V::vh h, size_t vl) {
  const typename V::vu w = __riscv_vzext_vf2(h, vl);
  const typename V::vu shifted = __riscv_vsll(__riscv_vand(w, 0x7fffu, vl), 13, vl);
  typename V::vu r = V::bits(__riscv_vfmul(V::floats(shifted), 0x1.0p112f, vl));
  r = __riscv_vmerge(r, __riscv_vor(shifted, 0x70000000u, vl), __riscv_vmsgeu(shifted, 0x0f800000u, vl), vl);
  return V::floats(__riscv_vor(r, __riscv_vsll(__riscv_vand(w, 0x8000u, vl), 16, vl), vl));
}

// fp32 to bf16 bits (nearest, ties to even; NaN kept a NaN), as sattn_float_to_bf16.
template <class V>
inline typename V::vh f32_to_bf16(typename V::vf x, size_t vl) {
  return __riscv_vnsrl(V::bits(round_bf16<V>(x, vl)), 16, vl);
}

// fp32 to fp16 bits, as sattn_float_to_f16: round in fp32 first (round_f16), then the now exact value's fields move
// down: rebias the exponent of normal numbers, scale subnormals by 2^24 to their integer mantissa.
template <class V>
inline typename V::vh f32_to_f16(typename V::vf x, size_t vl) {
  const typename V::vu u = V::bits(round_f16<V>(x, vl));
  const typename V::vu magnitude = __riscv_vand(u, 0x7fffffffu, vl);
  typename V::vu h = __riscv_vsrl(__riscv_vsub(magnitude, 0x38000000u, vl), 13, vl);
  const typename V::vu sub = __riscv_vfcvt_rtz_xu(__riscv_vfmul(V::floats(magnitude), 0x1.0p24f, vl), vl);
  h = __riscv_vmerge(h, sub, __riscv_vmsltu(magnitude, 0x38800000u, vl), vl);
  h = __riscv_vmerge(h, 0x7c00u, __riscv_vmsgeu(magnitude, 0x7f800000u, vl), vl);
  h = __riscv_vmerge(h, 0x7e00u, __riscv_vmsgtu(magnitude, 0x7f800000u, vl), vl);
  return __riscv_vnsrl(__riscv_vor(h, __riscv_vsrl(__riscv_vand(u, 0x80000000u, vl), 16, vl), vl), 0, vl);
}

}  // namespace sattn_rvv
