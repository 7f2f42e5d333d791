// The Hopper (sm_90a) data-movement instructions of the warp-specialised flash kernel, as inline PTX: the tensor
// memory accelerator's tiled copy (cp.async.bulk.tensor) from a tensor map into shared memory, and the shared-memory
// transaction barriers (mbarrier) that tell the consumers a copy landed and the producer a buffer is free. Only
// compiled into sm_90a code (callers guard with SATTN_CUDA_WGMMA).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_wgmma.cuh"

namespace sattn_cuda {

#if SATTN_CUDA_WGMMA

__device__ inline void barrier_init(uint32_t barrier, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(barrier), "r"(arrivals) : "memory");
}

// Makes initialised barriers visible to the other threads and to the async proxy (the TMA unit) before first use.
__device__ inline void barrier_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }

// The producer's arrival that also announces how many bytes the copies completing on this barrier will bring.
__device__ inline void barrier_expect_bytes(uint32_t barrier, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(barrier), "r"(bytes) : "memory");
}

// Announces bytes without arriving: the producer starts a copy, then arrives (barrier_arrive, a release) once it has
// written what the consumers read with the copied data, so that the copy's latency hides that work.
__device__ inline void barrier_expect_bytes_only(uint32_t barrier, uint32_t bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(barrier), "r"(bytes) : "memory");
}

__device__ inline void barrier_arrive(uint32_t barrier) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(barrier) : "memory");
}

// Waits until the barrier's phase with the given parity has completed. A fresh barrier counts its (never run)
// phase of parity 1 as complete, which lets a producer's first wait on an empty buffer pass at once.
__device__ inline void barrier_wait(uint32_t barrier, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(barrier), "r"(parity)
                 : "memory");
  } while (done == 0);
}

// Copies the box at coordinates (c0 innermost .. c3) of a 4-D tensor map into shared memory; the barrier's
// transaction count drops by the box's bytes when it lands. Elements outside the tensor arrive as zeros.
__device__ inline void tma_load_4d(uint32_t destination, const void* tensor_map, uint32_t barrier, int32_t c0,
                                   int32_t c1, int32_t c2, int32_t c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], "
      "[%2];\n" ::"r"(destination),
      "l"(reinterpret_cast<uint64_t>(tensor_map)), "r"(barrier), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}

__device__ inline void tma_prefetch_map(const void* tensor_map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tensor_map)) : "memory");
}

#endif  // SATTN_CUDA_WGMMA

}  // namespace sattn_cuda
