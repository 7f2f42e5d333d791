// The rvv backend's link to the core: the host API it was given at registration, with the shared C++ conveniences
// of backends/common/backend_host.hpp bound to it.
#pragma once

#include <sattn_backend.h>

#include <utility>

#include "backend_host.hpp"

namespace sattn_rvv {

extern const sattn_host_api* host;

using sattn_backend_util::check;
using sattn_backend_util::Failure;

template <typename Body>
sattn_status boundary(Body&& body) noexcept {
  return sattn_backend_util::boundary(host, "rvv", std::forward<Body>(body));
}

template <typename Body>
void parallel_for(int64_t n, int32_t num_threads, int64_t grain, Body&& body) {
  sattn_backend_util::parallel_for(host, "rvv", n, num_threads, grain, std::forward<Body>(body));
}

}  // namespace sattn_rvv
