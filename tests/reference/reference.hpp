// sattn_ref: an independent, brute-force reference of what /work/shared/SPEC.md says each pattern computes.
//
// Written only from the SPEC (never from src/ or backends/), so that a bug in the library's layout builder or
// kernels cannot hide in a shared helper. It is meant to be obviously correct, not fast: every kept set is built
// element by element, and the attention is a float64 softmax over it.
//
// Two precisions meet here on purpose. The attention itself is exact (float64) on the inputs as given; the
// data-dependent selections (block scores, N:M, top-k, LSH buckets, k-means assignments) are computed in float32 with
// dot products accumulated in increasing d order, as the SPEC prescribes, so that the reference and the library pick
// the same keys on near-ties.
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

// Float64 softmax attention over S_i (landmark: over the m landmarks). Throws std::invalid_argument where the SPEC
// leaves the problem undefined (landmark with causal or with m > Lk, shapes that do not match the inputs, ...).
Result attention(const Problem& problem, const Inputs& inputs);

// The same, with the kept sets selected from `selection` but the scores and values computed from `values` (same
// shapes): a reduced-precision computation selects on the inputs as given (SPEC) and multiplies rounded or quantised
// copies of them, which the caller makes. Not for landmark, whose landmarks are both (throws).
Result attention(const Problem& problem, const Inputs& selection, const Inputs& values);

// landmark: the m landmark keys [B, Hk, m, D] and values [B, Hk, m, Dv] that every query attends to (exact means of
// the final clusters; an empty cluster keeps its fp32 centroid and has a zero value).
struct LandmarkTensors {
  std::vector<double> keys, values;
};
LandmarkTensors landmark_tensors(const Problem& problem, const Inputs& inputs);

// SPEC.md's accuracy bound for a precision: max abs error / max abs of the reference output.
double tolerance(int precision);

}  // namespace sattn_ref
