// The Hopper (sm_90a) warpgroup MMA instructions the wgmma flash kernel is built from, as inline PTX: wgmma.mma_async
// with operands in shared memory described by 64-bit matrix descriptors (128-byte swizzle) or A in registers, and the
// fence / commit / wait that order them. Only compiled into sm_90a code (callers guard with SATTN_CUDA_WGMMA).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SATTN_CUDA_WGMMA 1
#else
#define SATTN_CUDA_WGMMA 0
#endif

namespace sattn_cuda {

#if SATTN_CUDA_WGMMA

// A shared-memory matrix descriptor for a 128-byte-swizzled operand: start address, leading and stride byte offsets
// (in 16-byte units, 14 bits each), swizzle mode 1 (128 B) in bits 62-63. The swizzle pattern is taken from the
// address bits, so every swizzle atom (8 rows of 128 bytes) must start 1024-byte aligned.
__device__ inline uint64_t smem_descriptor(uint32_t address, uint32_t leading_bytes, uint32_t stride_bytes) {
  return static_cast<uint64_t>((address & 0x3FFFFu) >> 4) | (static_cast<uint64_t>(leading_bytes >> 4) << 16) |
         (static_cast<uint64_t>(stride_bytes >> 4) << 32) | (uint64_t{1} << 62);
}

__device__ inline void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ inline void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int Pending>
__device__ inline void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(Pending) : "memory");
}
// Keeps the compiler from moving reads of accumulator registers across the asynchronous MMA that writes them.
template <int N>
__device__ inline void wgmma_fence_operands(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// The three MMA shapes the kernel issues, each one asm statement for bf16 and f16 alike: the element type is a word
// of the PTX string, spliced in by the preprocessor. The accumulators are the first 32 or 64 operands.
#define SATTN_WGMMA_F4(d, i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])
#define SATTN_WGMMA_F16(d, i) \
  SATTN_WGMMA_F4(d, i), SATTN_WGMMA_F4(d, i + 4), SATTN_WGMMA_F4(d, i + 8), SATTN_WGMMA_F4(d, i + 12)
#define SATTN_WGMMA_F32(d) SATTN_WGMMA_F16(d, 0), SATTN_WGMMA_F16(d, 16)
#define SATTN_WGMMA_F64(d) SATTN_WGMMA_F32(d), SATTN_WGMMA_F16(d, 32), SATTN_WGMMA_F16(d, 48)
#define SATTN_WGMMA_D32                                                                                             \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31}"
#define SATTN_WGMMA_D64                                                                                             \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, "  \
  "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

// D (64 x 128, fp32) {=, +=} A (64 x 16, shared memory) * B (16 x 128, shared memory, K-major).
#define SATTN_WGMMA_SS_N128(TYPE)                                                                                     \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\nwgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE \
               " " SATTN_WGMMA_D64 ", %64, %65, p, 1, 1, 0, 0;\n}\n"                                                  \
               : SATTN_WGMMA_F64(d)                                                                                   \
               : "l"(a), "l"(b), "r"(accumulate))
template <bool Bf16>
__device__ inline void wgmma_ss_n128(float (&d)[64], uint64_t a, uint64_t b, int accumulate) {
  if constexpr (Bf16) {
    SATTN_WGMMA_SS_N128("bf16");
  } else {
    SATTN_WGMMA_SS_N128("f16");
  }
}
#undef SATTN_WGMMA_SS_N128

// D (64 x N, fp32) {=, +=} A (64 x 16, registers: the mma.sync A fragment of each warp's 16 rows) *
// B (16 x N, shared memory, MN-major: transposed), N = 64 or 128.
#define SATTN_WGMMA_RS(N, TYPE, D_REGS, D_OPERANDS, A_B_REGS, P)                                                  \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" P ", 0;\nwgmma.mma_async.sync.aligned.m64n" N "k16.f32." TYPE \
               "." TYPE " " D_REGS ", " A_B_REGS ", p, 1, 1, 1;\n}\n"                                             \
               : D_OPERANDS                                                                                       \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate))
template <bool Bf16>
__device__ inline void wgmma_rs_n64(float (&d)[32], const uint32_t (&a)[4], uint64_t b, int accumulate) {
  if constexpr (Bf16) {
    SATTN_WGMMA_RS("64", "bf16", SATTN_WGMMA_D32, SATTN_WGMMA_F32(d), "{%32, %33, %34, %35}, %36", "37");
  } else {
    SATTN_WGMMA_RS("64", "f16", SATTN_WGMMA_D32, SATTN_WGMMA_F32(d), "{%32, %33, %34, %35}, %36", "37");
  }
}
template <bool Bf16>
__device__ inline void wgmma_rs_n128(float (&d)[64], const uint32_t (&a)[4], uint64_t b, int accumulate) {
  if constexpr (Bf16) {
    SATTN_WGMMA_RS("128", "bf16", SATTN_WGMMA_D64, SATTN_WGMMA_F64(d), "{%64, %65, %66, %67}, %68", "69");
  } else {
    SATTN_WGMMA_RS("128", "f16", SATTN_WGMMA_D64, SATTN_WGMMA_F64(d), "{%64, %65, %66, %67}, %68", "69");
  }
}
#undef SATTN_WGMMA_RS
#undef SATTN_WGMMA_D64
#undef SATTN_WGMMA_D32
#undef SATTN_WGMMA_F64
#undef SATTN_WGMMA_F32
#undef SATTN_WGMMA_F16
#undef SATTN_WGMMA_F4

#endif  // SATTN_CUDA_WGMMA

}  // namespace sattn_cuda
