#include "core/names.hpp"

#include <sattn.h>

#include <array>
#include <cctype>
#include <string>

namespace sattn {
namespace {

struct PatternName {
  int32_t pattern;
  const char* name;
};

constexpr std::array<PatternName, SATTN_PATTERN_COUNT + 2> kPatternNames{{
    {SATTN_PATTERN_AUTO, "auto"},
    {SATTN_PATTERN_DENSE, "dense"},
    {SATTN_PATTERN_SLIDING_WINDOW, "sliding_window"},
    {SATTN_PATTERN_BLOCK_TOPK, "block_topk"},
    {SATTN_PATTERN_BLOCK_LOCAL_GLOBAL, "block_local_global"},
    {SATTN_PATTERN_NM_STRUCTURED, "nm_structured"},
    {SATTN_PATTERN_TOPK_PER_QUERY, "topk_per_query"},
    {SATTN_PATTERN_LSH, "lsh"},
    {SATTN_PATTERN_LANDMARK, "landmark"},
    {SATTN_PATTERN_BLOCK_MASK, "block_mask"},
    // Aliases come after the canonical names so pattern_name() never returns one.
    {SATTN_PATTERN_SLIDING_WINDOW, "sliding_global"},
    {SATTN_PATTERN_BLOCK_TOPK, "bsr"},
}};

}  // namespace

const char* pattern_name(int32_t pattern) {
  for (const auto& entry : kPatternNames)
    if (entry.pattern == pattern) return entry.name;
  return "unknown";
}

const char* precision_name(int32_t precision) {
  switch (precision) {
    case SATTN_PRECISION_FP32:
      return "fp32";
    case SATTN_PRECISION_BF16:
      return "bf16";
    case SATTN_PRECISION_FP16:
      return "fp16";
    case SATTN_PRECISION_INT8:
      return "int8";
    case SATTN_PRECISION_INT4:
      return "int4";
    default:
      return "unknown";
  }
}

const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case SATTN_DTYPE_F32:
      return "f32";
    case SATTN_DTYPE_F16:
      return "f16";
    case SATTN_DTYPE_BF16:
      return "bf16";
    case SATTN_DTYPE_U8:
      return "u8";
    default:
      return "unknown";
  }
}

std::optional<int32_t> pattern_from_name(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& entry : kPatternNames)
    if (lower == entry.name) return entry.pattern;
  return std::nullopt;
}

}  // namespace sattn
