#include "enum_names.hpp"

#include <array>
#include <span>

#include "sattn.h"

namespace sattn_tools {
namespace {

struct NamedValue {
  int32_t value;
  std::string_view name;
};

// The first entry of a value is its canonical name; later entries of the same value are aliases.
constexpr std::array kPatterns{
    NamedValue{SATTN_PATTERN_AUTO, "auto"},
    NamedValue{SATTN_PATTERN_DENSE, "dense"},
    NamedValue{SATTN_PATTERN_SLIDING_WINDOW, "sliding_window"},
    NamedValue{SATTN_PATTERN_BLOCK_TOPK, "block_topk"},
    NamedValue{SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, "block_local_global"},
    NamedValue{SATTN_PATTERN_NM_STRUCTURED, "nm_structured"},
    NamedValue{SATTN_PATTERN_TOPK_PER_QUERY, "topk_per_query"},
    NamedValue{SATTN_PATTERN_LSH, "lsh"},
    NamedValue{SATTN_PATTERN_LANDMARK, "landmark"},
    NamedValue{SATTN_PATTERN_BLOCK_MASK, "block_mask"},
    NamedValue{SATTN_PATTERN_SLIDING_WINDOW, "sliding_global"},
    NamedValue{SATTN_PATTERN_BLOCK_TOPK, "bsr"},
};

constexpr std::array kPrecisions{
    NamedValue{SATTN_PRECISION_FP32, "fp32"}, NamedValue{SATTN_PRECISION_BF16, "bf16"},
    NamedValue{SATTN_PRECISION_FP16, "fp16"}, NamedValue{SATTN_PRECISION_INT8, "int8"},
    NamedValue{SATTN_PRECISION_INT4, "int4"}, NamedValue{SATTN_PRECISION_FP32, "f32"},
    NamedValue{SATTN_PRECISION_FP16, "f16"},
};

constexpr std::array kDtypes{
    NamedValue{SATTN_DTYPE_F32, "f32"}, NamedValue{SATTN_DTYPE_F16, "f16"},  NamedValue{SATTN_DTYPE_BF16, "bf16"},
    NamedValue{SATTN_DTYPE_U8, "u8"},   NamedValue{SATTN_DTYPE_F32, "fp32"}, NamedValue{SATTN_DTYPE_F16, "fp16"},
};

constexpr std::array kDeviceTypes{
    NamedValue{SATTN_DEVICE_CPU, "cpu"},
    NamedValue{SATTN_DEVICE_CUDA, "cuda"},
    NamedValue{SATTN_DEVICE_CUDA_HOST, "cuda_host"},
    NamedValue{SATTN_DEVICE_CUDA_MANAGED, "cuda_managed"},
};

std::string name_of(std::span<const NamedValue> table, int32_t value, std::string_view kind) {
  for (const NamedValue& entry : table) {
    if (entry.value == value) return std::string(entry.name);
  }
  return std::string(kind) + "(" + std::to_string(value) + ")";
}

std::optional<int32_t> value_of(std::span<const NamedValue> table, std::string_view name) {
  for (const NamedValue& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

std::string all_names(std::span<const NamedValue> table) {
  std::string text;
  for (const NamedValue& entry : table) {
    if (!text.empty()) text += ", ";
    text += entry.name;
  }
  return text;
}

std::vector<std::string> mask_names(uint32_t mask, std::span<const NamedValue> table, std::string_view kind) {
  std::vector<std::string> names;
  for (int32_t bit = 0; bit < 32; ++bit) {
    if ((mask >> bit) & 1u) names.push_back(name_of(table, bit, kind));
  }
  return names;
}

}  // namespace

std::string pattern_name(int32_t pattern) { return name_of(kPatterns, pattern, "pattern"); }
std::string precision_name(int32_t precision) { return name_of(kPrecisions, precision, "precision"); }
std::string dtype_name(int32_t dtype) { return name_of(kDtypes, dtype, "dtype"); }
std::string device_type_name(int32_t device_type) { return name_of(kDeviceTypes, device_type, "device"); }

std::optional<int32_t> pattern_from_name(std::string_view name) { return value_of(kPatterns, name); }
std::optional<int32_t> precision_from_name(std::string_view name) { return value_of(kPrecisions, name); }
std::optional<int32_t> dtype_from_name(std::string_view name) { return value_of(kDtypes, name); }

std::string accepted_pattern_names() { return all_names(kPatterns); }
std::string accepted_precision_names() { return all_names(kPrecisions); }
std::string accepted_dtype_names() { return all_names(kDtypes); }

std::vector<std::string> pattern_mask_names(uint32_t mask) { return mask_names(mask, kPatterns, "pattern"); }
std::vector<std::string> precision_mask_names(uint32_t mask) { return mask_names(mask, kPrecisions, "precision"); }

}  // namespace sattn_tools
