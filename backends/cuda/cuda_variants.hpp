// The instantiations of the 16-bit tensor-core kernels: head dims 64 and 128, bf16 or f16 tensors. One place picks the
// instantiation a run needs, or walks them all (raising their shared-memory limits at plan time).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

namespace sattn_cuda {

template <int D>
using HeadDim = std::integral_constant<int, D>;

// f(HeadDim<D>, std::bool_constant<Bf16>) for head_dim (64, else 128) and the tensor type.
template <class F>
int with_variant(int64_t head_dim, bool bf16, F&& f) {
  if (head_dim == 64) return bf16 ? f(HeadDim<64>{}, std::true_type{}) : f(HeadDim<64>{}, std::false_type{});
  return bf16 ? f(HeadDim<128>{}, std::true_type{}) : f(HeadDim<128>{}, std::false_type{});
}

// f for every instantiation, until one fails (its status is returned).
template <class F>
int for_each_variant(F&& f) {
  int status = f(HeadDim<64>{}, std::true_type{});
  if (status == cudaSuccess) status = f(HeadDim<64>{}, std::false_type{});
  if (status == cudaSuccess) status = f(HeadDim<128>{}, std::true_type{});
  if (status == cudaSuccess) status = f(HeadDim<128>{}, std::false_type{});
  return status;
}

}  // namespace sattn_cuda
