// SATTN_PATTERN_AUTO follows the rules of docs/patterns.md in order, honours the environment overrides and says why.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "core/selector.hpp"

namespace {

sattn_attention_desc auto_desc() {
  sattn_attention_desc d = SATTN_ATTENTION_DESC_INIT;
  d.batch = 1;
  d.num_q_heads = 8;
  d.num_kv_heads = 8;
  d.q_len = d.kv_len = 4096;
  d.head_dim = d.head_dim_v = 64;
  return d;
}

// Sets environment variables for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

sattn::PatternChoice choose(const sattn_attention_desc& d) { return sattn::choose_pattern(d); }

}  // namespace

TEST_CASE("rules 1-4 pick by the parameters that are set, in order", "[selector]") {
  sattn_attention_desc d = auto_desc();
  d.params.global_tokens = 16;
  d.params.nm_n = 2;
  d.params.nm_m = 4;
  auto choice = choose(d);
  CHECK(choice.desc.pattern == SATTN_PATTERN_BLOCK_LOCAL_GLOBAL);
  CHECK(choice.desc.params.block_size == sattn::kAutoBlockSize);
  CHECK(choice.reason.find("rule 1") != std::string::npos);

  d.params.global_tokens = 0;
  d.params.topk_k = 32;
  CHECK(choose(d).desc.pattern == SATTN_PATTERN_NM_STRUCTURED);
  {
    ScopedEnv off("SATTN_DISABLE_NM", "1");
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_TOPK_PER_QUERY);
  }
  d.params.nm_n = d.params.nm_m = 0;
  d.params.lsh_buckets = 8;
  CHECK(choose(d).desc.pattern == SATTN_PATTERN_TOPK_PER_QUERY);
  {
    ScopedEnv off("SATTN_DISABLE_TOPK", "yes");
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_LSH);
    ScopedEnv lsh_off("SATTN_DISABLE_LSH", "1");
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_BLOCK_TOPK);  // rule 6
  }
  {
    ScopedEnv not_really("SATTN_DISABLE_TOPK", "0");  // "0" leaves it enabled
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_TOPK_PER_QUERY);
  }
}

TEST_CASE("rule 5 compares sliding window and block top-k costs", "[selector]") {
  sattn_attention_desc d = auto_desc();
  d.params.window_size = 64;
  d.params.keep_ratio = 0.5f;
  d.params.block_size = 64;
  auto choice = choose(d);
  CHECK(choice.desc.pattern == SATTN_PATTERN_SLIDING_WINDOW);  // 129 keys per query against ~2k
  CHECK(choice.reason.find("cost model") != std::string::npos);

  d.params.window_size = 1024;
  d.params.keep_ratio = 0.05f;
  CHECK(choose(d).desc.pattern == SATTN_PATTERN_BLOCK_TOPK);  // 2049 keys against ~5 blocks of 64
  {
    ScopedEnv prefer("SATTN_PREFER_SW", "1");
    ScopedEnv prefer_more("SATTN_DISABLE_BSR", "1");
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_SLIDING_WINDOW);
  }
  {
    ScopedEnv off("SATTN_DISABLE_SW", "1");
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_BLOCK_TOPK);
  }

  // Near the crossover, GQA penalises the window and tips the choice.
  d.params.window_size = 150;
  d.params.keep_ratio = 0.06f;
  CHECK(choose(d).desc.pattern == SATTN_PATTERN_SLIDING_WINDOW);
  d.num_kv_heads = 1;
  CHECK(choose(d).desc.pattern == SATTN_PATTERN_BLOCK_TOPK);
  {
    ScopedEnv prefer("SATTN_PREFER_SW", "1");
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_SLIDING_WINDOW);
  }
}

TEST_CASE("rule 6 and the overrides", "[selector]") {
  sattn_attention_desc d = auto_desc();
  auto choice = choose(d);
  CHECK(choice.desc.pattern == SATTN_PATTERN_BLOCK_TOPK);
  CHECK(choice.desc.params.block_size == sattn::kAutoBlockSize);
  CHECK(choice.desc.params.keep_ratio == sattn::kAutoKeepRatio);
  CHECK(choice.reason.find("rule 6") != std::string::npos);
  {
    ScopedEnv off("SATTN_DISABLE_BSR", "1");
    CHECK(choose(d).desc.pattern == SATTN_PATTERN_DENSE);
  }
  {
    ScopedEnv forced("SATTN_FORCE_SPEC", "sliding_global");
    d.params.window_size = 8;
    auto forced_choice = choose(d);
    CHECK(forced_choice.desc.pattern == SATTN_PATTERN_SLIDING_WINDOW);
    CHECK(forced_choice.reason.find("SATTN_FORCE_SPEC") != std::string::npos);
  }
  {
    ScopedEnv forced("SATTN_FORCE_SPEC", "magic");
    CHECK_THROWS_WITH(choose(d), Catch::Contains("SATTN_FORCE_SPEC='magic' is not a pattern name"));
  }
  {
    ScopedEnv l1("SATTN_HW_L1_BYTES", "-5");
    d.params.window_size = 64;
    d.params.keep_ratio = 0.5f;
    CHECK_THROWS_WITH(choose(d), Catch::Contains("SATTN_HW_L1_BYTES"));
  }
}

TEST_CASE("a tile that misses L1 makes block top-k dearer", "[selector]") {
  sattn_attention_desc d = auto_desc();
  d.params.window_size = 190;
  d.params.keep_ratio = 0.05f;
  d.params.block_size = 64;
  const auto roomy = choose(d);
  ScopedEnv tiny("SATTN_HW_L1_BYTES", "1024");
  const auto cramped = choose(d);
  CHECK(roomy.desc.pattern == SATTN_PATTERN_BLOCK_TOPK);
  CHECK(cramped.desc.pattern == SATTN_PATTERN_SLIDING_WINDOW);
}
