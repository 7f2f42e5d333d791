// The rvv backend's flash-style forward kernel, vectorised over query rows: one vector holds one column of a score
// tile, a key against VLMAX stacked query rows. Q.K and P.V are then broadcast multiply-adds (vfmacc.vf) of a scalar
// of K or V into vectors of Q^T or P^T, and the online softmax is element-wise across those vectors: no reductions,
// no transposed store of P, and every instruction's width grows with VLEN as long as a tile has VLMAX rows (the
// backend's tile_shape sees to that). Strip-mined with vsetvl; nothing assumes a VLEN.
//
// One task = (batch, kv head, query tile); the G query heads of the kv head are stacked into one block of rows when
// they share a layout row, so each K/V tile is converted once for all of them. Per key tile and chunk of rows:
// S^T = K Q^T (Q pre-scaled), the tile kind's mask, online softmax (running max m and sum l per row), P rounded to
// the precision, O^T = alpha O^T + V^T P^T.
#include <math.h>
#include <sattn_kernels.h>

#include "rvv_kernel.hpp"
#include "rvv_lanes.hpp"
#include "rvv_math.hpp"

namespace sattn_rvv {
namespace {

using Mac = Lanes<kMacLmul>;
// The softmax's exp keeps four vectors live, which LMUL 8 (four register groups) would spill; LMUL 4 counted fewer.
using Soft = Lanes<4>;
// Conversions while packing tiles keep three to four vectors live: LMUL 4 as well.
using Pack = Lanes<4>;

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// A 4-D source of values: a tensor of the run, or the landmark keys/values (contiguous fp32).
struct Source {
  const void* data;
  int32_t dtype;
  int64_t strides[4];
};

Source source_of(const sattn_tensor& t) {
  return Source{t.data, t.dtype, {t.strides[0], t.strides[1], t.strides[2], t.strides[3]}};
}

Source contiguous_f32(const float* data, int64_t heads, int64_t rows, int64_t cols) {
  return Source{data, SATTN_DTYPE_F32, {heads * rows * cols, rows * cols, cols, 1}};
}

// vl values of s at element offset `at`, `step` elements apart, widened to fp32 and rounded to the precision.
template <class V>
inline typename V::vf load_values(const Source& s, int64_t at, int64_t step, int32_t precision, size_t vl) {
  typename V::vf x;
  if (s.dtype == SATTN_DTYPE_F32) {
    const float* p = static_cast<const float*>(s.data) + at;
    x = step == 1 ? V::load(p, vl) : V::load(p, step * 4, vl);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(s.data) + at;
    const typename V::vh h = step == 1 ? V::load_u16(p, vl) : V::load_u16(p, step * 2, vl);
    x = s.dtype == SATTN_DTYPE_BF16 ? bf16_to_f32<V>(h, vl) : f16_to_f32<V>(h, vl);
  }
  return round_input<V>(x, precision, vl);
}

// vl quantised values (int8 storage, step bytes apart) back in fp32: times their scales (consecutive floats) and
// times extra. The int8/int4 operands of host->quantize are dequantised as tiles are packed, so the multiply-add
// kernels stay the fp32 ones (the score of a pair is the same scale * s_q * s_k * (q_q . k_q), rounded in fp32).
template <class V>
inline typename V::vf dequantize(const int8_t* p, ptrdiff_t step, const float* scales, float extra, size_t vl) {
  const typename V::vf x = __riscv_vfcvt_f(__riscv_vsext_vf4(V::load_i8(p, step, vl), vl), vl);
  return __riscv_vfmul(__riscv_vfmul(x, V::load(scales, vl), vl), extra, vl);
}

// vl values to tensor t at element offset `at`, `step` elements apart, converted to its dtype.
template <class V>
inline void store_values(const sattn_tensor& t, int64_t at, int64_t step, typename V::vf x, size_t vl) {
  if (t.dtype == SATTN_DTYPE_F32) {
    float* p = static_cast<float*>(t.data) + at;
    if (step == 1)
      V::store(p, x, vl);
    else
      V::store(p, step * 4, x, vl);
    return;
  }
  uint16_t* p = static_cast<uint16_t*>(t.data) + at;
  V::store_u16(p, step * 2, t.dtype == SATTN_DTYPE_BF16 ? f32_to_bf16<V>(x, vl) : f32_to_f16<V>(x, vl), vl);
}

void fill(float* p, int64_t n, float value) {
  for (int64_t i = 0; i < n;) {
    const size_t vl = Pack::setvl(static_cast<size_t>(n - i));
    Pack::store(p + i, Pack::splat(value, vl), vl);
    i += static_cast<int64_t>(vl);
  }
}

// ---- micro-kernels --------------------------------------------------------------------------------------------------
// R accumulators a0..a6 in named variables (vector types are sizeless: no arrays); unused ones are discarded.
#define SATTN_RVV_EACH(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6)

// S^T rows c .. c + R (ld lds) of one chunk = sum over d of K^T[d][c + i] * Q^T[d] (ld ldr). Two steps of d per
// iteration share the loop's counter and branch; one operand register suffices, as each q dies after its R uses.
template <class V, int R>
void scores_block(const float* qt, int64_t ldr, const float* kt, int64_t ldk, int64_t D, float* st, int64_t lds,
                  size_t vl) {
  typename V::vf a0, a1, a2, a3, a4, a5, a6;
#define SATTN_RVV_INIT(i) \
  if constexpr (R > i) a##i = V::splat(0.0f, vl);
  SATTN_RVV_EACH(SATTN_RVV_INIT)
#undef SATTN_RVV_INIT
#define SATTN_RVV_MAC(i) \
  if constexpr (R > i) a##i = __riscv_vfmacc(a##i, k[i], q, vl);
  int64_t d = 0;
  for (; d + 2 <= D; d += 2) {
    {
      const typename V::vf q = V::load(qt + d * ldr, vl);
      const float* k = kt + d * ldk;
      SATTN_RVV_EACH(SATTN_RVV_MAC)
    }
    {
      const typename V::vf q = V::load(qt + (d + 1) * ldr, vl);
      const float* k = kt + (d + 1) * ldk;
      SATTN_RVV_EACH(SATTN_RVV_MAC)
    }
  }
  if (d < D) {
    const typename V::vf q = V::load(qt + d * ldr, vl);
    const float* k = kt + d * ldk;
    SATTN_RVV_EACH(SATTN_RVV_MAC)
  }
#undef SATTN_RVV_MAC
#define SATTN_RVV_STORE(i) \
  if constexpr (R > i) V::store(st + (i)*lds, a##i, vl);
  SATTN_RVV_EACH(SATTN_RVV_STORE)
#undef SATTN_RVV_STORE
}

// O^T rows c .. c + R (ld ldr) of one chunk = alpha O^T + sum over keys j of V[j][c + i] * P^T[j] (ld lds), two
// keys per iteration.
template <class V, int R>
void accumulate_block(const float* pt, int64_t lds, const float* v, int64_t ldv, int64_t nk, float* ot, int64_t ldr,
                      const float* alpha, size_t vl) {
  typename V::vf a0, a1, a2, a3, a4, a5, a6;
  {
    const typename V::vf rescale = V::load(alpha, vl);
#define SATTN_RVV_INIT(i) \
  if constexpr (R > i) a##i = __riscv_vfmul(V::load(ot + (i)*ldr, vl), rescale, vl);
    SATTN_RVV_EACH(SATTN_RVV_INIT)
#undef SATTN_RVV_INIT
  }
#define SATTN_RVV_MAC(i) \
  if constexpr (R > i) a##i = __riscv_vfmacc(a##i, vr[i], p, vl);
  int64_t j = 0;
  for (; j + 2 <= nk; j += 2) {
    {
      const typename V::vf p = V::load(pt + j * lds, vl);
      const float* vr = v + j * ldv;
      SATTN_RVV_EACH(SATTN_RVV_MAC)
    }
    {
      const typename V::vf p = V::load(pt + (j + 1) * lds, vl);
      const float* vr = v + (j + 1) * ldv;
      SATTN_RVV_EACH(SATTN_RVV_MAC)
    }
  }
  if (j < nk) {
    const typename V::vf p = V::load(pt + j * lds, vl);
    const float* vr = v + j * ldv;
    SATTN_RVV_EACH(SATTN_RVV_MAC)
  }
#undef SATTN_RVV_MAC
#define SATTN_RVV_STORE(i) \
  if constexpr (R > i) V::store(ot + (i)*ldr, a##i, vl);
  SATTN_RVV_EACH(SATTN_RVV_STORE)
#undef SATTN_RVV_STORE
}

// The tail of n < R columns, with a micro-kernel of exactly n accumulators.
template <class V, int R>
void scores_tail(int64_t n, const float* qt, int64_t ldr, const float* kt, int64_t ldk, int64_t D, float* st,
                 int64_t lds, size_t vl) {
  if constexpr (R > 0) {
    if (n == R) return scores_block<V, R>(qt, ldr, kt, ldk, D, st, lds, vl);
    scores_tail<V, R - 1>(n, qt, ldr, kt, ldk, D, st, lds, vl);
  }
}

template <class V, int R>
void accumulate_tail(int64_t n, const float* pt, int64_t lds, const float* v, int64_t ldv, int64_t nk, float* ot,
                     int64_t ldr, const float* alpha, size_t vl) {
  if constexpr (R > 0) {
    if (n == R) return accumulate_block<V, R>(pt, lds, v, ldv, nk, ot, ldr, alpha, vl);
    accumulate_tail<V, R - 1>(n, pt, lds, v, ldv, nk, ot, ldr, alpha, vl);
  }
}

// Accumulators of a micro-kernel at LMUL L: every register group but the one its operand is loaded into (at most the
// seven named above).
template <int Lmul>
constexpr int kR = 32 / Lmul - 1 > 7 ? 7 : 32 / Lmul - 1;

void scores(const float* qt, int64_t ldr, const float* kt, int64_t ldk, int64_t D, int64_t nk, float* st, int64_t lds,
            size_t vl) {
  constexpr int R = kR<kMacLmul>;
  int64_t c = 0;
  for (; c + R <= nk; c += R) scores_block<Mac, R>(qt, ldr, kt + c, ldk, D, st + c * lds, lds, vl);
  scores_tail<Mac, R - 1>(nk - c, qt, ldr, kt + c, ldk, D, st + c * lds, lds, vl);
}

void accumulate(const float* pt, int64_t lds, const float* v, int64_t ldv, int64_t nk, int64_t Dv, float* ot,
                int64_t ldr, const float* alpha, size_t vl) {
  constexpr int R = kR<kMacLmul>;
  int64_t c = 0;
  for (; c + R <= Dv; c += R) accumulate_block<Mac, R>(pt, lds, v + c, ldv, nk, ot + c * ldr, ldr, alpha, vl);
  accumulate_tail<Mac, R - 1>(Dv - c, pt, lds, v + c, ldv, nk, ot + c * ldr, ldr, alpha, vl);
}

// Online softmax step over one chunk of n rows: updates m and l, leaves P (rounded to the precision) in S^T and the
// factor each row's O must be multiplied by in alpha. A row that has kept nothing so far (m = -inf) shifts by 0, so
// its P and alpha are exactly 0 (O and l are still 0).
template <int32_t Precision>
void softmax(float* st, int64_t lds, int64_t nk, float* m, float* l, float* alpha, size_t n) {
  using V = Soft;
  for (size_t r = 0; r < n;) {
    const size_t vl = V::setvl(n - r);
    typename V::vf tile_max = V::splat(-INFINITY, vl);
    for (int64_t c = 0; c < nk; ++c) tile_max = __riscv_vfmax(tile_max, V::load(st + c * lds + r, vl), vl);
    const typename V::vf m_old = V::load(m + r, vl);
    const typename V::vf m_new = __riscv_vfmax(m_old, tile_max, vl);
    V::store(m + r, m_new, vl);
    const typename V::vf shift = __riscv_vfmerge(m_new, 0.0f, __riscv_vmfeq(m_new, -INFINITY, vl), vl);
    const typename V::vf rescale = exp_neg<V>(__riscv_vfsub(m_old, shift, vl), vl);
    V::store(alpha + r, rescale, vl);
    typename V::vf sum = __riscv_vfmul(V::load(l + r, vl), rescale, vl);
    for (int64_t c = 0; c < nk; ++c) {
      float* s = st + c * lds + r;
      const typename V::vf p = exp_neg<V>(__riscv_vfsub(V::load(s, vl), shift, vl), vl);
      sum = __riscv_vfadd(sum, p, vl);  // the denominator sums P unrounded, as the reference does
      V::store(s, round_probability<V>(p, Precision, vl), vl);
    }
    V::store(l + r, sum, vl);
    r += vl;
  }
}

// ---- one task -------------------------------------------------------------------------------------------------------
// The stacked rows interleave the heads: row r is query q0 + r / heads of head first_head + r % heads. The rows of
// one run of query positions are then consecutive whatever the heads, so the rows a key tile concerns (a causal or
// band edge) are one range of whole vectors.
struct Rows {
  int64_t b, hk, q0, tq, first_head, heads;  // query rows [q0, q0 + tq) of query heads first_head + [0, heads)
};

// The scratch of one worker, carved in 64-byte aligned pieces (the order scratch_floats measures).
struct Scratch {
  float *qt, *kt, *v, *st, *ot, *m, *l, *alpha;
  int64_t ldr, ldk, lds;  // row strides of Q^T and O^T, of K^T, of S^T
};

Scratch carve(float* base, int64_t rows, int64_t tile_k, int64_t D, int64_t Dv) {
  Scratch s;
  s.ldr = round_up(rows, 16);
  s.ldk = round_up(tile_k, 16);
  s.lds = round_up(chunk_rows(), 16);
  float* at = base;
  auto take = [&at](int64_t n) {
    float* p = at;
    at += round_up(n, 16);
    return p;
  };
  s.qt = take(D * s.ldr);
  s.kt = take(D * s.ldk);
  s.v = take(s.ldk * Dv);
  s.st = take(s.ldk * s.lds);
  s.ot = take(Dv * s.ldr);
  s.m = take(s.ldr);
  s.l = take(s.ldr);
  s.alpha = take(s.lds);
  return s;
}

// A RULE tile whose rule is a plain band (dilation 1, no global tokens): its kept positions per key are one interval.
bool plain_band(const sattn_layout_view& view, const sattn_tile_span& span) {
  if (span.kind != SATTN_TILE_RULE) return false;
  const sattn_element_rule& rule = *view.rule;
  return rule.kind == SATTN_RULE_BAND && rule.dilation == 1 && rule.global_tokens == 0;
}

// The query positions (relative to the tile's first row) that keep key j of a CAUSAL or plain band tile: [lo, hi).
void kept_positions(const sattn_layout_view& view, const sattn_tile_span& span, const Rows& rows, int64_t j,
                    int64_t* lo, int64_t* hi) {
  const sattn_element_rule& rule = *view.rule;
  const int64_t base = rows.q0 + rule.q_offset;  // position of the tile's row 0
  if (span.kind == SATTN_TILE_CAUSAL) {          // kept: position >= j
    *lo = j - base;
    *hi = rows.tq;
    return;
  }
  // kept: j - band_hi <= position <= j - band_lo, and position >= j with causal
  *lo = (rule.causal ? max64(j - rule.band_hi, j) : j - rule.band_hi) - base;
  *hi = j - rule.band_lo - base + 1;
}

// The stacked rows [*first, *last) that keep some key of tile [j0, j0 + nk): all of them but for causal and plain
// band tiles, whose edge tiles then cost only the rows they concern.
void tile_rows(const sattn_layout_view& view, const sattn_tile_span& span, const Rows& rows, int64_t j0, int64_t nk,
               int64_t* first, int64_t* last) {
  int64_t lo = 0, hi = rows.tq;
  if (span.kind == SATTN_TILE_CAUSAL || plain_band(view, span)) {
    // Both ends of a key's kept positions grow with the key: the first key gives the lowest, the last the highest.
    int64_t hi_first = 0, lo_last = 0;
    kept_positions(view, span, rows, j0, &lo, &hi_first);
    kept_positions(view, span, rows, j0 + nk - 1, &lo_last, &hi);
    lo = min64(max64(lo, 0), rows.tq);
    hi = min64(max64(hi, lo), rows.tq);
  }
  *first = lo * rows.heads;
  *last = hi * rows.heads;
}

// Sets to -inf the scores of chunk-relative rows [from, to) of one column (clamped to the chunk's n rows).
inline void drop(float* column, int64_t from, int64_t to, int64_t n) {
  from = max64(from, 0);
  to = min64(to, n);
  if (to > from) fill(column + from, to - from, -INFINITY);
}

// The mask of a CAUSAL, RULE or BITS tile over the chunk of stacked rows [r0, r0 + n), column by column.
void mask_chunk(const KernelParams& p, const Rows& rows, const sattn_tile_span& span, int64_t kt, int64_t nk,
                int64_t r0, int64_t n, const Scratch& s) {
  const sattn_layout_view& view = *p.view;
  const int64_t j0 = kt * view.tile_k, H = rows.heads;
  const bool interval = span.kind == SATTN_TILE_CAUSAL || plain_band(view, span);
  for (int64_t c = 0; c < nk; ++c) {
    const int64_t j = j0 + c;
    float* column = s.st + c * s.lds;  // column[r - r0] is stacked row r
    if (interval) {
      int64_t lo = 0, hi = 0;
      kept_positions(view, span, rows, j, &lo, &hi);
      drop(column, 0, lo * H - r0, n);
      drop(column, hi * H - r0, n, n);
    } else if (span.kind == SATTN_TILE_RULE) {
      for (int64_t r = r0; r < r0 + n; ++r)
        if (!sattn_rule_keeps(view.rule, rows.q0 + r / H, j)) column[r - r0] = -INFINITY;
    } else {  // BITS: bit c of each query row's words (read as 32-bit halves), for each head's rows of the chunk
      const uint32_t* tile = reinterpret_cast<const uint32_t*>(
          view.bits + span.bits + (kt - span.k_begin) * view.tile_q * view.bits_words_per_row);
      const int64_t row_words = view.bits_words_per_row * 2;
      for (int64_t h = 0; h < H; ++h) {
        const int64_t first = r0 + sattn_positive_mod(h - r0, H);  // the chunk's first row of head h
        for (int64_t r = first; r < r0 + n;) {
          const size_t vl = Pack::setvl(static_cast<size_t>((r0 + n - r + H - 1) / H));
          const Pack::vu word = Pack::load_u32(tile + (r / H) * row_words + c / 32, row_words * 4, vl);
          const Pack::vb dropped = __riscv_vmseq(__riscv_vand(__riscv_vsrl(word, c % 32, vl), 1u, vl), 0u, vl);
          float* at = column + (r - r0);
          Pack::store(at, H * 4, __riscv_vfmerge(Pack::load(at, H * 4, vl), -INFINITY, dropped, vl), vl);
          r += static_cast<int64_t>(vl) * H;
        }
      }
    }
  }
}

// Q^T of the stacked rows, rounded to the precision and scaled: Q^T[d][ii * heads + h].
void load_queries(const KernelParams& p, const Rows& rows, const Scratch& s) {
  const Source q = source_of(*p.q);
  const int64_t H = rows.heads, D = p.head_dim;
  for (int64_t h = 0; h < H; ++h) {
    const int64_t at = rows.b * q.strides[0] + (rows.first_head + h) * q.strides[1] + rows.q0 * q.strides[2];
    const int64_t row = (rows.b * p.num_q_heads + rows.first_head + h) * p.q_len + rows.q0;  // of the quantised Q
    for (int64_t d = 0; d < D; ++d) {
      float* dst = s.qt + d * s.ldr + h;
      for (int64_t ii = 0; ii < rows.tq;) {
        const size_t vl = Pack::setvl(static_cast<size_t>(rows.tq - ii));
        const Pack::vf x =
            p.quantized != nullptr
                ? dequantize<Pack>(p.quantized->q + (row + ii) * D + d, D, p.quantized->q_scale + row + ii, 1.0f, vl)
                : load_values<Pack>(q, at + ii * q.strides[2] + d * q.strides[3], q.strides[2], p.precision, vl);
        if (H == 1)
          Pack::store(dst + ii, __riscv_vfmul(x, p.scale, vl), vl);
        else
          Pack::store(dst + ii * H, H * 4, __riscv_vfmul(x, p.scale, vl), vl);
        ii += static_cast<int64_t>(vl);
      }
    }
  }
}

// K^T of keys [j0, j0 + nk), rounded to the precision, into s.kt.
void pack_keys(const KernelParams& p, const Rows& rows, int64_t j0, int64_t nk, const Scratch& s) {
  const sattn_layout_view& view = *p.view;
  if (p.quantized != nullptr) {
    const int64_t D = p.head_dim, row = (rows.b * p.num_kv_heads + rows.hk) * p.kv_rows + j0;
    for (int64_t d = 0; d < D; ++d)
      for (int64_t c = 0; c < nk;) {
        const size_t vl = Pack::setvl(static_cast<size_t>(nk - c));
        Pack::store(s.kt + d * s.ldk + c,
                    dequantize<Pack>(p.quantized->k + (row + c) * D + d, D, p.quantized->k_scale + row + c, 1.0f, vl),
                    vl);
        c += static_cast<int64_t>(vl);
      }
    return;
  }
  const Source k =
      view.keys != nullptr ? contiguous_f32(view.keys, p.num_kv_heads, view.kv_len, p.head_dim) : source_of(*p.k);
  const int64_t at = rows.b * k.strides[0] + rows.hk * k.strides[1] + j0 * k.strides[2];
  for (int64_t d = 0; d < p.head_dim; ++d)
    for (int64_t c = 0; c < nk;) {
      const size_t vl = Pack::setvl(static_cast<size_t>(nk - c));
      Pack::store(s.kt + d * s.ldk + c,
                  load_values<Pack>(k, at + c * k.strides[2] + d * k.strides[3], k.strides[2], p.precision, vl), vl);
      c += static_cast<int64_t>(vl);
    }
}

// V of keys [j0, j0 + nk) as fp32 rows rounded to the precision: read in place where it already is (fp32 values,
// fp32 precision, unit column stride), else converted into s.v. Returns the rows and sets their stride.
const float* values_of(const KernelParams& p, const Rows& rows, int64_t j0, int64_t nk, const Scratch& s,
                       int64_t* ldv) {
  const sattn_layout_view& view = *p.view;
  const int64_t Dv = p.head_dim_v;
  if (p.quantized != nullptr) {
    const int64_t row = (rows.b * p.num_kv_heads + rows.hk) * p.kv_rows + j0;
    const float* channel_scale = p.quantized->v_scale + (rows.b * p.num_kv_heads + rows.hk) * Dv;
    for (int64_t c = 0; c < nk; ++c)
      for (int64_t d = 0; d < Dv;) {
        const size_t vl = Pack::setvl(static_cast<size_t>(Dv - d));
        Pack::store(s.v + c * Dv + d,
                    dequantize<Pack>(p.quantized->v + (row + c) * Dv + d, 1, channel_scale + d, 1.0f, vl), vl);
        d += static_cast<int64_t>(vl);
      }
    *ldv = Dv;
    return s.v;
  }
  const Source v =
      view.values != nullptr ? contiguous_f32(view.values, p.num_kv_heads, view.kv_len, Dv) : source_of(*p.v);
  const int64_t at = rows.b * v.strides[0] + rows.hk * v.strides[1] + j0 * v.strides[2];
  if (v.dtype == SATTN_DTYPE_F32 && p.precision == SATTN_PRECISION_FP32 && v.strides[3] == 1) {
    *ldv = v.strides[2];
    return static_cast<const float*>(v.data) + at;
  }
  for (int64_t c = 0; c < nk; ++c)
    for (int64_t d = 0; d < Dv;) {
      const size_t vl = Pack::setvl(static_cast<size_t>(Dv - d));
      Pack::store(s.v + c * Dv + d,
                  load_values<Pack>(v, at + c * v.strides[2] + d * v.strides[3], v.strides[3], p.precision, vl), vl);
      d += static_cast<int64_t>(vl);
    }
  *ldv = Dv;
  return s.v;
}

void softmax_for(int32_t precision, float* st, int64_t lds, int64_t nk, float* m, float* l, float* alpha, size_t n) {
  if (precision == SATTN_PRECISION_BF16)
    softmax<SATTN_PRECISION_BF16>(st, lds, nk, m, l, alpha, n);
  else if (precision == SATTN_PRECISION_FP16)
    softmax<SATTN_PRECISION_FP16>(st, lds, nk, m, l, alpha, n);
  else
    softmax<SATTN_PRECISION_FP32>(st, lds, nk, m, l, alpha, n);
}

// O and LSE of the stacked rows: O = O^T / l (0 where nothing was kept), LSE = m + log l (-inf there).
void write_out(const KernelParams& p, const Rows& rows, const Scratch& s) {
  const int64_t H = rows.heads, n_rows = H * rows.tq;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float l = s.l[r];
    if (p.lse != nullptr) {
      const sattn_tensor& t = *p.lse;
      const int64_t hq = rows.first_head + r % H, i = rows.q0 + r / H;
      // int8/int4: the smoothing of K shifted every score of the row; the LSE gets it back
      const float shift =
          p.quantized != nullptr ? p.quantized->lse_shift[(rows.b * p.num_q_heads + hq) * p.q_len + i] : 0.0f;
      static_cast<float*>(t.data)[rows.b * t.strides[0] + hq * t.strides[1] + i * t.strides[2]] =
          l > 0.0f ? s.m[r] + logf(l) + shift : -INFINITY;
    }
    s.l[r] = l > 0.0f ? 1.0f / l : 0.0f;
  }
  const sattn_tensor& o = *p.o;
  for (int64_t h = 0; h < H; ++h) {
    const int64_t at = rows.b * o.strides[0] + (rows.first_head + h) * o.strides[1] + rows.q0 * o.strides[2];
    for (int64_t c = 0; c < p.head_dim_v; ++c)
      for (int64_t ii = 0; ii < rows.tq;) {
        const size_t vl = Pack::setvl(static_cast<size_t>(rows.tq - ii));
        const int64_t r = ii * H + h;
        const Pack::vf x =
            __riscv_vfmul(Pack::load(s.ot + c * s.ldr + r, H * 4, vl), Pack::load(s.l + r, H * 4, vl), vl);
        store_values<Pack>(o, at + ii * o.strides[2] + c * o.strides[3], o.strides[2], x, vl);
        ii += static_cast<int64_t>(vl);
      }
  }
}

// Attention for a block of rows that share one layout row.
void attend(const KernelParams& p, const Rows& rows, int64_t layout_row, const Scratch& s) {
  const sattn_layout_view& view = *p.view;
  const int64_t n_rows = rows.heads * rows.tq;
  load_queries(p, rows, s);
  for (int64_t c = 0; c < p.head_dim_v; ++c) fill(s.ot + c * s.ldr, n_rows, 0.0f);
  fill(s.m, n_rows, -INFINITY);
  fill(s.l, n_rows, 0.0f);
  for (int64_t n = view.row_ptr[layout_row]; n < view.row_ptr[layout_row + 1]; ++n) {
    const sattn_tile_span& span = view.spans[n];
    for (int64_t kt = span.k_begin; kt < span.k_end; ++kt) {
      const int64_t j0 = kt * view.tile_k, nk = min64(view.tile_k, view.kv_len - j0);
      int64_t first = 0, last = 0;
      tile_rows(view, span, rows, j0, nk, &first, &last);
      if (first >= last) continue;  // no row of this block keeps a key of the tile
      pack_keys(p, rows, j0, nk, s);
      int64_t ldv = 0;
      const float* v = values_of(p, rows, j0, nk, s, &ldv);
      for (int64_t r0 = first; r0 < last;) {
        const size_t vl = Mac::setvl(static_cast<size_t>(last - r0));
        scores(s.qt + r0, s.ldr, s.kt, s.ldk, p.head_dim, nk, s.st, s.lds, vl);
        if (span.kind != SATTN_TILE_FULL) mask_chunk(p, rows, span, kt, nk, r0, static_cast<int64_t>(vl), s);
        softmax_for(p.precision, s.st, s.lds, nk, s.m + r0, s.l + r0, s.alpha, vl);
        accumulate(s.st, s.lds, v, ldv, nk, p.head_dim_v, s.ot + r0, s.ldr, s.alpha, vl);
        r0 += static_cast<int64_t>(vl);
      }
    }
  }
  write_out(p, rows, s);
}

}  // namespace

void run_task(const KernelParams& p, float* scratch, int64_t task) {
  const sattn_layout_view& view = *p.view;
  const int64_t group = p.num_q_heads / p.num_kv_heads;
  const int64_t qt = task % view.num_q_tiles, hk = (task / view.num_q_tiles) % p.num_kv_heads;
  const int64_t b = task / (view.num_q_tiles * p.num_kv_heads);
  const int64_t q0 = qt * view.tile_q, tq = min64(view.tile_q, p.q_len - q0);
  const int64_t first = hk * group;
  // Stack the G heads when they read one layout row (shared or per kv head); per query head otherwise.
  const int64_t row_first = sattn_layout_row(&view, b, first, qt);
  const bool stacked = row_first == sattn_layout_row(&view, b, first + group - 1, qt);
  const int64_t heads = stacked ? group : 1;
  const Scratch s = carve(scratch, heads * tq, view.tile_k, p.head_dim, p.head_dim_v);
  for (int64_t h = first; h < first + group; h += heads) {
    const Rows rows{b, hk, q0, tq, h, heads};
    attend(p, rows, sattn_layout_row(&view, b, h, qt), s);
  }
}

}  // namespace sattn_rvv
