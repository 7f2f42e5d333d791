// The families of the row-selecting data-dependent patterns (cuda_select.hpp): one source file each.
#pragma once

#include "cuda_select.hpp"

namespace sattn_cuda {

// topk_per_query and nm_structured (cuda_select_rows.cu).
const SelectionFamily* row_selection_family();
// lsh (cuda_select_lsh.cu).
const SelectionFamily* lsh_family();
// landmark (cuda_select_landmark.cu).
const SelectionFamily* landmark_family();

}  // namespace sattn_cuda
