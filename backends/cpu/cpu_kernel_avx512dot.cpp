// The avx512dot path: the flash kernel built with AVX-512 (cpu_kernel.inc) plus VDPBF16PS GEMMs for bf16 and
// VPDPBUSD integer scores for int8/int4 (cpu_dot.inc), and decode blocks reading K and V in place (cpu_decode.inc).
// Flags in CMakeLists.txt.
#define SATTN_CPU_ISA_NS avx512dot
#define SATTN_CPU_OWN_ENTRIES
#include "cpu_kernel.inc"
// These follow cpu_kernel.inc: they reuse its flash loop, loaders, softmax and outputs.
#include "cpu_vnni.inc"
#include "cpu_dot.inc"
#include "cpu_decode.inc"

namespace sattn_cpu {
namespace SATTN_CPU_ISA_NS {

void pack_kv_tile(const KernelParams& p, int64_t pair, int64_t kt, float* dst) {
  const DotKind kind = dot_kind(p);
  pack_tile_with(p, pair, kt, dst,
                 kind == DotKind::kBf16      ? DotBf16Ops::pack
                 : kind == DotKind::kInteger ? DotIntegerOps::pack
                                             : FloatOps::pack);
}

void run_task(const KernelParams& p, float* scratch, int64_t task) {
  const DotKind kind = dot_kind(p);
  if (p.selecting == SATTN_PATTERN_LSH) {  // float precisions only (the integers leave the selection to the core)
    if (kind == DotKind::kBf16)
      attend_lsh<DotBf16Ops>(p, scratch, task);
    else
      attend_lsh<FloatOps>(p, scratch, task);
    return;
  }
  switch (kind) {
    case DotKind::kBf16:
      if (decode_applies(p)) {
        run_rows(p, scratch, task, DecodeOps::kRows, attend_tiles<DecodeOps>);
        return;
      }
      run_rows(p, scratch, task, DotBf16Ops::kRows,
               p.selecting == SATTN_PATTERN_NM_STRUCTURED    ? attend_nm<DotBf16Ops>
               : p.selecting == SATTN_PATTERN_TOPK_PER_QUERY ? attend_topk<DotBf16Ops>
                                                             : attend_tiles<DotBf16Ops>);
      return;
    case DotKind::kInteger:
      run_rows(p, scratch, task, DotIntegerOps::kRows, attend_tiles<DotIntegerOps>);
      return;
    case DotKind::kNone:
      run_rows(p, scratch, task, kMR, float_attend(p));
      return;
  }
}

}  // namespace SATTN_CPU_ISA_NS
}  // namespace sattn_cpu
