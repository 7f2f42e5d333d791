// make_layout: the pattern -> block layout step every backend shares ("one canonical intermediate form").
#include "core/descriptor.hpp"
#include "core/error.hpp"
#include "core/tensor_io.hpp"
#include "layout/rules.hpp"

#include <algorithm>

namespace sattn {
namespace {

std::vector<float> contiguous_f32(const sattn_tensor& t, int32_t num_threads) {
  std::vector<float> data(static_cast<size_t>(element_count(t)));
  gather_f32(t, data.data(), num_threads);
  return data;
}

}  // namespace

void append_block_tiles(const Geometry& g, int64_t block, const std::vector<int32_t>& blocks,
                        std::vector<int32_t>& out) {
  for (const int32_t kb : blocks) {
    const int64_t first = kb * block, last = std::min(g.kv_len, (kb + 1) * block) - 1;
    if (first > last) continue;
    for (int64_t kt = first / g.tile_k; kt <= last / g.tile_k; ++kt) out.push_back(static_cast<int32_t>(kt));
  }
}

void sort_unique(std::vector<int32_t>& tiles) {
  std::sort(tiles.begin(), tiles.end());
  tiles.erase(std::unique(tiles.begin(), tiles.end()), tiles.end());
}

std::unique_ptr<sattn_layout> make_layout(const sattn_problem& problem, const sattn_run_args* args,
                                          int32_t num_threads) {
  const sattn_attention_desc& d = *problem.desc;
  const int32_t pattern = d.pattern;
  if (!layout_depends_on_run(pattern)) {
    const Geometry g = Geometry::of(problem, d.kv_len);
    return build_analytic_layout(g, element_rule_of(problem, g), num_threads);
  }
  if (args == nullptr) fail(SATTN_ERROR_INTERNAL, "the layout of pattern ", pattern, " needs the run's tensors");

  if (pattern == SATTN_PATTERN_BLOCK_MASK) {
    const Geometry g = Geometry::of(problem, d.kv_len);
    return build_layout(g, make_block_mask_rule(problem, g, *args->block_mask), num_threads);
  }
  SelectionInputs in{problem, *args, {}, {}};
  const Geometry g = Geometry::of(problem, d.kv_len);
  // block_topk only needs block means: it reads Q and K rows straight from the tensors, with no fp32 copies.
  if (pattern == SATTN_PATTERN_BLOCK_TOPK) return build_layout(g, make_block_topk_rule(g, in), num_threads);
  in.k = contiguous_f32(*args->k, num_threads);
  if (pattern == SATTN_PATTERN_LANDMARK) {
    std::vector<float> keys, values;
    compute_landmarks(in, keys, values);
    const Geometry lg = Geometry::of(problem, d.params.num_landmarks);
    auto layout = build_analytic_layout(lg, element_rule_of(problem, lg), num_threads);
    layout->derived_keys = std::move(keys);
    layout->derived_values = std::move(values);
    return layout;
  }
  in.q = contiguous_f32(*args->q, num_threads);
  switch (pattern) {
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
