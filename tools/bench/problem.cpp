#include "problem.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <system_error>
#include <type_traits>
#include <variant>

#include "concat.hpp"
#include "enum_names.hpp"

namespace sattn_bench {
namespace {

struct ShapeField {
  std::string_view short_name;  // in the compact shape word, e.g. "hq" of "hq8"
  std::string_view long_name;   // the sattn_attention_desc field name
  int64_t sattn_attention_desc::*member;
};

constexpr std::array kShapeFields{
    ShapeField{"b", "batch", &sattn_attention_desc::batch},
    ShapeField{"hq", "num_q_heads", &sattn_attention_desc::num_q_heads},
    ShapeField{"hk", "num_kv_heads", &sattn_attention_desc::num_kv_heads},
    ShapeField{"lq", "q_len", &sattn_attention_desc::q_len},
    ShapeField{"lk", "kv_len", &sattn_attention_desc::kv_len},
    ShapeField{"d", "head_dim", &sattn_attention_desc::head_dim},
    ShapeField{"dv", "head_dim_v", &sattn_attention_desc::head_dim_v},
};

using ParamMember =
    std::variant<int64_t sattn_pattern_params::*, float sattn_pattern_params::*, uint64_t sattn_pattern_params::*>;
struct ParamField {
  std::string_view name;  // the sattn_pattern_params field name
  ParamMember member;
};

// In header order; reserved words are not settable (they must stay zero).
const std::array kParamFields{
    ParamField{"window_size", &sattn_pattern_params::window_size},
    ParamField{"dilation", &sattn_pattern_params::dilation},
    ParamField{"wrap", &sattn_pattern_params::wrap},
    ParamField{"global_tokens", &sattn_pattern_params::global_tokens},
    ParamField{"block_size", &sattn_pattern_params::block_size},
    ParamField{"keep_ratio", &sattn_pattern_params::keep_ratio},
    ParamField{"scale_q", &sattn_pattern_params::scale_q},
    ParamField{"topk_blocks", &sattn_pattern_params::topk_blocks},
    ParamField{"local_blocks", &sattn_pattern_params::local_blocks},
    ParamField{"comp_block_size", &sattn_pattern_params::comp_block_size},
    ParamField{"nm_n", &sattn_pattern_params::nm_n},
    ParamField{"nm_m", &sattn_pattern_params::nm_m},
    ParamField{"topk_k", &sattn_pattern_params::topk_k},
    ParamField{"lsh_buckets", &sattn_pattern_params::lsh_buckets},
    ParamField{"lsh_seed", &sattn_pattern_params::lsh_seed},
    ParamField{"num_landmarks", &sattn_pattern_params::num_landmarks},
    ParamField{"landmark_iters", &sattn_pattern_params::landmark_iters},
    ParamField{"scale_k", &sattn_pattern_params::scale_k},
    ParamField{"scale_v", &sattn_pattern_params::scale_v},
};

struct FlagName {
  std::string_view name;
  uint32_t bit;
};
constexpr std::array kFlagNames{FlagName{"causal", SATTN_FLAG_CAUSAL}, FlagName{"want_lse", SATTN_FLAG_WANT_LSE}};

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// Shortest text that reads back to the same float.
std::string float_text(float value) {
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), result.ptr);
}

class ProblemParser {
 public:
  ProblemParser(std::string_view text, std::string_view origin) : text_(trim(text)), origin_(origin) {
    problem_.origin = std::string(origin);
  }

  Problem parse() {
    for (const std::string_view word : split_words(text_)) parse_word(word);
    if (!given_.contains("q_len")) fail("the query length is missing (lq<N> in the shape word, or q_len=N)");
    if (!given_.contains("head_dim")) fail("the head dimension is missing (d<N> in the shape word, or head_dim=N)");
    sattn_attention_desc& desc = problem_.desc;
    if (!given_.contains("num_kv_heads")) desc.num_kv_heads = desc.num_q_heads;
    if (!given_.contains("kv_len")) desc.kv_len = desc.q_len;
    if (!given_.contains("head_dim_v")) desc.head_dim_v = desc.head_dim;
    return problem_;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ProblemError(concat(origin_, ": ", message, "\n  in problem: ", text_,
                              "\n  (sattn-bench --help describes the problem grammar)"));
  }

  void mark_given(std::string_view field) {
    if (!given_.emplace(field).second) fail(concat("'", field, "' is given twice"));
  }

