#include "core/parallel.hpp"

#include <algorithm>

#if SATTN_HAVE_TBB
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#endif

namespace sattn {

void parallel_for(int64_t n, int32_t num_threads, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
#if SATTN_HAVE_TBB
  if (n > grain && num_threads != 1) {
    auto run = [&] {
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, static_cast<size_t>(grain)),
                        [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
    };
    if (num_threads > 0) {
      tbb::task_arena arena(num_threads);
      arena.execute(run);
    } else {
      run();
    }
    return;
  }
#else
  (void)num_threads;
#endif
  body(0, n);
}

bool parallel_runtime_available() { return SATTN_HAVE_TBB != 0; }

}  // namespace sattn
