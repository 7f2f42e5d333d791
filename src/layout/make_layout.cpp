// make_layout: the pattern -> block layout step every backend shares (DESIGN.md "one canonical intermediate form").
#include "core/error.hpp"
#include "core/tensor_io.hpp"
#include "layout/rules.hpp"

namespace sattn {
namespace {

std::vector<float> contiguous_f32(const sattn_tensor& t) {
  std::vector<float> data(static_cast<size_t>(element_count(t)));
  gather_f32(t, data.data());
  return data;
}

}  // namespace

std::unique_ptr<sattn_layout> make_layout(const sattn_problem& problem, const sattn_run_args* args,
                                          int32_t num_threads) {
  const sattn_attention_desc& d = problem.desc;
  const int32_t pattern = d.pattern;
  if (auto rule = make_static_rule(problem, Geometry::of(problem, d.kv_len)))
    return build_layout(Geometry::of(problem, d.kv_len), std::move(rule), num_threads);
  if (args == nullptr) fail(SATTN_ERROR_INTERNAL, "the layout of pattern ", pattern, " needs the run's tensors");

  if (pattern == SATTN_PATTERN_BLOCK_MASK) {
    const Geometry g = Geometry::of(problem, d.kv_len);
    return build_layout(g, make_block_mask_rule(g, *args->block_mask), num_threads);
  }
  SelectionInputs in{problem, *args, {}, {}};
  in.k = contiguous_f32(*args->k);
  if (pattern == SATTN_PATTERN_LANDMARK) {
    std::vector<float> keys, values;
    compute_landmarks(in, keys, values);
    const Geometry g = Geometry::of(problem, d.params.num_landmarks);
    auto layout = build_layout(g, make_dense_rule(g), num_threads);
    layout->derived_keys = std::move(keys);
    layout->derived_values = std::move(values);
    return layout;
  }
  in.q = contiguous_f32(*args->q);
  const Geometry g = Geometry::of(problem, d.kv_len);
  switch (pattern) {
    case SATTN_PATTERN_BLOCK_TOPK:
      return build_layout(g, make_block_topk_rule(g, in), num_threads);
    case SATTN_PATTERN_NM_STRUCTURED:
    case SATTN_PATTERN_TOPK_PER_QUERY:
      return build_layout(g, make_row_selection_rule(g, in), num_threads);
    case SATTN_PATTERN_LSH:
      return build_layout(g, make_lsh_rule(g, in), num_threads);
    default:
      fail(SATTN_ERROR_INTERNAL, "no layout rule for pattern ", pattern);
  }
}

}  // namespace sattn
