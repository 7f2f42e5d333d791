#!/usr/bin/env bash
# Runs on the GPU machine, from the folder tools/cuda-device-test.sh filled: profiles one problem's attention kernel
# with Nsight Compute for each build there, so that two builds' kernels can be compared instruction by instruction.
# For each build NAME it writes to OUT: NAME.ncu-rep (the report), NAME.txt (its details page: duration, executed
# instructions, issue slots, warp states) and NAME-sass.csv.xz (the source page, one row per SASS instruction with
# its executed count and stall samples), and prints each build's headline numbers.
# Usage: cuda-profile.sh OUT "B H L D" PROBLEM [build ...] (default: every build; PROBLEM as sattn_bench_cuda names it,
# e.g. dense). Environment: NCU (the ncu binary; default: the first found on PATH or under /usr/local/cuda and
# /opt/nvidia), TIMEOUT (seconds a build may take; default 300), KERNEL (ncu's kernel filter; default regex:flash_).
set -uo pipefail
# shellcheck source=cuda-builds.sh
source "$(dirname "${BASH_SOURCE[0]}")/cuda-builds.sh"
out="${1:?usage: cuda-profile.sh OUT \"B H L D\" PROBLEM [build ...]}"
shape="${2:?cuda-profile.sh needs a shape \"B H L D\"}"
problem="${3:?cuda-profile.sh needs a problem name (dense, causal, ...)}"
shift 3
builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=("${build_names[@]}")
ncu="${NCU:-}"
if [ -z "$ncu" ]; then
  ncu="$(command -v ncu || true)"
  for candidate in /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu; do
    [ -z "$ncu" ] && [ -x "$candidate" ] && ncu="$candidate"
  done
fi
if [ -z "$ncu" ]; then
  echo "cuda-profile: no ncu on this machine (set NCU)" >&2
  exit 2
fi
mkdir -p "$out"
status=0
for build in "${builds[@]}"; do
  dir="$(build_dir "$build")"
  # The sections that explain a kernel's time per step: what it executed, how often its warps could issue, and
  # why they stalled, instruction by instruction (SourceCounters).
  # shellcheck disable=SC2086 # the shape is four words
  if ! LD_LIBRARY_PATH="$dir" timeout "${TIMEOUT:-300}" "$ncu" --kernel-name "${KERNEL:-regex:flash_}" \
    --launch-count 1 --section SpeedOfLight --section LaunchStats --section InstructionStats \
    --section SchedulerStats --section WarpStateStats --section SourceCounters -f -o "$out/$build" \
    "$dir/sattn_bench_cuda" $shape "$problem" >"$out/$build.log" 2>&1; then
    echo "cuda-profile: $build failed (its log: $out/$build.log)" >&2
    tail -5 "$out/$build.log" >&2
    status=1
    continue
  fi
  "$ncu" --import "$out/$build.ncu-rep" --page details >"$out/$build.txt" 2>&1
  "$ncu" --import "$out/$build.ncu-rep" --page source --print-source sass --csv 2>&1 | xz -T0 >"$out/$build-sass.csv.xz"
  echo "== $build: $shape $problem"
  grep -E "^\s+(Duration|Executed Instructions|Issue Slots Busy|Issued Warp Per Scheduler|Warp Cycles Per Issued \
Instruction|Avg. Active Threads Per Warp|Registers Per Thread)\s" "$out/$build.txt"
done
exit $status
