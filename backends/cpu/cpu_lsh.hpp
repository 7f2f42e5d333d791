// lsh selected by the cpu backend itself (ops.selects_itself), Reformer-style: every query and key hashes to its
// bucket (docs/patterns.md), the keys of each (batch, kv head) pair and the rows of its G query heads are sorted by
// (bucket, position), and the kernel attends each block of sorted rows to the sorted keys of its buckets only, with
// K/V tiles packed in sorted order (cpu_lsh.inc). The work is then in proportion to the kept pairs, where a layout in
// index order would visit nearly every key tile (with few buckets every tile holds every bucket).
//
// Compiled for baseline x86-64 (C++ library algorithms stay out of the ISA translation units, see cpu_kernel.hpp).
#pragma once

#include <sattn_backend.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu_kernel.hpp"

namespace sattn_cpu {

// The largest projection the backend keeps per plan (D * nb / 2 floats); larger ones are left to the core.
constexpr int64_t kMaxLshProjectionFloats = int64_t{1} << 22;

// The projection R[D][nb/2] of docs/patterns.md (SplitMix64 from lsh_seed), made once per plan, transposed: R^T
// [nb/2][D], each column contiguous for the hash.
std::vector<float> lsh_projection_t(const sattn_attention_desc& d);

// Bytes of workspace the tables of one run take (LshTables), 64-byte multiples.
size_t lsh_workspace(const sattn_attention_desc& d);

// Where prepare_lsh may work: `slots` pieces of `slot_floats` floats (the workers' scratch, each at least
// lsh_hash_scratch_floats), one per worker at a time.
struct LshScratch {
  float* base;
  int64_t slot_floats, slots;
};

// Hashes Q and K of the run (hash: the ISA path's) and sorts every pair's keys and query rows into `tables`
// (lsh_workspace bytes); the returned tables point into it.
LshTables prepare_lsh(const sattn_problem& problem, const sattn_run_args& args, const std::vector<float>& projection_t,
                      LshHashFn hash, const LshScratch& scratch, void* tables);

}  // namespace sattn_cpu
