// The accuracy harness: one Case is a problem (as the reference describes it) plus how its tensors are stored. The
// harness draws random inputs, rounds them to the storage type, asks the reference for the exact answer, runs the
// library through its public C API on the backend under test ("reference" unless SATTN_ACC_BACKEND names another),
// and compares with the tolerances of docs/patterns.md.
#pragma once

#include "reference.hpp"
#include "strided_buffer.hpp"

#include <sattn.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sattn_acc {

struct Case {
  sattn_ref::Problem problem;
  int32_t dtype = SATTN_DTYPE_F32;
  Layout layout = Layout::bhld;         // of Q, K, V, O and the block mask
  int64_t mask_heads = 1;               // block_mask: 1 or Hq
  double mask_keep_probability = 0.45;  // block_mask: chance that a block is kept
  bool with_lse = true;
  // > 0: K is N(0, 1) plus a per-channel offset of about this magnitude for each (batch, kv head), as trained keys
  // often are (see quantisation.hpp); 0: K is uniform in [-2, 2] like Q and V.
  double key_bias = 0;
  uint32_t seed = 1;
};

// A case with the given sizes (Dv = D) and pattern; the tests then set its parameters.
Case make_case(int pattern, int64_t B, int64_t Hq, int64_t Hk, int64_t Lq, int64_t Lk, int64_t D, bool causal);

struct Sizes {
  int64_t B, Hq, Hk, Lq, Lk, D;
};

// Every combination of causal (off, then on), parameter variant and sizes, in that nesting, with consecutive seeds
// from first_seed. A variant sets the pattern parameters of a case made by make_case (its seed already set).
std::vector<Case> sweep(int pattern, const std::vector<Sizes>& sizes,
                        const std::vector<std::function<void(Case&)>>& variants, uint32_t first_seed);

// One line naming everything that defines the case, for failure messages.
std::string describe(const Case& c);

// The descriptor the library is given for a case.
sattn_attention_desc descriptor(const Case& c);

// The backend the suites run on: SATTN_ACC_BACKEND when set (e.g. "cpu"), else "reference".
const char* backend_under_test();

// Whether the backend under test computes the case's precision; suites skip the cases it does not (the cpu backend
// leaves int8/int4 to the reference in this version).
bool backend_runs(const Case& c);

// A plan on the backend under test (strict: no silent fallback to another backend).
class Plan {
 public:
  explicit Plan(const Case& c);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  [[nodiscard]] const sattn_plan* get() const { return plan_; }
  [[nodiscard]] sattn_status status() const { return status_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  sattn_plan* plan_ = nullptr;
  sattn_status status_;
  std::string error_;
};

// How the library's answer compared with the reference's.
struct Verdict {
  std::string failure;  // a status or structural problem ("" when the run happened and the numbers were compared)
  double o_error = 0;   // max |O - O_ref| / max |O_ref|
  double o_tolerance = 0;
  double lse_error = 0;  // max |LSE - LSE_ref| over non-empty rows
  double lse_tolerance = 0;
  int64_t empty_rows = 0;      // rows whose S_i is empty
  int64_t bad_empty_rows = 0;  // of those, rows where O is not exactly 0 or LSE not -inf
  int64_t non_finite = 0;      // NaN/inf outputs (LSE of empty rows excepted)
  // int8/int4: how far the float64 simulation of the quantised computation lies from the exact reference (for
  // information), and how far the library lies from that simulation (O relative, LSE absolute); -1 where not
  // computed.
  double simulation_error = -1;
  double quantised_error = -1;
  double quantised_lse_error = -1;
  double quantised_tolerance = 0;
  double quantised_lse_tolerance = 0;
  bool padding_intact = true;  // output padding not written, inputs not modified

  [[nodiscard]] bool passed() const;
  [[nodiscard]] std::string summary() const;
};

// A case's inputs in library layout, its output buffers and the reference's answer.
class Prepared {
 public:
  explicit Prepared(const Case& c);
  [[nodiscard]] const Case& spec() const { return case_; }

 private:
  friend Verdict run_and_compare(const sattn_plan* plan, Prepared& prepared);
  Case case_;
  sattn_ref::Inputs inputs_;
  sattn_ref::Result expected_;
  // int8/int4: the float64 simulation of the quantised computation (sattn_ref::quantised_attention).
  std::optional<sattn_ref::Result> simulated_;
  StridedBuffer q_, k_, v_, o_;
  std::vector<float> lse_;
  std::vector<uint8_t> block_mask_;         // logical [B, mask_heads, Lq blocks, Lk blocks]
  std::vector<uint8_t> block_mask_memory_;  // the same in the case's layout, padding bytes non-zero
};

// Runs the plan on the prepared case and compares. Uses no test-framework assertion, so threads may call it.
Verdict run_and_compare(const sattn_plan* plan, Prepared& prepared);

// Everything for one case with Catch2 assertions: plan, prepare, run, compare.
void check_case(const Case& c);
void check_cases(const std::vector<Case>& cases);

// Max |actual - expected| / max |expected| (the absolute error when expected is all zero); NaN counts as infinite.
double relative_error(const std::vector<double>& actual, const std::vector<double>& expected);

// The LSE bound against the exact reference per precision (absolute, natural log). Reduced precisions perturb every
// score by about their rounding step times sqrt(D) times the scale.
double lse_tolerance(int precision);

}  // namespace sattn_acc
