// One benchmark problem: a sattn_attention_desc written in a compact text form, parsed and printed back.
// The grammar is documented in help_text.cpp (sattn-bench --help).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sattn.h"

namespace sattn_bench {

struct Problem {
  sattn_attention_desc desc = SATTN_ATTENTION_DESC_INIT;
  // block_mask only (not a descriptor field): the probability that the bench's random block mask keeps a block.
  double mask_density = 0.25;
  std::string origin;  // where the text came from, for messages: "FILE:LINE" or "command line"
};

// Bad problem text; what() names the origin, the problem and what is wrong.
class ProblemError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Problem parse_problem(std::string_view text, std::string_view origin);
// The canonical text of a problem: the shape word, then every field that differs from its default.
std::string format_problem(const Problem& problem);

// Every settable sattn_pattern_params field with its value, in header order (for reports).
struct ParamValue {
  std::string_view name;
  std::variant<int64_t, float, uint64_t> value;
};
std::vector<ParamValue> param_values(const sattn_pattern_params& params);

// Whitespace-separated words of a text.
std::vector<std::string_view> split_words(std::string_view text);
// True for a compact shape word such as "b1hq8hk2lq4096d64".
bool is_shape_word(std::string_view word);

}  // namespace sattn_bench
