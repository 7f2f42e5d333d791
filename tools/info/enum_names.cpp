// The tools' enum names are the library's: sattn_pattern_name, sattn_pattern_from_name, ... (include/sattn.h) hold
// the one table, so sattn-info, sattn-bench, the library's messages and the Python package spell values alike.
#include "enum_names.hpp"

#include <array>
#include <span>

#include "sattn.h"

namespace sattn_tools {
namespace {

// Every enum's values lie in [0, kValueLimit): patterns 0-9, precisions 0-4, dtypes 1-4, device types 1-13 (DLPack
// codes). Canonical names are listed by asking the library for each value in that range.
constexpr int32_t kValueLimit = 64;

// The other spellings that help texts and error messages offer. The library reads them (and is the judge of any
// string: it ignores case); the test tools.enum_names fails when it stops accepting one of these.
constexpr std::array<std::string_view, 2> kPatternAliases{"sliding_global", "bsr"};
constexpr std::array<std::string_view, 6> kPrecisionAliases{"f32", "f16", "float32", "bfloat16", "float16", "half"};
constexpr std::array<std::string_view, 7> kDtypeAliases{"fp32",    "fp16", "float32", "bfloat16",
                                                        "float16", "half", "uint8"};

using NameOf = const char* (*)(int32_t);
using ValueOf = int32_t (*)(const char*);

std::string name_of(NameOf name_of_value, int32_t value, std::string_view kind) {
  if (const char* name = name_of_value(value)) return name;
  return std::string(kind) + "(" + std::to_string(value) + ")";
}

std::optional<int32_t> value_of(ValueOf value_of_name, std::string_view name) {
  const std::string text(name);  // NUL-terminated; a name with a NUL inside is no name
  if (text.find('\0') != std::string::npos) return std::nullopt;
  const int32_t value = value_of_name(text.c_str());
  if (value < 0) return std::nullopt;
  return value;
}

std::string all_names(NameOf name_of_value, std::span<const std::string_view> aliases) {
  std::string text;
  auto append = [&](std::string_view name) {
    if (!text.empty()) text += ", ";
    text += name;
  };
  for (int32_t value = 0; value < kValueLimit; ++value) {
    if (const char* name = name_of_value(value)) append(name);
  }
  for (std::string_view alias : aliases) append(alias);
  return text;
}

std::vector<std::string> mask_names(uint32_t mask, NameOf name_of_value, std::string_view kind) {
  std::vector<std::string> names;
  for (int32_t bit = 0; bit < 32; ++bit) {
    if ((mask >> bit) & 1u) names.push_back(name_of(name_of_value, bit, kind));
  }
  return names;
}

}  // namespace

std::string pattern_name(int32_t pattern) { return name_of(sattn_pattern_name, pattern, "pattern"); }
std::string precision_name(int32_t precision) { return name_of(sattn_precision_name, precision, "precision"); }
std::string dtype_name(int32_t dtype) { return name_of(sattn_dtype_name, dtype, "dtype"); }
std::string device_type_name(int32_t device_type) { return name_of(sattn_device_type_name, device_type, "device"); }

std::optional<int32_t> pattern_from_name(std::string_view name) { return value_of(sattn_pattern_from_name, name); }
std::optional<int32_t> precision_from_name(std::string_view name) { return value_of(sattn_precision_from_name, name); }
std::optional<int32_t> dtype_from_name(std::string_view name) { return value_of(sattn_dtype_from_name, name); }

std::string accepted_pattern_names() { return all_names(sattn_pattern_name, kPatternAliases); }
std::string accepted_precision_names() { return all_names(sattn_precision_name, kPrecisionAliases); }
std::string accepted_dtype_names() { return all_names(sattn_dtype_name, kDtypeAliases); }

std::vector<std::string> pattern_mask_names(uint32_t mask) { return mask_names(mask, sattn_pattern_name, "pattern"); }
std::vector<std::string> precision_mask_names(uint32_t mask) {
  return mask_names(mask, sattn_precision_name, "precision");
}

}  // namespace sattn_tools
