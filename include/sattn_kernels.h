/*
 * libsattn kernel helpers: what every backend's kernels compute identically, as inline C99 that compiles for the
 * host, for CUDA device code (nvcc) and for RISC-V alike. The core uses the same definitions, so a backend that calls
 * these agrees with the layout builder and the reference bit for bit.
 *   - sattn_rule_keeps / sattn_tile_keeps: the element predicate of a layout tile, by index arithmetic;
 *   - fp16 / bf16 conversions on bits (round to nearest even), the precisions' rounding of probabilities;
 *   - the int8/int4 quantisation step (round half to even, clamp to +-qmax);
 *   - SplitMix64 and the lsh projection drawn from it.
 */
#ifndef SATTN_KERNELS_H
#define SATTN_KERNELS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sattn_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__CUDACC__)
#define SATTN_INLINE static inline __host__ __device__
#else
#define SATTN_INLINE static inline
#endif

/* ---- integer helpers -----------------------------------------------------------------------------------------------
 */
/* Floor division and non-negative remainder for a possibly negative numerator and a positive divisor. */
SATTN_INLINE int64_t sattn_floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0)) ? q - 1 : q;
}
SATTN_INLINE int64_t sattn_positive_mod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

/* ---- SplitMix64 and the lsh projection ------------------------------------------------------------------------------
 */
/* SplitMix64's increment, and its output for the state after an increment. Draw n (from 0) of the generator seeded
 * with `seed` is sattn_splitmix64_mix(seed + (n + 1) * SATTN_SPLITMIX64_GAMMA). */
#define SATTN_SPLITMIX64_GAMMA 0x9E3779B97F4A7C15ull
SATTN_INLINE uint64_t sattn_splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* A draw as a float uniform on [-1, 1) with 24 bits: (z >> 40) * 2^-23 - 1, exact. */
SATTN_INLINE float sattn_splitmix64_symmetric(uint64_t z) { return (float)(z >> 40) * 0x1p-23f - 1.0f; }

/* R[d][c] of the lsh projection R[D][nb / 2] (docs/patterns.md): draw d * (nb / 2) + c of SplitMix64 seeded with
 * lsh_seed, in closed form, so no implementation needs the matrix in memory to agree with the others. */
SATTN_INLINE float sattn_lsh_projection(uint64_t seed, int64_t d, int64_t half, int64_t c) {
  const uint64_t n = (uint64_t)(d * half + c);
  return sattn_splitmix64_symmetric(sattn_splitmix64_mix(seed + (n + 1u) * SATTN_SPLITMIX64_GAMMA));
}

/* ---- element predicates --------------------------------------------------------------------------------------------
 */
/* Whether key j is in the pattern part of the rule for query i (global tokens and causal aside). */
SATTN_INLINE int sattn_rule_in_pattern(const sattn_element_rule* rule, int64_t i, int64_t j) {
  const int64_t p = i + rule->q_offset;
  switch (rule->kind) {
    case SATTN_RULE_ALL:
      return 1;
    case SATTN_RULE_BAND: {
      const int64_t r = j - p;
      return r >= rule->band_lo && r <= rule->band_hi && r % rule->dilation == 0;
    }
    case SATTN_RULE_RING: {
      const int64_t r = sattn_positive_mod(j - p, rule->kv_len);
      if (r % rule->ring_gcd != 0) return 0;
      /* the smallest step t >= band_lo with dilation * t == r (mod kv_len); the core keeps the product < 2^62 */
      const int64_t t0 = (r / rule->ring_gcd) * rule->ring_inverse % rule->ring_period;
      return rule->band_lo + sattn_positive_mod(t0 - rule->band_lo, rule->ring_period) <= rule->band_hi;
    }
    case SATTN_RULE_BLOCK_BAND: {
      const int64_t b = rule->block_size;
      const int64_t c = sattn_floor_div((i / b) * b + rule->q_offset, b);
      const int64_t distance = j / b - c;
      return distance >= -rule->local_blocks && distance <= rule->local_blocks;
    }
    default:
      return 0;
  }
}

/* keep(i, j) of the rule: causal, global tokens, then the pattern. */
SATTN_INLINE int sattn_rule_keeps(const sattn_element_rule* rule, int64_t i, int64_t j) {
  const int64_t p = i + rule->q_offset;
  if (rule->causal && j > p) return 0;
  if (j < rule->global_tokens || (rule->global_tokens > 0 && p < rule->global_tokens)) return 1;
  return sattn_rule_in_pattern(rule, i, j);
}

/* The bit of key j (absolute) in query row i (absolute) of BITS tile kt of a span. */
SATTN_INLINE int sattn_bits_keep(const sattn_layout_view* view, const sattn_tile_span* span, int64_t kt, int64_t i,
                                 int64_t j) {
  const int64_t r = i - (i / view->tile_q) * view->tile_q, c = j - kt * view->tile_k;
  const uint64_t* tile = view->bits + span->bits + (kt - span->k_begin) * view->tile_q * view->bits_words_per_row;
  return (int)((tile[r * view->bits_words_per_row + c / 64] >> (c % 64)) & 1u);
}

