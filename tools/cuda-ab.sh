#!/usr/bin/env bash
# Runs on the GPU machine, from the folder tools/cuda-device-test.sh filled: times every build there (the baseline
# "old", the other variants, this tree's "new") with sattn_bench_cuda, alternating, so that all see the same machine
# state; prints each run's problem and median milliseconds, then a table of the medians per build. A build whose run
# fails or takes longer than TIMEOUT seconds is dropped from the later runs (a hang would otherwise spend the device
# time) and the script ends non-zero. Usage: cuda-ab.sh [reps (2)] [shape ...]; a shape is "B H L D" (default: the
# three of docs/performance.md). Environment: TIMEOUT (default 60).
set -uo pipefail
# shellcheck source=cuda-builds.sh
source "$(dirname "${BASH_SOURCE[0]}")/cuda-builds.sh"
reps="${1:-2}"
[ $# -gt 0 ] && shift
shapes=("$@")
[ ${#shapes[@]} -eq 0 ] && shapes=("4 16 8192 64" "4 16 8192 128" "1 16 32768 128")
if [ ${#build_names[@]} -lt 2 ]; then
  echo "cuda-ab: no build to compare with (tools/cuda-device-test.sh --baseline REF or --variant NAME=REF)" >&2
  exit 2
fi
declare -A dropped=()
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
for ((rep = 1; rep <= reps; ++rep)); do
  for shape in "${shapes[@]}"; do
    for build in "${build_names[@]}"; do
      [ -n "${dropped[$build]:-}" ] && continue
      dir="$(build_dir "$build")"
      echo "== $build $shape rep $rep"
      # shellcheck disable=SC2086 # the shape is four words
      output="$(LD_LIBRARY_PATH="$dir" timeout "${TIMEOUT:-60}" "$dir/sattn_bench_cuda" $shape 2>&1)"
      status=$?
      awk '{print $1, $2}' <<<"$output"
      # Lines "problem ms ..." become "shape|problem|build|ms" for the table.
      awk -v key="$shape" -v build="$build" 'NF >= 2 && $2 ~ /^[0-9.]+$/ {print key "|" $1 "|" build "|" $2}' \
        <<<"$output" >>"$results"
      if [ $status -ne 0 ]; then
        echo "cuda-ab: $build $shape exited with $status; $build is dropped" >&2
        dropped[$build]=1
      fi
    done
  done
done
echo
echo "median ms per build (runs: $reps)"
header="shape | problem"
for build in "${build_names[@]}"; do header+=" | $build"; done
echo "$header"
awk -F '|' -v builds="${build_names[*]}" '
  { row = $1 "|" $2; cell = row "|" $3
    if (!(row in seen)) { seen[row] = 1; order[++rows] = row }
    times[cell] = times[cell] " " $4 }
  END {
    n = split(builds, names, " ")
    for (r = 1; r <= rows; ++r) {
      split(order[r], parts, "|"); line = parts[1] " | " parts[2]
      for (b = 1; b <= n; ++b) {
        count = split(times[order[r] "|" names[b]], values, " ")
        for (i = 1; i <= count; ++i) for (j = i + 1; j <= count; ++j)
          if (values[j] + 0 < values[i] + 0) { t = values[i]; values[i] = values[j]; values[j] = t }
        median = count == 0 ? "-" : (count % 2 ? values[(count + 1) / 2] : (values[count / 2] + values[count / 2 + 1]) / 2)
        line = line " | " median
      }
      print line
    }
  }' "$results"
[ ${#dropped[@]} -eq 0 ]
