#include "core/error.hpp"

namespace sattn {
namespace {
thread_local std::string thread_last_error;
}

void set_last_error(const std::string& message) {
  try {
    thread_last_error = message;
  } catch (...) {
    thread_last_error.clear();  // out of memory while reporting: an empty message beats a crash
  }
}

void clear_last_error() { thread_last_error.clear(); }

const char* last_error() { return thread_last_error.c_str(); }

}  // namespace sattn