/* keep(i, j) for key j in tile kt of span (of query i's row). */
SATTN_INLINE int sattn_tile_keeps(const sattn_layout_view* view, const sattn_tile_span* span, int64_t kt, int64_t i,
                                  int64_t j) {
  switch (span->kind) {
    case SATTN_TILE_FULL:
      return 1;
    case SATTN_TILE_CAUSAL:
      return j <= i + view->rule->q_offset;
    case SATTN_TILE_RULE:
      return sattn_rule_keeps(view->rule, i, j);
    default:
      return sattn_bits_keep(view, span, kt, i, j);
  }
}

/* The layout row of (batch b, query head hq, query tile qt). */
SATTN_INLINE int64_t sattn_layout_row(const sattn_layout_view* view, int64_t b, int64_t hq, int64_t qt) {
  const int64_t bb = view->batches == 1 ? 0 : b;
  const int64_t h = view->heads == 1 ? 0 : hq / view->head_divisor;
  return (bb * view->heads + h) * view->num_q_tiles + qt;
}

/* ---- fp16 and bf16 -------------------------------------------------------------------------------------------------
 */
SATTN_INLINE uint32_t sattn_float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
SATTN_INLINE float sattn_bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

SATTN_INLINE float sattn_bf16_to_float(uint16_t h) { return sattn_bits_float((uint32_t)h << 16); }

SATTN_INLINE uint16_t sattn_float_to_bf16(float f) {
  const uint32_t u = sattn_float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* keep NaN a NaN */
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

SATTN_INLINE float sattn_f16_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t e = 113;
  if (exponent == 0x1f) return sattn_bits_float(sign | 0x7f800000u | (mantissa << 13)); /* inf / NaN */
  if (exponent != 0) return sattn_bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return sattn_bits_float(sign);
  while ((mantissa & 0x400u) == 0) { /* subnormal: normalise the mantissa */
    mantissa <<= 1;
    --e;
  }
  return sattn_bits_float(sign | (e << 23) | ((mantissa & 0x3ffu) << 13));
}

SATTN_INLINE uint16_t sattn_float_to_f16(float f) {
  const uint32_t u = sattn_float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t magnitude = u & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  /* NaN */
  if (magnitude >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to infinity */
  if (magnitude < 0x38800000u) {                                   /* subnormal or zero */
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - (magnitude >> 23); /* 14..24 */
    uint32_t value, remainder, half;
    if (magnitude < 0x33000000u) return (uint16_t)sign;
    value = mantissa >> shift;
    remainder = mantissa & ((1u << shift) - 1u);
    half = 1u << (shift - 1u);
    if (remainder > half || (remainder == half && (value & 1u))) ++value;
    return (uint16_t)(sign | value);
  }
  {
    const uint32_t rebased = magnitude - 0x38000000u; /* exponent bias 127 -> 15 */
    return (uint16_t)(sign | ((rebased + 0xfffu + ((rebased >> 13) & 1u)) >> 13));
  }
}

SATTN_INLINE float sattn_round_to_bf16(float f) { return sattn_bf16_to_float(sattn_float_to_bf16(f)); }
SATTN_INLINE float sattn_round_to_f16(float f) { return sattn_f16_to_float(sattn_float_to_f16(f)); }

/* ---- precisions ----------------------------------------------------------------------------------------------------
 */
SATTN_INLINE int sattn_is_integer_precision(int32_t precision) {
  return precision == SATTN_PRECISION_INT8 || precision == SATTN_PRECISION_INT4;
}

/* Largest quantised magnitude: 127 for int8, 7 for int4. */
SATTN_INLINE float sattn_quant_max(int32_t precision) { return precision == SATTN_PRECISION_INT4 ? 7.0f : 127.0f; }

/* A probability (or input) rounded to the floating type of the precision; identity for fp32 and integer precisions,
 * whose probabilities stay fp32. */
SATTN_INLINE float sattn_round_to_precision(float x, int32_t precision) {
  if (precision == SATTN_PRECISION_BF16) return sattn_round_to_bf16(x);
  if (precision == SATTN_PRECISION_FP16) return sattn_round_to_f16(x);
  return x;
}

/* The scale of a slice: max|x| / qmax, or 1 for an all-zero slice (which quantises to zeros with any scale). */
SATTN_INLINE float sattn_quant_scale(float max_abs, float qmax) {
  const float scale = max_abs / qmax;
  return scale > 0.0f && scale <= 3.4028234663852886e38f ? scale : 1.0f;
}

/* x_q = clamp(round(x / s), -qmax, qmax), rounding half to even. */
SATTN_INLINE int8_t sattn_quantize(float x, float scale, float qmax) {
  float q = nearbyintf(x / scale);
  if (!(q >= -qmax)) q = -qmax; /* also maps NaN to -qmax instead of undefined behaviour in the cast */
  if (q > qmax) q = qmax;
  return (int8_t)q;
}

#ifdef __cplusplus
}
#endif
#endif /* SATTN_KERNELS_H */