  void parse_word(std::string_view word) {
    const auto equals = word.find('=');
    if (equals != std::string_view::npos) {
      parse_assignment(word.substr(0, equals), word.substr(equals + 1));
      return;
    }
    for (const FlagName& flag : kFlagNames) {
      if (word == flag.name) {
        problem_.desc.flags |= flag.bit;
        return;
      }
    }
    if (is_shape_word(word)) {
      parse_shape_word(word);
      return;
    }
    fail(concat("unknown word '", word,
                "' (expected a shape word such as b1hq8lq1024d64, key=value, causal or want_lse)"));
  }

  void parse_shape_word(std::string_view word) {
    size_t position = 0;
    while (position < word.size()) {
      const size_t name_start = position;
      while (position < word.size() && std::isalpha(static_cast<unsigned char>(word[position]))) ++position;
      const std::string_view name = word.substr(name_start, position - name_start);
      const size_t digits_start = position;
      while (position < word.size() && std::isdigit(static_cast<unsigned char>(word[position]))) ++position;
      const std::string_view digits = word.substr(digits_start, position - digits_start);
      const ShapeField* field = find_shape_field(name);
      if (field == nullptr || name.empty()) {
        fail(concat("'", name, "' in shape word '", word, "' is not a dimension (b, hq, hk, lq, lk, d, dv)"));
      }
      if (digits.empty()) fail(concat("a number must follow '", name, "' in '", word, "'"));
      set_shape_field(*field, digits);
    }
  }

  static const ShapeField* find_shape_field(std::string_view name) {
    for (const ShapeField& field : kShapeFields) {
      if (name == field.short_name || name == field.long_name) return &field;
    }
    return nullptr;
  }

  void set_shape_field(const ShapeField& field, std::string_view value) {
    mark_given(field.long_name);
    problem_.desc.*field.member = parse_integer<int64_t>(field.long_name, value);
  }

  void parse_assignment(std::string_view key, std::string_view value) {
    if (key.empty()) fail("'=' without a field name");
    if (value.empty()) fail(concat("no value after '", key, "='"));
    sattn_attention_desc& desc = problem_.desc;
    if (const ShapeField* field = find_shape_field(key)) {
      set_shape_field(*field, value);
    } else if (key == "pattern") {
      mark_given(key);
      desc.pattern =
          enum_value(key, value, sattn_tools::pattern_from_name(value), sattn_tools::accepted_pattern_names());
    } else if (key == "precision") {
      mark_given(key);
      desc.precision =
          enum_value(key, value, sattn_tools::precision_from_name(value), sattn_tools::accepted_precision_names());
    } else if (key == "dtype") {
      mark_given(key);
      desc.dtype = enum_value(key, value, sattn_tools::dtype_from_name(value), sattn_tools::accepted_dtype_names());
    } else if (key == "scale") {
      mark_given(key);
      desc.scale = parse_float(key, value);
    } else if (key == "flags") {
      mark_given(key);
      desc.flags |= parse_flags(value);
    } else if (key == "nm") {
      parse_nm_shorthand(value);
    } else if (key == "mask_density") {
      mark_given(key);
      problem_.mask_density = parse_float(key, value);
      if (!(problem_.mask_density >= 0.0 && problem_.mask_density <= 1.0)) fail("mask_density must be in [0, 1]");
    } else if (!set_param(key, value)) {
      fail(concat("unknown field '", key, "'"));
    }
  }

  bool set_param(std::string_view key, std::string_view value) {
    for (const ParamField& field : kParamFields) {
      if (key != field.name) continue;
      mark_given(key);
      sattn_pattern_params& params = problem_.desc.params;
      std::visit(
          [&](auto member) {
            using Value = std::remove_cvref_t<decltype(params.*member)>;
            if constexpr (std::is_same_v<Value, float>) {
              params.*member = parse_float(key, value);
            } else {
              params.*member = parse_integer<Value>(key, value);
            }
          },
          field.member);
      return true;
    }
    return false;
  }

  // nm=N:M sets nm_n and nm_m together, as "2:4 sparsity" is usually written.
  void parse_nm_shorthand(std::string_view value) {
    const auto colon = value.find(':');
    if (colon == std::string_view::npos) fail("nm expects N:M, e.g. nm=2:4");
    mark_given("nm_n");
    mark_given("nm_m");
    problem_.desc.params.nm_n = parse_integer<int64_t>("nm", value.substr(0, colon));
    problem_.desc.params.nm_m = parse_integer<int64_t>("nm", value.substr(colon + 1));
  }

