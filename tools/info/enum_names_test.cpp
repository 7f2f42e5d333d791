// tools.enum_names: the tools' names are the library's. Every spelling the help texts list (canonical names and the
// aliases kept in enum_names.cpp) is one the library reads, canonical names round-trip, and unknown values and
// strings are reported as such. Exit status 0 when all hold; each failure is printed.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "enum_names.hpp"
#include "sattn.h"

namespace {

int failures = 0;

void expect(bool condition, const std::string& what) {
  if (condition) return;
  ++failures;
  std::fprintf(stderr, "FAILED: %s\n", what.c_str());
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = list.find(", ", start);
    items.push_back(list.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 2;
  }
  return items;
}

using NameOf = const char* (*)(int32_t);
using ValueOf = int32_t (*)(const char*);
using ToolName = std::string (*)(int32_t);
using ToolValue = std::optional<int32_t> (*)(std::string_view);

void check_kind(const char* kind, const std::string& accepted, NameOf library_name, ValueOf library_value,
                ToolName tool_name, ToolValue tool_value, size_t expected_canonical) {
  const std::vector<std::string> names = split(accepted);
  size_t canonical = 0;
  for (const std::string& name : names) {
    const std::string where = std::string(kind) + " '" + name + "'";
    const int32_t value = library_value(name.c_str());
    expect(value >= 0, where + " is listed but the library does not accept it");
    if (value < 0) continue;
    expect(tool_value(name) == value, where + ": the tool reads another value than the library");
    const char* canonical_name = library_name(value);
    expect(canonical_name != nullptr, where + ": the library has no name for its value");
    if (canonical_name != nullptr && name == canonical_name) {
      ++canonical;
      expect(tool_name(value) == name, where + ": the tool names its value differently");
    }
  }
  expect(canonical == expected_canonical, std::string(kind) + ": " + std::to_string(canonical) +
                                              " canonical names listed, expected " +
                                              std::to_string(expected_canonical) + " (" + accepted + ")");
  expect(names.size() > canonical, std::string(kind) + ": no alias listed (" + accepted + ")");
  expect(!tool_value("no_such_name").has_value(), std::string(kind) + ": an unknown name was accepted");
  expect(!tool_value(std::string_view("dense\0x", 7)).has_value(),
         std::string(kind) + ": a name with a NUL inside was accepted");
  expect(tool_name(63) == std::string(kind) + "(63)", std::string(kind) + ": value 63 is named " + tool_name(63));
}

}  // namespace

int main() {
  check_kind("pattern", sattn_tools::accepted_pattern_names(), sattn_pattern_name, sattn_pattern_from_name,
             sattn_tools::pattern_name, sattn_tools::pattern_from_name, SATTN_PATTERN_COUNT);
  check_kind("precision", sattn_tools::accepted_precision_names(), sattn_precision_name, sattn_precision_from_name,
             sattn_tools::precision_name, sattn_tools::precision_from_name, 5);
  check_kind("dtype", sattn_tools::accepted_dtype_names(), sattn_dtype_name, sattn_dtype_from_name,
             sattn_tools::dtype_name, sattn_tools::dtype_from_name, 4);

  expect(sattn_tools::pattern_from_name("BSR") == SATTN_PATTERN_BLOCK_TOPK, "BSR (any case) is block_topk");
  expect(sattn_tools::precision_from_name("Half") == SATTN_PRECISION_FP16, "Half (any case) is fp16");
  expect(sattn_tools::device_type_name(SATTN_DEVICE_CUDA_MANAGED) == "cuda_managed", "device 13 is cuda_managed");
  expect(sattn_tools::device_type_name(7) == "device(7)", "device 7 is unnamed");
  const std::vector<std::string> expected_mask{"auto", "sliding_window", "pattern(31)"};
  expect(sattn_tools::pattern_mask_names((1u << SATTN_PATTERN_AUTO) | (1u << SATTN_PATTERN_SLIDING_WINDOW) |
                                         (1u << 31)) == expected_mask,
         "pattern mask names, lowest bit first");
  const std::vector<std::string> precisions{"bf16", "int4"};
  expect(sattn_tools::precision_mask_names((1u << SATTN_PRECISION_BF16) | (1u << SATTN_PRECISION_INT4)) == precisions,
         "precision mask names");

  if (failures == 0) std::printf("enum names: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
