#include "core/parallel.hpp"

#include <algorithm>

#if SATTN_HAVE_TBB
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <map>
#include <memory>
#include <mutex>
#endif

namespace sattn {

#if SATTN_HAVE_TBB
namespace {

// One arena per thread count asked for, made at first use and kept for the process: creating an arena per call (per
// run of a plan with prefs.num_threads set) costs its worker start-up every time. A handful of distinct counts exist
// in practice; each arena holds no threads of its own beyond TBB's shared pool.
tbb::task_arena& arena_for(int32_t num_threads) {
  static std::mutex mutex;
  static std::map<int32_t, std::unique_ptr<tbb::task_arena>> arenas;
  const std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<tbb::task_arena>& arena = arenas[num_threads];
  if (!arena) arena = std::make_unique<tbb::task_arena>(num_threads);
  return *arena;
}

}  // namespace
#endif

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
      arena_for(num_threads).execute(run);
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