  uint32_t parse_flags(std::string_view value) {
    if (std::isdigit(static_cast<unsigned char>(value.front()))) return parse_integer<uint32_t>("flags", value);
    uint32_t flags = 0;
    size_t start = 0;
    while (start <= value.size()) {
      const size_t end = std::min(value.find_first_of("|,", start), value.size());
      const std::string_view name = value.substr(start, end - start);
      bool known = false;
      for (const FlagName& flag : kFlagNames) {
        if (name == flag.name) {
          flags |= flag.bit;
          known = true;
        }
      }
      if (!known) fail(concat("unknown flag '", name, "' (flags: causal, want_lse, or a number)"));
      start = end + 1;
    }
    return flags;
  }

  int32_t enum_value(std::string_view key, std::string_view value, std::optional<int32_t> found,
                     const std::string& accepted) const {
    if (!found) fail(concat("unknown ", key, " '", value, "' (one of: ", accepted, ")"));
    return *found;
  }

  // Decimal, or hexadecimal after 0x; the whole text must be the number.
  template <typename Integer>
  Integer parse_integer(std::string_view key, std::string_view text) const {
    int base = 10;
    std::string_view digits = text;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      base = 16;
      digits.remove_prefix(2);
    }
    Integer value{};
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (error == std::errc::result_out_of_range) fail(concat(key, "=", text, " is out of range"));
    if (error != std::errc() || end != digits.data() + digits.size()) {
      fail(concat(key, " expects an integer, got '", text, "'"));
    }
    return value;
  }

  float parse_float(std::string_view key, std::string_view text) const {
    float value = 0.0f;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
      fail(concat(key, " expects a finite number, got '", text, "'"));
    }
    return value;
  }

  std::string_view text_;
  std::string origin_;
  Problem problem_;
  std::set<std::string, std::less<>> given_;
};

}  // namespace

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t position = 0;
  while (true) {
    const size_t start = text.find_first_not_of(" \t\r\n", position);
    if (start == std::string_view::npos) break;
    const size_t end = std::min(text.find_first_of(" \t\r\n", start), text.size());
    words.push_back(text.substr(start, end - start));
    position = end;
  }
  return words;
}

bool is_shape_word(std::string_view word) {
  if (word.empty() || word.find('=') != std::string_view::npos) return false;
  if (!std::isalpha(static_cast<unsigned char>(word.front()))) return false;
  return word.find_first_of("0123456789") != std::string_view::npos;
}

std::vector<ParamValue> param_values(const sattn_pattern_params& params) {
  std::vector<ParamValue> values;
  for (const ParamField& field : kParamFields) {
    std::visit([&](auto member) { values.push_back(ParamValue{field.name, params.*member}); }, field.member);
  }
  return values;
}

Problem parse_problem(std::string_view text, std::string_view origin) { return ProblemParser(text, origin).parse(); }

std::string format_problem(const Problem& problem) {
  const sattn_attention_desc& desc = problem.desc;
  std::string text = concat("b", std::to_string(desc.batch), "hq", std::to_string(desc.num_q_heads), "hk",
                            std::to_string(desc.num_kv_heads), "lq", std::to_string(desc.q_len), "lk",
                            std::to_string(desc.kv_len), "d", std::to_string(desc.head_dim));
  if (desc.head_dim_v != desc.head_dim) text += concat("dv", std::to_string(desc.head_dim_v));
  text += concat(" pattern=", sattn_tools::pattern_name(desc.pattern));

  const sattn_pattern_params defaults = SATTN_PATTERN_PARAMS_INIT;
  for (const ParamField& field : kParamFields) {
    std::visit(
        [&](auto member) {
          if (desc.params.*member == defaults.*member) return;
          using Value = std::remove_cvref_t<decltype(desc.params.*member)>;
          if constexpr (std::is_same_v<Value, float>) {
            text += concat(" ", field.name, "=", float_text(desc.params.*member));
          } else {
            text += concat(" ", field.name, "=", std::to_string(desc.params.*member));
          }
        },
        field.member);
  }
  if (desc.pattern == SATTN_PATTERN_BLOCK_MASK) {
    text += concat(" mask_density=", float_text(static_cast<float>(problem.mask_density)));
  }

  uint32_t unnamed_flags = desc.flags;
  for (const FlagName& flag : kFlagNames) {
    if (desc.flags & flag.bit) text += concat(" ", flag.name);
    unnamed_flags &= ~flag.bit;
  }
  if (unnamed_flags != 0) text += concat(" flags=", std::to_string(unnamed_flags));
  text += concat(" precision=", sattn_tools::precision_name(desc.precision));
  text += concat(" dtype=", sattn_tools::dtype_name(desc.dtype));
  if (desc.scale != 0.0f) text += concat(" scale=", float_text(desc.scale));
  return text;
}

}  // namespace sattn_bench
