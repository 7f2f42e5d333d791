// Names of enums as users write them (SPEC.md), shared by messages, the selector's overrides and plan info.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sattn {

const char* pattern_name(int32_t pattern);      // "block_topk"; "unknown" outside the enum
const char* precision_name(int32_t precision);  // "bf16"
const char* dtype_name(int32_t dtype);          // "f32"
// Accepts the SPEC.md names and aliases (sliding_global, bsr), case-insensitively.
std::optional<int32_t> pattern_from_name(std::string_view name);

}  // namespace sattn
