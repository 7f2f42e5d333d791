// Environment switches (SATTN_BACKEND, SATTN_FORCE_SPEC, SATTN_DISABLE_*, ...), read at the moment they matter so
// tests can set them per plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sattn::env {

std::optional<std::string> text(const char* name);
// True when set to anything but "", "0", "false", "off", "no".
bool flag(const char* name);
// A positive integer, or fallback when unset; a malformed value is an error naming the variable.
int64_t positive_integer(const char* name, int64_t fallback);

}  // namespace sattn::env
