#!/usr/bin/env bash
# Builds the cuda backend, its test and benchmark here (the default preset), copies what a run on the GPU machine
# needs into <main checkout>/.device-cuda2/ (git-ignored there: the device tool ships the main checkout plus carried
# ignored folders) and prints the command to run there.
# Usage: tools/cuda-device-test.sh [--baseline GIT-REF] [main checkout]; the main checkout defaults to the one whose
# .git this worktree shares. --baseline also builds the library, the plugin and sattn_bench_cuda at GIT-REF (in a
# temporary worktree) into .device-cuda2/old/, for tools/cuda-ab.sh to time side by side with this build.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
baseline=""
if [ "${1:-}" = "--baseline" ]; then
  baseline="${2:?--baseline needs a git ref}"
  shift 2
fi
main="${1:-$(dirname "$(git -C "$here" rev-parse --path-format=absolute --git-common-dir)")}"
dest="$main/.device-cuda2"
cd "$here"
cmake --preset default >/dev/null
cmake --build build/default -j2 --target sattn sattn_backend_cuda sattn_test_cuda sattn_test_cuda_selection sattn_test_cuda_rows \
  sattn_bench_cuda
# awk reads all of ldconfig's output: leaving early would fail the pipe (SIGPIPE) under pipefail.
tbb="$(ldconfig -p | awk '/libtbb\.so\.12 / && !found {found = $NF} END {print found}')"
# What sattn_bench_cuda needs at run time, from a build tree into a folder: the library, the plugin, oneTBB.
copy_runtime() {
  mkdir -p "$2"
  cp -P "$1"/build/default/src/libsattn.so* "$1"/build/default/src/libsattn-backend-cuda.so \
    "$1"/build/default/tests/cuda/sattn_bench_cuda "$2/"
  if [ -n "$tbb" ]; then cp -L "$tbb" "$2/"; fi
}
rm -rf "$dest"
copy_runtime "$here" "$dest"
cp build/default/tests/cuda/sattn_test_cuda build/default/tests/cuda/sattn_test_cuda_selection \
  build/default/tests/cuda/sattn_test_cuda_rows "$dest/"
cp tools/compare_cuda.py tools/cuda-ab.sh "$dest/"
if [ -n "$baseline" ]; then
  scratch="$(mktemp -d)"
  old_tree="$scratch/baseline"
  # The worktree goes away however the build ends.
  trap 'git -C "$here" worktree remove --force "$old_tree" 2>/dev/null; rm -rf "$scratch"' EXIT
  git -C "$here" worktree add --detach "$old_tree" "$baseline" >/dev/null
  (cd "$old_tree" && cmake --preset default >/dev/null &&
    cmake --build build/default -j2 --target sattn sattn_backend_cuda sattn_bench_cuda)
  copy_runtime "$old_tree" "$dest/old"
fi
cat <<MSG
Copied to $dest. On the device (run tool, carry [".device-cuda2"]):
  export LD_LIBRARY_PATH=\$PWD/.device-cuda2; .device-cuda2/sattn_test_cuda 2>&1 | tee \$OUT/test.log; \\
  .device-cuda2/sattn_test_cuda_selection 2>&1 | tee -a \$OUT/test.log; .device-cuda2/sattn_test_cuda_rows 2>&1 | tee -a \$OUT/test.log; \\
  python3 .device-cuda2/compare_cuda.py | tee \$OUT/compare.txt
With --baseline: .device-cuda2/cuda-ab.sh | tee \$OUT/ab.txt  (the baseline and this build alternating)
MSG
