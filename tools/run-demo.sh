#!/usr/bin/env bash
# The main demo: installs what is missing, builds the Release preset and runs the CPU benchmark.
#
#   tools/run-demo.sh            # sattn-bench's default run (CPU benchmark)
#   tools/run-demo.sh ARGS...    # ARGS are passed to sattn-bench unchanged
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

tools/install-deps.sh
cmake --preset default
# Only the benchmark and what it links; tools/run-tests.sh builds the rest of the same tree later without redoing it.
cmake --build --preset default --target sattn-bench
exec build/default/tools/sattn-bench "$@"
