#!/usr/bin/env bash
# The main demo: installs what is missing, builds the Release preset and runs the CPU benchmark.
#
#   tools/run-demo.sh            # sattn-bench's default run (every pattern: correctness, time, speedup over dense),
#                                # then tools/compare_cpu.py: the targets' problems against numpy's GEMM rate and,
#                                # when torch is importable, torch's SDPA, measured in the same run
#   tools/run-demo.sh ARGS...    # only sattn-bench, with ARGS passed unchanged
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

tools/install-deps.sh
cmake --preset default
# Only the benchmark and what it links; tools/run-tests.sh builds the rest of the same tree later without redoing it.
cmake --build --preset default --target sattn-bench
if (($# > 0)); then
  exec build/default/tools/sattn-bench "$@"
fi
build/default/tools/sattn-bench
echo
# The checkout's library and package; torch is used where the venv (or the system, via SATTN_COMPARE_PYTHON) has it.
SATTN_LIBRARY="${repo_root}/build/default/src/libsattn.so" "${SATTN_COMPARE_PYTHON:-.venv/bin/python}" \
  tools/compare_cpu.py
