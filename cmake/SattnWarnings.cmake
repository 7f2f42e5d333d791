# sattn_harden(target): the project's warning set (errors in CI), hidden visibility and optional sanitizers.
function(sattn_harden target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
                                             -Wcast-align -Wformat=2 -Wundef
                                             $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
    if(SATTN_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
  set_target_properties(${target} PROPERTIES C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON)
  if(SATTN_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${SATTN_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    # GCC's instrumentation makes -Wmaybe-uninitialized report false positives (GCC's manual warns against
    # -Werror with sanitizers), e.g. inside libstdc++'s <regex> that Catch2 includes; the other builds keep it.
    target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
    target_link_options(${target} PRIVATE -fsanitize=${SATTN_SANITIZE})
  endif()
endfunction()
