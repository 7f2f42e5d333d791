#!/usr/bin/env bash
# Sourced by cuda-ab.sh and cuda-test-builds.sh on the GPU machine, from the folder tools/cuda-device-test.sh filled:
# unpacks its packed variant builds (builds/NAME.tar.xz, once) and names every build's folder. build_names: the
# builds in timing order (old first, the other variants by name, new last); build_dir NAME: that build's folder
# ("new" is the folder itself).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_names=()
for packed in "$here"/builds/*.tar.xz; do
  [ -e "$packed" ] || continue
  name="$(basename "$packed" .tar.xz)"
  if [ ! -x "$here/builds/$name/sattn_bench_cuda" ]; then
    xz -dc "$packed" | tar -C "$here/builds" -xf - || { echo "cuda-builds: cannot unpack $packed" >&2; exit 1; }
  fi
  if [ "$name" = old ]; then build_names=(old "${build_names[@]}"); else build_names+=("$name"); fi
done
build_names+=(new)

build_dir() {
  if [ "$1" = new ]; then echo "$here"; else echo "$here/builds/$1"; fi
}
