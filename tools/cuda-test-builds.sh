#!/usr/bin/env bash
# Runs on the GPU machine, from the folder tools/cuda-device-test.sh filled: the cuda test programs of the builds
# named (default: every build but "old", the baseline, which landed tested), each under `timeout`, their output in
# OUT-FOLDER/tests-BUILD-PROGRAM.log, one summary line each. Usage: cuda-test-builds.sh OUT-FOLDER [build ...].
# Environment: TIMEOUT (seconds a program may take; default 150). Exits non-zero when any program failed or hung.
set -uo pipefail
# shellcheck source=cuda-builds.sh
source "$(dirname "${BASH_SOURCE[0]}")/cuda-builds.sh"
out="${1:?usage: cuda-test-builds.sh OUT-FOLDER [build ...]}"
shift
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for name in "${build_names[@]}"; do [ "$name" != old ] && names+=("$name"); done
fi
mkdir -p "$out"
failed=0
for build in "${names[@]}"; do
  dir="$(build_dir "$build")"
  for program in sattn_test_cuda sattn_test_cuda_selection sattn_test_cuda_rows; do
    log="$out/tests-$build-$program.log"
    if [ ! -x "$dir/$program" ]; then
      echo "$build $program: missing" | tee "$log"
      failed=1
      continue
    fi
    LD_LIBRARY_PATH="$dir" timeout "${TIMEOUT:-150}" "$dir/$program" >"$log" 2>&1
    status=$?
    [ $status -ne 0 ] && failed=1
    echo "$build $program: rc $status, $(grep -E 'All tests passed|test cases:' "$log" | tail -1)"
  done
done
exit $failed
