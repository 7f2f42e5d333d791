// Errors inside libsattn: a thrown sattn::Error carries a status and a message; the C entry points catch every
// exception at the ABI boundary (see guarded()) and turn it into a status plus the thread's last-error text.
#pragma once

#include <sattn.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace sattn {

class Error : public std::runtime_error {
 public:
  Error(sattn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  sattn_status status() const noexcept { return status_; }

 private:
  sattn_status status_;
};

// Builds a message from streamable parts: fail(SATTN_ERROR_INVALID_ARGUMENT, "q_len must be > 0, got ", n).
template <typename... Parts>
[[noreturn]] void fail(sattn_status status, const Parts&... parts) {
  std::ostringstream text;
  (text << ... << parts);
  throw Error(status, text.str());
}

template <typename... Parts>
void require(bool condition, const Parts&... parts) {
  if (!condition) fail(SATTN_ERROR_INVALID_ARGUMENT, parts...);
}

void set_last_error(const std::string& message);
void clear_last_error();
const char* last_error();

// Runs body and maps whatever it throws to a status; nothing escapes into C callers.
template <typename Body>
sattn_status guarded(Body&& body) noexcept {
  try {
    clear_last_error();
    std::forward<Body>(body)();
    return SATTN_OK;
  } catch (const Error& e) {
    set_last_error(e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_last_error("out of host memory");
    return SATTN_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_last_error(std::string("internal error: ") + e.what());
    return SATTN_ERROR_INTERNAL;
  } catch (...) {
    set_last_error("internal error: unknown exception");
    return SATTN_ERROR_INTERNAL;
  }
}

}  // namespace sattn
