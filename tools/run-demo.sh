#!/usr/bin/env bash
# The main demo: installs what is missing, builds the Release preset and runs the CPU benchmark.
#
#   tools/run-demo.sh            # sattn-bench's default run (every pattern: correctness, time, speedup over dense),
#                                # then tools/compare_cpu.py: the targets' problems against numpy's GEMM rate and,
#                                # when torch is importable, torch's SDPA, measured in the same run
#   tools/run-demo.sh ARGS...    # only sattn-bench, with ARGS passed unchanged
# On a machine with an NVIDIA GPU (nvidia-smi lists one and nvcc is there) the default run is the GPU's instead: the
# cuda backend's benchmark (tests/cuda/bench_cuda.cpp) for prefill and decode shapes, then tools/compare_cuda.py
# against FlexAttention, SDPA flash and cuDNN in the same run when torch with CUDA is importable.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

tools/install-deps.sh
cmake --preset default
if (($# == 0)) && nvidia-smi -L >/dev/null 2>&1; then
  if ! cmake --build --preset default --target sattn_bench_cuda; then
    echo "a GPU is here but the cuda backend did not build (is nvcc installed?): the CPU benchmark instead" >&2
  else
    gpu=1
  fi
fi
if [ "${gpu:-0}" = 1 ]; then
  bench=build/default/tests/cuda/sattn_bench_cuda
  python="${SATTN_COMPARE_PYTHON:-python3}"
  if "${python}" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    exec "${python}" tools/compare_cuda.py --bench "${bench}"
  fi
  echo "torch with CUDA is not importable: libsattn's times only (tools/compare_cuda.py adds the peers)"
  "${bench}"
  exec "${bench}" --decode
fi
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
