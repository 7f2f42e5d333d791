// What every built-in C++ backend builds on the host API it is handed at registration: failures as exceptions
// inside the backend, statuses and messages at its C boundary, parallel_for over lambdas. Like the backends, it sees
// only the public headers, so an out-of-tree plugin may use it as it is.
#pragma once

#include <sattn_backend.h>

#include <exception>
#include <new>
#include <string>
#include <utility>

namespace sattn_backend_util {

// A failure inside a backend. An empty message means the host has already recorded it (a failed host call).
struct Failure {
  sattn_status status;
  std::string message;
};

inline void check(sattn_status status) {
  if (status != SATTN_OK) throw Failure{status, {}};
}

// Runs body and turns what it throws into a status, recording the message (prefixed by the backend's name where it
// is the backend's own) for sattn_last_error().
template <typename Body>
sattn_status boundary(const sattn_host_api* host, const char* backend, Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
    return SATTN_OK;
  } catch (const Failure& failure) {
    if (!failure.message.empty()) host->set_error(failure.message.c_str());
    return failure.status;
  } catch (const std::bad_alloc&) {
    host->set_error((std::string(backend) + " backend: out of host memory").c_str());
    return SATTN_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    host->set_error((std::string(backend) + " backend: internal error: " + e.what()).c_str());
    return SATTN_ERROR_INTERNAL;
  } catch (...) {
    host->set_error((std::string(backend) + " backend: internal error").c_str());
    return SATTN_ERROR_INTERNAL;
  }
}

// body(begin, end) over [0, n) on the core's thread pool.
template <typename Body>
void parallel_for(const sattn_host_api* host, const char* backend, int64_t n, int32_t num_threads, int64_t grain,
                  Body&& body) {
  struct Context {
    const sattn_host_api* host;
    const char* backend;
    Body* body;
  } context{host, backend, &body};
  auto trampoline = [](void* raw, int64_t begin, int64_t end) -> sattn_status {
    const Context& c = *static_cast<const Context*>(raw);
    return boundary(c.host, c.backend, [&] { (*c.body)(begin, end); });
  };
  check(host->parallel_for(n, num_threads, grain, trampoline, &context));
}

}  // namespace sattn_backend_util
