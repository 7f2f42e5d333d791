// Names of the public libsattn enums as docs/patterns.md and the command line spell them, shared by sattn-info and sattn-bench.
// They are the library's own (sattn_pattern_name, sattn_pattern_from_name, ...); the tools keep only the short list
// of alias spellings their help texts offer, which tools.enum_names checks against the library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sattn_tools {

// Canonical lower-case names; a value the header does not define comes back as "<kind>(<value>)".
std::string pattern_name(int32_t pattern);
std::string precision_name(int32_t precision);
std::string dtype_name(int32_t dtype);
std::string device_type_name(int32_t device_type);

// Canonical names and their aliases (sliding_global and bsr, fp32/f32, ...), in any case; nullopt when unknown.
std::optional<int32_t> pattern_from_name(std::string_view name);
std::optional<int32_t> precision_from_name(std::string_view name);
std::optional<int32_t> dtype_from_name(std::string_view name);

// The canonical names, then the aliases, comma separated, for help texts and error messages.
std::string accepted_pattern_names();
std::string accepted_precision_names();
std::string accepted_dtype_names();

// Names of the set bits of a backend's pattern_mask or precision_mask, lowest bit first.
std::vector<std::string> pattern_mask_names(uint32_t mask);
std::vector<std::string> precision_mask_names(uint32_t mask);

}  // namespace sattn_tools
