// The problem set sattn-bench runs when none is given: one representative problem per CPU pattern.
#pragma once

#include <vector>

#include "problem.hpp"

namespace sattn_bench {

std::vector<Problem> default_problems();

}  // namespace sattn_bench
