#!/usr/bin/env bash
# Counts the dynamic instructions one attention run executes on riscv64, under qemu-riscv64 at a chosen VLEN.
#
#   tools/count-insns.sh [--backend=NAME] [--vlen=N] [--runs=N] [--build=DIR] PROBLEM WORDS...
#   tools/count-insns.sh --backend=rvv --vlen=256 b1hq2hk1lq128d64 pattern=dense
#
# sattn-bench (of the riscv64 build, default build/riscv64) runs the problem in perf mode on one thread with
# --compare-dense=no --warm-up=no, once with --reps=1 and once with --reps=1+N (default N = 1). qemu logs every
# instruction it executes (-one-insn-per-tb -d nochain,exec: one "Trace" line per instruction, no chained blocks
# skipping the log); the log goes through a pipe into a counter, never to disk (it is gigabytes). The difference of
# the two counts is N runs: start-up, input generation and plan creation cancel out. qemu's rdinstret returns host
# time in user mode, and the installed qemu has no TCG plugins, hence the log.
# Prints instructions per run and per kept (query, key) pair (kept pairs from the bench's JSON) and the kernel. The
# count varies by a few hundred instructions between identical processes (the bench prints its timings, and their
# digits vary), which --runs=N divides by N.
# --backend: any backend name (default rvv); --vlen: 128 to 1024 (default 256), the vector length qemu emulates.
set -euo pipefail

backend=rvv
vlen=256
runs=1
build=""
words=()
for argument in "$@"; do
  case "${argument}" in
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --backend=*) backend="${argument#*=}" ;;
    --vlen=*) vlen="${argument#*=}" ;;
    --runs=*) runs="${argument#*=}" ;;
    --build=*) build="${argument#*=}" ;;
    --*) echo "count-insns: unknown option '${argument}'" >&2; exit 2 ;;
    *) words+=("${argument}") ;;
  esac
done
[[ "${vlen}" =~ ^[0-9]+$ && "${runs}" =~ ^[1-9][0-9]*$ ]] || { echo "count-insns: --vlen and --runs take integers" >&2; exit 2; }
((${#words[@]} > 0)) || { echo "count-insns: no problem given (see --help)" >&2; exit 2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="${build:-${repo_root}/build/riscv64}/tools/sattn-bench"
[[ -x "${bench}" ]] || { echo "count-insns: ${bench} not found: build the riscv64 preset first" >&2; exit 2; }
qemu=(qemu-riscv64 -L /usr/riscv64-linux-gnu -cpu "rv64,v=true,vlen=${vlen},vext_spec=v1.0")

scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT

# Instructions of one bench process doing reps runs. qemu writes its log to
# descriptor 3, the pipe (-D keeps it buffered; on stderr it would be one write per line); the bench's own output
# goes to a file.
count() {
  local reps="$1" counted
  counted=$({ "${qemu[@]}" -one-insn-per-tb -d nochain,exec -D /dev/fd/3 "${bench}" --mode=perf --threads=1 \
                --compare-dense=no --warm-up=no --backend="${backend}" --reps="${reps}" "${words[*]}" \
                >"${scratch}/bench.out" 2>&1; } 3>&1 | grep -c '^Trace' || true)
  if ! grep -q '1 timed only' "${scratch}/bench.out"; then
    echo "count-insns: the run failed or was not supported:" >&2
    cat "${scratch}/bench.out" >&2
    exit 1
  fi
  echo "${counted}"
}

few=$(count 1)
many=$(count $((1 + runs)))
# The kept pairs and the kernel from one more run without the log (its JSON is not part of the counted runs: the
# digits of the printed timings vary from run to run, and so do the instructions that print them).
"${qemu[@]}" "${bench}" --mode=perf --threads=1 --compare-dense=no --backend="${backend}" --reps=1 \
  --json="${scratch}/bench.json" "${words[*]}" >/dev/null
read -r kept kernel < <(python3 -c '
import json, sys
problem = json.load(open(sys.argv[1]))["problems"][0]
print(problem["performance"]["kept_pairs"], problem["plan"]["backend"] + ":" + problem["plan"]["kernel"])
' "${scratch}/bench.json")
per_run=$(((many - few) / runs))
echo "problem: ${words[*]}"
echo "backend: ${backend} (kernel ${kernel}), VLEN ${vlen}"
echo "instructions per run: ${per_run} (${runs} runs: ${many} - ${few})"
echo "kept pairs per run: ${kept}"
awk -v n="${per_run}" -v k="${kept}" 'BEGIN { printf "instructions per kept pair: %.2f\n", (k > 0 ? n / k : 0) }'
