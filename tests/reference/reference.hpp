// sattn_ref: an independent, brute-force reference of what docs/patterns.md says each pattern and precision computes.
//
// Written only from that contract (never from src/ or backends/), so that a bug in the library's layout builder or
// kernels cannot hide in a shared helper. It is meant to be obviously correct, not fast: every kept set is built
// element by element, and the attention is a float64 softmax over it.
//
// Two precisions meet here on purpose. The attention itself is exact (float64) on the inputs as given; the
// data-dependent selections (block scores, N:M, top-k, LSH buckets, k-means assignments) are computed in float32 with
// dot products accumulated in increasing d order, as the contract prescribes, so that the reference and the library
// pick the same keys on near-ties.
#pragma once

#include <sattn.h>

#include <cstdint>
#include <vector>

namespace sattn_ref {

// Mirrors sattn_attention_desc with the pattern already explicit (SATTN_PATTERN_AUTO is rejected).
struct Problem {
  int64_t B = 1, Hq = 1, Hk = 1, Lq = 1, Lk = 1, D = 1, Dv = 1;
  bool causal = false;
  double scale = 0;  // 0 = 1/sqrt(D)
  int pattern = SATTN_PATTERN_DENSE;
  sattn_pattern_params params = SATTN_PATTERN_PARAMS_INIT;
  int precision = SATTN_PRECISION_FP32;
};

// Contiguous [B, H, L, D] float32 copies of the inputs as the library sees them (already rounded to the storage
// dtype when the test stores f16/bf16).
struct Inputs {
  std::vector<float> q, k, v;
  std::vector<uint8_t> block_mask;  // block_mask pattern only: [B, mask_heads, ceil(Lq/b), ceil(Lk/b)]
  int64_t mask_heads = 1;           // 1 or Hq
};

// The kept set S_i of every query as a 0/1 mask [B, Hq, Lq, Lk], causal and global_tokens included.
// Throws std::invalid_argument for landmark (its queries attend to landmarks, not keys) and for malformed input.
std::vector<uint8_t> kept_mask(const Problem& problem, const Inputs& inputs);

struct Result {
  std::vector<double> o;    // [B, Hq, Lq, Dv]; rows with an empty S_i are 0
  std::vector<double> lse;  // [B, Hq, Lq]; -inf where S_i is empty
};

// Float64 softmax attention over S_i (landmark: over the m landmarks) on the inputs as given. Throws
// std::invalid_argument where the contract leaves the problem undefined (landmark with causal or with m > Lk, shapes
// that do not match the inputs, ...).
Result attention(const Problem& problem, const Inputs& inputs);

// int8/int4 (problem.precision): a float64 simulation of the quantised computation of docs/patterns.md
// ("Precisions"). The kept sets are selected from the inputs as given; K (landmark: the m landmark keys) is smoothed
// by its mean per (batch, kv head), Q and the smoothed K are quantised per row and V per channel (or with the given
// params.scale_q/k/v), scores are integer dot products times the scales, O takes V's scale after the normalisation
// and the LSE gets the smoothing shift scale * q_i . kbar back. Throws std::invalid_argument for other precisions
// and for non-finite inputs (which a quantised plan refuses).
Result quantised_attention(const Problem& problem, const Inputs& inputs);

// The accuracy bound of a precision against attention(): max abs error / max abs of the reference output.
double tolerance(int precision);

// The bound of an int8/int4 result against quantised_attention(), same measure: 2e-3, or 1e-4 for a computation
// that, like the library's exact CPU backend, accumulates P.V in fp32 (fp32_pv).
double simulation_tolerance(bool fp32_pv);

}  // namespace sattn_ref
