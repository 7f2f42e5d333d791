// The cpu backend's link to the core: the host API it was given at registration, and the C++ conveniences it
// builds on it (failures as exceptions inside, statuses at its C boundary; parallel_for over lambdas). The backend
// sees only the public headers, like any plugin.
#pragma once

#include <sattn_backend.h>

#include <exception>
#include <new>
#include <string>
#include <utility>

namespace sattn_cpu {

extern const sattn_host_api* host;

// A failure inside the backend. An empty message means the host has already recorded it (a failed host call).
struct Failure {
  sattn_status status;
  std::string message;
};

inline void check(sattn_status status) {
  if (status != SATTN_OK) throw Failure{status, {}};
}

// Runs body and turns what it throws into a status, recording the message for sattn_last_error().
template <typename Body>
sattn_status boundary(Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
    return SATTN_OK;
  } catch (const Failure& failure) {
    if (!failure.message.empty()) host->set_error(failure.message.c_str());
    return failure.status;
  } catch (const std::bad_alloc&) {
    host->set_error("cpu backend: out of host memory");
    return SATTN_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    host->set_error((std::string("cpu backend: internal error: ") + e.what()).c_str());
    return SATTN_ERROR_INTERNAL;
  } catch (...) {
    host->set_error("cpu backend: internal error");
    return SATTN_ERROR_INTERNAL;
  }
}

// body(begin, end) over [0, n) on the core's thread pool.
template <typename Body>
void parallel_for(int64_t n, int32_t num_threads, int64_t grain, Body&& body) {
  auto trampoline = [](void* context, int64_t begin, int64_t end) -> sattn_status {
    return boundary([&] { (*static_cast<Body*>(context))(begin, end); });
  };
  check(host->parallel_for(n, num_threads, grain, trampoline, &body));
}

}  // namespace sattn_cpu
