// SplitMix64, the generator docs/patterns.md fixes for the LSH projection so every implementation draws the same
// matrix. Header-only so tools (sattn-bench's inputs) share it without linking the core's internals.
#pragma once

#include <sattn_kernels.h>

#include <cstdint>

namespace sattn {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {  // the mixing is sattn_kernels.h's, which backends use for the lsh projection
    state_ += SATTN_SPLITMIX64_GAMMA;
    return sattn_splitmix64_mix(state_);
  }
  // (z >> 40) * 2^-23 - 1: uniform on [-1, 1) with 24 bits.
  float next_symmetric() { return sattn_splitmix64_symmetric(next()); }
  // Uniform on [0, 1) with 24 bits, exact in float.
  float next_unit() { return static_cast<float>(next() >> 40) * 0x1p-24f; }

 private:
  uint64_t state_;
};

}  // namespace sattn
