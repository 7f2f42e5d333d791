#!/usr/bin/env bash
# Builds the cuda backend, its tests and benchmark here (the default preset), copies what a run on the GPU machine
# needs into <main checkout>/.device-cuda2/ (git-ignored there: the device tool ships the main checkout plus carried
# ignored folders) and prints the command to run there.
# Usage: tools/cuda-device-test.sh [--baseline GIT-REF] [--variant NAME=GIT-REF]... [main checkout]; the main checkout
# defaults to the one whose .git this worktree shares. Each --variant also builds the library, the plugin,
# sattn_bench_cuda and the cuda test programs at GIT-REF (in a temporary worktree) and packs them, xz-compressed, as
# .device-cuda2/builds/NAME.tar.xz (a build is ~26 MB unpacked and ~4 MB packed: the carry holds 64 MiB), for
# tools/cuda-ab.sh to time side by side with this build and tools/cuda-test-builds.sh to test. --baseline REF is
# --variant old=REF: the build cuda-ab.sh times first. Variants packed by an earlier run stay unless rebuilt (delete
# .device-cuda2/builds/NAME.tar.xz to drop one).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) variants+=("old=${2:?--baseline needs a git ref}"); shift 2 ;;
    --variant) variants+=("${2:?--variant needs NAME=GIT-REF}"); shift 2 ;;
    *) break ;;
  esac
done
for variant in "${variants[@]}"; do
  name="${variant%%=*}"
  if [[ "$variant" != *=* || ! "$name" =~ ^[A-Za-z0-9_-]+$ || "$name" = new || -z "${variant#*=}" ]]; then
    echo "cuda-device-test: --variant wants NAME=GIT-REF with NAME of letters, digits, - or _ (not 'new'), got" \
      "'$variant'" >&2
    exit 2
  fi
  git -C "$here" rev-parse --verify --quiet "${variant#*=}^{commit}" >/dev/null ||
    { echo "cuda-device-test: '${variant#*=}' (variant $name) names no commit" >&2; exit 2; }
done
main="${1:-$(dirname "$(git -C "$here" rev-parse --path-format=absolute --git-common-dir)")}"
dest="$main/.device-cuda2"
targets=(sattn sattn_backend_cuda sattn_test_cuda sattn_test_cuda_selection sattn_test_cuda_rows sattn_bench_cuda)
tests=(sattn_test_cuda sattn_test_cuda_selection sattn_test_cuda_rows)
cd "$here"
cmake --preset default >/dev/null
cmake --build build/default -j2 --target "${targets[@]}"
# awk reads all of ldconfig's output: leaving early would fail the pipe (SIGPIPE) under pipefail.
tbb="$(ldconfig -p | awk '/libtbb\.so\.12 / && !found {found = $NF} END {print found}')"
# What a run on the GPU machine needs, from a build tree into a folder: the library, the plugin, oneTBB, the
# benchmark and the test programs.
copy_runtime() {
  mkdir -p "$2"
  cp -P "$1"/build/default/src/libsattn.so* "$1"/build/default/src/libsattn-backend-cuda.so \
    "$1"/build/default/tests/cuda/sattn_bench_cuda "$2/"
  for test in "${tests[@]}"; do cp "$1/build/default/tests/cuda/$test" "$2/"; done
  if [ -n "$tbb" ]; then cp -L "$tbb" "$2/"; fi
}
# This build replaces the last one; packed variants of earlier runs stay (listed below) unless rebuilt under their
# name, so that a run can add one variant to those already packed.
find "$dest" -mindepth 1 -maxdepth 1 ! -name builds -exec rm -rf {} + 2>/dev/null || true
copy_runtime "$here" "$dest"
cp tools/compare_cuda.py tools/cuda-ab.sh tools/cuda-builds.sh tools/cuda-profile.sh tools/cuda-test-builds.sh "$dest/"
if [ ${#variants[@]} -gt 0 ]; then
  scratch="$(mktemp -d)"
  # The worktrees go away however the builds end. A tree already removed is no failure: under errexit the trap's
  # failing command would otherwise become the script's status.
  trap 'for tree in "$scratch"/tree-*; do git -C "$here" worktree remove --force "$tree" 2>/dev/null || true; done
rm -rf "$scratch"' EXIT
  mkdir -p "$dest/builds"
  for variant in "${variants[@]}"; do
    name="${variant%%=*}"
    tree="$scratch/tree-$name"
    echo "cuda-device-test: building variant $name (${variant#*=})"
    git -C "$here" worktree add --detach "$tree" "${variant#*=}" >/dev/null
    (cd "$tree" && cmake --preset default >/dev/null && cmake --build build/default -j2 --target "${targets[@]}")
    copy_runtime "$tree" "$scratch/$name"
    git -C "$tree" rev-parse HEAD >"$scratch/$name/REVISION"
    tar -C "$scratch" -cf - "$name" | xz -T2 -6 >"$dest/builds/$name.tar.xz"
    git -C "$here" worktree remove --force "$tree"
    rm -rf "${scratch:?}/$name"
  done
fi
for packed in "$dest"/builds/*.tar.xz; do
  [ -e "$packed" ] || continue
  echo "packed variant $(basename "$packed" .tar.xz): $(xz -dc "$packed" | tar -xOf - --wildcards '*/REVISION' 2>/dev/null)"
done
cat <<MSG
Copied to $dest. On the device (run tool, carry [".device-cuda2"]):
  export LD_LIBRARY_PATH=\$PWD/.device-cuda2; .device-cuda2/cuda-test-builds.sh \$OUT new; \\
  python3 .device-cuda2/compare_cuda.py | tee \$OUT/compare.txt
With variants: .device-cuda2/cuda-ab.sh | tee \$OUT/ab.txt (every build and this one, alternating), and
  .device-cuda2/cuda-test-builds.sh \$OUT NAME... (their test programs); .device-cuda2/cuda-profile.sh \$OUT/prof
  "B H L D" PROBLEM [NAME...] (Nsight Compute on one problem's kernel, each build)
MSG
