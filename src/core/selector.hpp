// SATTN_PATTERN_AUTO: the rules, environment overrides and cost model of docs/patterns.md "Automatic selection".
#pragma once

#include <sattn.h>

#include <string>

namespace sattn {

struct PatternChoice {
  sattn_attention_desc desc;  // pattern set, missing parameters of the chosen pattern filled with defaults
  std::string reason;         // the "why" reported by sattn_plan_get_info
};

// desc has passed validate_descriptor and has pattern == SATTN_PATTERN_AUTO.
PatternChoice choose_pattern(const sattn_attention_desc& desc);

// Defaults the selector fills in when it picks a pattern whose parameters the caller left unset.
inline constexpr int64_t kAutoBlockSize = 64;
inline constexpr float kAutoKeepRatio = 0.125f;

}  // namespace sattn
