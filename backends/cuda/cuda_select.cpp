// The table of data-dependent pattern families the cuda backend selects on the device (cuda_select.hpp).
#include "cuda_select.hpp"

#include "cuda_select_rows.hpp"

namespace sattn_cuda {

const SelectionFamily* selection_family(int32_t pattern) {
  switch (pattern) {
    case SATTN_PATTERN_BLOCK_MASK:
      return &kBlockMaskFamily;
    case SATTN_PATTERN_BLOCK_TOPK:
      return &kBlockTopkFamily;
    case SATTN_PATTERN_TOPK_PER_QUERY:
    case SATTN_PATTERN_NM_STRUCTURED:
      return row_selection_family();
    case SATTN_PATTERN_LSH:
      return lsh_family();
    case SATTN_PATTERN_LANDMARK:
      return landmark_family();
    default:
      return nullptr;
  }
}

uint32_t device_selected_patterns() {
  uint32_t mask = 0;
  for (int32_t pattern = 0; pattern < SATTN_PATTERN_COUNT; ++pattern)
    if (selection_family(pattern) != nullptr) mask |= 1u << pattern;
  return mask;
}

}  // namespace sattn_cuda
