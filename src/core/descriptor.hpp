// Descriptor intake: copies the caller's versioned struct, checks every field with a specific message, resolves
// SATTN_PATTERN_AUTO through the selector and fills defaults, giving the sattn_problem every backend sees.
#pragma once

#include <sattn.h>
#include <sattn_backend.h>

#include <string>

namespace sattn {

// Copies a caller's struct that begins with uint32_t struct_size, refusing sizes this library does not know.
// `what` names the struct in messages.
template <typename Struct>
Struct read_versioned(const Struct* user, const Struct& defaults, const char* what);

// Every check that does not depend on the pattern (sizes, overflow, enums, flags, scales, parameter ranges).
void validate_descriptor(const sattn_attention_desc& desc);
// The checks of the parameters the (resolved) pattern uses.
void validate_pattern_params(const sattn_attention_desc& desc);

struct ResolvedProblem {
  sattn_attention_desc desc{};  // pattern resolved, defaults filled in, scale set
  int32_t device_id = 0, num_threads = 0;
  std::string reason;  // why this pattern: the selector's words, or "pattern given in the descriptor"
  // The backend's view of it, referring to desc: valid while this object lives where it is.
  sattn_problem problem(int64_t tile_q = 0, int64_t tile_k = 0) const;
};

// Validates, selects and fills defaults. prefs may be null.
ResolvedProblem resolve_problem(const sattn_attention_desc* user_desc, const sattn_plan_prefs* user_prefs);

// Group size G = Hq / Hk.
inline int64_t gqa_group(const sattn_attention_desc& d) { return d.num_q_heads / d.num_kv_heads; }
inline bool is_causal(const sattn_attention_desc& d) { return (d.flags & SATTN_FLAG_CAUSAL) != 0; }
// Patterns whose kept set depends on the data (or on a run argument) and so is built per run.
bool layout_depends_on_run(int32_t pattern);

}  // namespace sattn
