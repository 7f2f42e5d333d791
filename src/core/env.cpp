#include "core/env.hpp"

#include <cstdlib>
#include <strings.h>

#include "core/error.hpp"

namespace sattn::env {

std::optional<std::string> text(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool flag(const char* name) {
  const auto value = text(name);
  if (!value || value->empty()) return false;
  for (const char* off : {"0", "false", "off", "no"})
    if (strcasecmp(value->c_str(), off) == 0) return false;
  return true;
}

int64_t positive_integer(const char* name, int64_t fallback) {
  const auto value = text(name);
  if (!value || value->empty()) return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(value->c_str(), &end, 10);
  if (end == value->c_str() || *end != '\0' || parsed <= 0)
    fail(SATTN_ERROR_INVALID_ARGUMENT, "environment variable ", name, "='", *value, "' is not a positive integer");
  return parsed;
}

}  // namespace sattn::env
