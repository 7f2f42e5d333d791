#!/usr/bin/env bash
# Runs on the GPU machine, from the folder tools/cuda-device-test.sh --baseline filled: times the baseline build
# (old/) and this one with sattn_bench_cuda, alternating, so that both see the same machine state; prints each run's
# problem and median milliseconds. Stops at the first run that fails or takes longer than TIMEOUT seconds (a hang
# would otherwise spend the device time). Usage: cuda-ab.sh [reps (2)] [shape ...]; a shape is "B H L D" (default:
# the three of docs/performance.md). Environment: TIMEOUT (default 60).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
reps="${1:-2}"
[ $# -gt 0 ] && shift
shapes=("$@")
[ ${#shapes[@]} -eq 0 ] && shapes=("4 16 8192 64" "4 16 8192 128" "1 16 32768 128")
[ -x "$here/old/sattn_bench_cuda" ] || { echo "cuda-ab: no $here/old/sattn_bench_cuda (build with --baseline)" >&2; exit 2; }
for ((rep = 1; rep <= reps; ++rep)); do
  for shape in "${shapes[@]}"; do
    for build in old new; do
      dir="$here"
      [ "$build" = old ] && dir="$here/old"
      echo "== $build $shape rep $rep"
      # shellcheck disable=SC2086 # the shape is four words
      output="$(LD_LIBRARY_PATH="$dir" timeout "${TIMEOUT:-60}" "$dir/sattn_bench_cuda" $shape 2>&1)"
      status=$?
      awk '{print $1, $2}' <<<"$output"
      if [ $status -ne 0 ]; then
        echo "cuda-ab: $build $shape exited with $status; stopping" >&2
        exit 1
      fi
    done
  done
done
