// Names of enums as users write them (docs/patterns.md), shared by messages, the selector's overrides, plan info and
// the exported sattn_*_name functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sattn {

const char* pattern_name(int32_t pattern);      // "block_topk"; "unknown" outside the enum
const char* precision_name(int32_t precision);  // "bf16"
const char* dtype_name(int32_t dtype);          // "f32"
// nullptr outside the enum (what the C API returns).
const char* pattern_name_or_null(int32_t pattern);
const char* precision_name_or_null(int32_t precision);
const char* dtype_name_or_null(int32_t dtype);
const char* device_type_name_or_null(int32_t device_type);
// Canonical names and aliases, case-insensitively.
std::optional<int32_t> pattern_from_name(std::string_view name);
std::optional<int32_t> precision_from_name(std::string_view name);
std::optional<int32_t> dtype_from_name(std::string_view name);

}  // namespace sattn
