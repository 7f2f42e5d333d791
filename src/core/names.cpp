// The one table of enum names: the library exports it (sattn_pattern_name, sattn_pattern_from_name, ...) so that
// messages, the selector's overrides, the tools and the Python package all spell values the same way.
#include "core/names.hpp"

#include <sattn.h>

#include <array>
#include <cctype>
#include <span>
#include <string>

namespace sattn {
namespace {

struct NamedValue {
  int32_t value;
  const char* name;
};

// The first entry of a value is its canonical name; later entries of the same value are aliases.
constexpr std::array kPatternNames{
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

constexpr std::array kPrecisionNames{
    NamedValue{SATTN_PRECISION_FP32, "fp32"},     NamedValue{SATTN_PRECISION_BF16, "bf16"},
    NamedValue{SATTN_PRECISION_FP16, "fp16"},     NamedValue{SATTN_PRECISION_INT8, "int8"},
    NamedValue{SATTN_PRECISION_INT4, "int4"},     NamedValue{SATTN_PRECISION_FP32, "f32"},
    NamedValue{SATTN_PRECISION_FP16, "f16"},      NamedValue{SATTN_PRECISION_FP32, "float32"},
    NamedValue{SATTN_PRECISION_BF16, "bfloat16"}, NamedValue{SATTN_PRECISION_FP16, "float16"},
    NamedValue{SATTN_PRECISION_FP16, "half"},
};

constexpr std::array kDtypeNames{
    NamedValue{SATTN_DTYPE_F32, "f32"},     NamedValue{SATTN_DTYPE_F16, "f16"},
    NamedValue{SATTN_DTYPE_BF16, "bf16"},   NamedValue{SATTN_DTYPE_U8, "u8"},
    NamedValue{SATTN_DTYPE_F32, "fp32"},    NamedValue{SATTN_DTYPE_F16, "fp16"},
    NamedValue{SATTN_DTYPE_F32, "float32"}, NamedValue{SATTN_DTYPE_BF16, "bfloat16"},
    NamedValue{SATTN_DTYPE_F16, "float16"}, NamedValue{SATTN_DTYPE_F16, "half"},
    NamedValue{SATTN_DTYPE_U8, "uint8"},
};

constexpr std::array kDeviceNames{
    NamedValue{SATTN_DEVICE_CPU, "cpu"},
    NamedValue{SATTN_DEVICE_CUDA, "cuda"},
    NamedValue{SATTN_DEVICE_CUDA_HOST, "cuda_host"},
    NamedValue{SATTN_DEVICE_CUDA_MANAGED, "cuda_managed"},
};

const char* name_of(std::span<const NamedValue> table, int32_t value) {
  for (const NamedValue& entry : table)
    if (entry.value == value) return entry.name;
  return nullptr;
}

std::optional<int32_t> value_of(std::span<const NamedValue> table, std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const NamedValue& entry : table)
    if (lower == entry.name) return entry.value;
  return std::nullopt;
}

const char* or_unknown(const char* name) { return name != nullptr ? name : "unknown"; }

}  // namespace

const char* pattern_name_or_null(int32_t pattern) { return name_of(kPatternNames, pattern); }
const char* precision_name_or_null(int32_t precision) { return name_of(kPrecisionNames, precision); }
const char* dtype_name_or_null(int32_t dtype) { return name_of(kDtypeNames, dtype); }
const char* device_type_name_or_null(int32_t device_type) { return name_of(kDeviceNames, device_type); }

const char* pattern_name(int32_t pattern) { return or_unknown(pattern_name_or_null(pattern)); }
const char* precision_name(int32_t precision) { return or_unknown(precision_name_or_null(precision)); }
const char* dtype_name(int32_t dtype) { return or_unknown(dtype_name_or_null(dtype)); }

std::optional<int32_t> pattern_from_name(std::string_view name) { return value_of(kPatternNames, name); }
std::optional<int32_t> precision_from_name(std::string_view name) { return value_of(kPrecisionNames, name); }
std::optional<int32_t> dtype_from_name(std::string_view name) { return value_of(kDtypeNames, name); }

}  // namespace sattn
