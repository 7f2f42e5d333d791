#!/usr/bin/env bash
# Builds and tests libsattn in each configuration of CMakePresets.json: configure, build (-j2), ctest.
#
#   tools/run-tests.sh                 # default, asan, riscv64, fuzz (the full suite CI runs)
#   tools/run-tests.sh default asan    # only those, in the order given
#
# default: native Release; C++ suites, C99 test and Python tests.   debug: native Debug (not in the full suite).
# asan: AddressSanitizer + UBSan with leak checking.                riscv64: clang-19 cross build, tests under qemu.
# fuzz: clang-19 libFuzzer + ASan + UBSan over the C API, a fixed 200000 inputs (tests/fuzz).
# A failed configuration does not stop the others; a summary line per configuration is printed at the end and the
# exit status is non-zero when any failed.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}" || exit 1

known_configs=(default debug asan riscv64 fuzz)
full_suite=(default asan riscv64 fuzz)

usage() {
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  echo "configurations: ${known_configs[*]}"
}

is_known_config() {
  local candidate="$1" known
  for known in "${known_configs[@]}"; do
    [[ "${candidate}" == "${known}" ]] && return 0
  done
  return 1
}

selected_configs=()
for argument in "$@"; do
  case "${argument}" in
    -h | --help) usage; exit 0 ;;
    *)
      if ! is_known_config "${argument}"; then
        echo "run-tests: unknown configuration '${argument}'" >&2
        usage >&2
        exit 2
      fi
      selected_configs+=("${argument}")
      ;;
  esac
done
((${#selected_configs[@]} > 0)) || selected_configs=("${full_suite[@]}")

tools/install-deps.sh || { echo "run-tests: tools/install-deps.sh failed" >&2; exit 1; }

summary_lines=()
any_failed=0

# Runs one configuration's stages in order and stops at the first failing one; the later ones would only fail too.
run_config() {
  local config="$1" stage started timings="" outcome="PASS"
  local -A stage_command=(
    [configure]="cmake --preset ${config}"
    [build]="cmake --build --preset ${config}"
    [test]="ctest --preset ${config}"
  )
  for stage in configure build test; do
    echo
    echo "=== ${config}: ${stage} (${stage_command[${stage}]})"
    started=${SECONDS}
    ${stage_command[${stage}]}
    local status=$?
    timings+="${timings:+, }${stage} $((SECONDS - started))s"
    if ((status != 0)); then
      outcome="FAIL at ${stage}"
      break
    fi
  done
  summary_lines+=("$(printf '%-8s %-16s %s' "${config}" "${outcome}" "${timings}")")
  [[ "${outcome}" == PASS ]] || any_failed=1
}

suite_started=${SECONDS}
for config in "${selected_configs[@]}"; do
  run_config "${config}"
done

echo
echo "=== summary ($((SECONDS - suite_started))s in all)"
printf '%s\n' "${summary_lines[@]}"
exit "${any_failed}"
