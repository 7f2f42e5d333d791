# cmake -DFUZZER=... -DSEEDS=dir -DWORK=dir -DRUNS=n -DSECONDS=s -P run_fuzzer.cmake
# Runs a libFuzzer binary for RUNS inputs (at most SECONDS) from the seed corpus SEEDS. New inputs go to a fresh
# WORK/corpus, never into the source tree; a crashing, leaking or slow input is written to WORK/artifacts.
# Symbolised stacks in sanitizer reports (Debian's clang-19 has no llvm-symbolizer of its own version on the PATH).
if(NOT DEFINED ENV{ASAN_SYMBOLIZER_PATH})
  find_program(symbolizer NAMES llvm-symbolizer-19 llvm-symbolizer PATHS /usr/lib/llvm-19/bin)
  if(symbolizer)
    set(ENV{ASAN_SYMBOLIZER_PATH} "${symbolizer}")
  endif()
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
execute_process(
  COMMAND "${FUZZER}" "${WORK}/corpus" "${SEEDS}" -seed=1 -runs=${RUNS} -max_total_time=${SECONDS} -timeout=20
          -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  file(GLOB artifacts "${WORK}/artifacts/*")
  message(FATAL_ERROR "fuzzer failed (exit status ${status}); reproduce with: ${FUZZER} ${artifacts}")
endif()
