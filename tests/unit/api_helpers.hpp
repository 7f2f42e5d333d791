// Small helpers shared by the API unit tests: a valid descriptor to mutate, owned tensors, and status checks that
// print the library's message when they fail.
#pragma once

#include <sattn.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace test {

// Whether a built-in backend of this name is registered and can run here.
inline bool backend_available(const std::string& name) {
  for (int32_t n = 0; n < sattn_backend_count(); ++n) {
    sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
    if (sattn_backend_get_info(n, &info) == SATTN_OK && name == info.name) return info.available == 1;
  }
  return false;
}

// The backend automatic selection takes for fp32/bf16/fp16 problems with many query rows: "rvv" where a riscv64
// build runs on a hart with V, "cpu" elsewhere.
inline std::string fastest_builtin_backend() { return backend_available("rvv") ? "rvv" : "cpu"; }

inline sattn_attention_desc valid_desc() {
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = 2;
  d.num_q_heads = 4;
  d.num_kv_heads = 2;
  d.q_len = 37;
  d.kv_len = 53;
  d.head_dim = 16;
  d.head_dim_v = 8;
  d.pattern = SATTN_PATTERN_DENSE;
  return d;
}

// A contiguous f32 tensor of random values in [-2, 2].
struct OwnedTensor {
  std::vector<float> data;
  sattn_tensor view{};
  OwnedTensor(int64_t a, int64_t b, int64_t c, int64_t d, uint32_t seed) : data(static_cast<size_t>(a * b * c * d)) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    for (float& x : data) x = dist(rng);
    view = {data.data(), SATTN_DEVICE_CPU, 0, SATTN_DTYPE_F32, 4, {a, b, c, d}, {b * c * d, c * d, d, 1}};
  }
};

struct Problem {
  OwnedTensor q, k, v, o;
  sattn_run_args args = SATTN_RUN_ARGS_INIT;
  explicit Problem(const sattn_attention_desc& d, uint32_t seed = 1)
      : q(d.batch, d.num_q_heads, d.q_len, d.head_dim, seed),
        k(d.batch, d.num_kv_heads, d.kv_len, d.head_dim, seed + 1),
        v(d.batch, d.num_kv_heads, d.kv_len, d.head_dim_v, seed + 2),
        o(d.batch, d.num_q_heads, d.q_len, d.head_dim_v, seed + 3) {
    args.q = &q.view;
    args.k = &k.view;
    args.v = &v.view;
    args.o = &o.view;
  }
  // args points into this object: copies or moves would leave it pointing at the old tensors.
  Problem(const Problem&) = delete;
  Problem& operator=(const Problem&) = delete;
};

inline void require_status(sattn_status got, sattn_status expected, const std::string& message_part) {
  INFO("status " << sattn_status_string(got) << ", message: " << sattn_last_error());
  REQUIRE(got == expected);
  if (expected != SATTN_OK) {
    REQUIRE(std::string(sattn_last_error()).find(message_part) != std::string::npos);
  }
}

inline sattn_status create(const sattn_attention_desc& d, sattn_plan** plan, const char* backend = nullptr) {
  sattn_plan_prefs prefs = SATTN_PLAN_PREFS_INIT;
  prefs.backend = backend;
  return sattn_plan_create(&d, &prefs, plan);
}

// Runs a plan with a workspace of the size it asks for.
inline sattn_status run(const sattn_plan* plan, const sattn_run_args& args) {
  size_t bytes = 0;
  const sattn_status st = sattn_plan_workspace_size(plan, &bytes);
  if (st != SATTN_OK) return st;
  std::vector<unsigned char> workspace(bytes);
  return sattn_plan_run(plan, &args, workspace.data(), workspace.size(), nullptr);
}

}  // namespace test
