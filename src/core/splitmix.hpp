// SplitMix64, the generator docs/patterns.md fixes for the LSH projection so every implementation draws the same matrix.
// Header-only so tools (sattn-bench's inputs) share it without linking the core's internals.
#pragma once

#include <cstdint>

namespace sattn {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // (z >> 40) * 2^-23 - 1: uniform on [-1, 1) with 24 bits.
  float next_symmetric() { return static_cast<float>(next() >> 40) * 0x1p-23f - 1.0f; }
  // Uniform on [0, 1) with 24 bits, exact in float.
  float next_unit() { return static_cast<float>(next() >> 40) * 0x1p-24f; }

 private:
  uint64_t state_;
};

}  // namespace sattn
