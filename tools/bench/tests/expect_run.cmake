# cmake -DCOMMAND="prog|arg|..." -DEXPECT_EXIT=N [-DEXPECT_OUTPUT=regex] [-DJSON_FILE=path|STDOUT]
#       [-DJSON_ARRAY=member -DJSON_COUNT=N] -P expect_run.cmake
# Runs COMMAND (arguments separated by '|', since ctest would split ';'), checks its exit code and that its output
# (stdout and stderr) matches EXPECT_OUTPUT. With JSON_FILE (a file the command writes, or STDOUT for its standard
# output) the JSON must parse and its top-level array JSON_ARRAY must hold JSON_COUNT elements (at least one when
# JSON_COUNT is not given).
string(REPLACE "|" ";" command "${COMMAND}")
if(JSON_FILE AND NOT JSON_FILE STREQUAL "STDOUT")
  file(REMOVE "${JSON_FILE}")
endif()
execute_process(COMMAND ${command} RESULT_VARIABLE exit_code OUTPUT_VARIABLE standard_output
                ERROR_VARIABLE standard_error)
set(output "${standard_output}${standard_error}")
message("${output}")
if(NOT "${exit_code}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "exit code ${exit_code}, expected ${EXPECT_EXIT}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT output MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "the output does not match '${EXPECT_OUTPUT}'")
endif()
if(JSON_FILE)
  if(JSON_FILE STREQUAL "STDOUT")
    set(json "${standard_output}")
  else()
    file(READ "${JSON_FILE}" json)
  endif()
  string(JSON count ERROR_VARIABLE json_error LENGTH "${json}" ${JSON_ARRAY})
  if(json_error)
    message(FATAL_ERROR "${JSON_FILE}: ${json_error}")
  endif()
  if(DEFINED JSON_COUNT AND NOT count EQUAL JSON_COUNT)
    message(FATAL_ERROR "${JSON_FILE}: '${JSON_ARRAY}' holds ${count} elements, expected ${JSON_COUNT}")
  elseif(count LESS 1)
    message(FATAL_ERROR "${JSON_FILE}: '${JSON_ARRAY}' is empty")
  endif()
endif()
