# tools/count-insns.sh on a tiny problem (rvv, 64 stacked query rows, so VLEN 512 fills vectors that VLEN 128 needs
# four of): each count must be positive and the one at VLEN 512 smaller than the one at VLEN 128.
#   cmake -DCOUNTER=.../count-insns.sh -DBUILD=<riscv64 build dir> -P count_insns_test.cmake
set(problem b1hq2hk1lq32d16 pattern=dense)
foreach(vlen 128 512)
  execute_process(COMMAND ${COUNTER} --build=${BUILD} --backend=rvv --vlen=${vlen} --runs=1 ${problem}
                  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE errors)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "count-insns.sh at VLEN ${vlen} failed (${status}):\n${output}${errors}")
  endif()
  if(NOT output MATCHES "instructions per run: ([0-9]+)" OR CMAKE_MATCH_1 LESS_EQUAL 0)
    message(FATAL_ERROR "count-insns.sh at VLEN ${vlen}: no positive count in:\n${output}")
  endif()
  set(count_${vlen} ${CMAKE_MATCH_1})
  if(NOT output MATCHES "kept pairs per run: 2048\n" OR NOT output MATCHES "kernel rvv:rvv_flash_m[0-9]+_vlen${vlen}_fp32")
    message(FATAL_ERROR "count-insns.sh at VLEN ${vlen}: unexpected kept pairs or kernel in:\n${output}")
  endif()
  message(STATUS "VLEN ${vlen}: ${count_${vlen}} instructions per run")
endforeach()
if(NOT count_512 LESS count_128)
  message(FATAL_ERROR "rvv at VLEN 512 executed ${count_512} instructions per run, not fewer than ${count_128} at 128")
endif()
