# What the rates_* and sponsors_* examples share (net_example.c: the
# --base-url option or the local service in-process, thread start/join),
# included by rates.cmake and sponsors.cmake, whichever comes first.
include_guard(GLOBAL)

add_library(ex_net_example STATIC ${CMAKE_CURRENT_LIST_DIR}/net_example.c)
target_include_directories(ex_net_example PUBLIC
  ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/tools/service)
target_link_libraries(ex_net_example PUBLIC concur_service concur_static
  PRIVATE concur_flags)

# concur_net_example(<name> <sources...> [LIBS libs...]): an example that
# links the shared part and the local service.
function(concur_net_example name)
  cmake_parse_arguments(N "" "" "LIBS" ${ARGN})
  concur_example(${name} ${N_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ex_net_example ${N_LIBS})
endfunction()

# concur_net_example_test_fails(<target> <timeout> [NAME n] [EXPECT f]
#                               [ARGS ...]): concur_example_test for a run
#   that must end with status 1 (an error re-raised in main, as Python's
#   uncaught exception ends a program); its output is checked the same way.
function(concur_net_example_test_fails target timeout)
  cmake_parse_arguments(E "" "NAME;EXPECT" "ARGS" ${ARGN})
  if(NOT CONCUR_TESTS)
    return()
  endif()
  if(NOT E_NAME)
    set(E_NAME ${target})
  endif()
  if(NOT E_EXPECT)
    set(E_EXPECT ${target}.expect)
  endif()
  set(t ${timeout})
  if(NOT CONCUR_SANITIZE STREQUAL "")
    math(EXPR t "${timeout} * 4")
  endif()
  # A sanitizer's report must not pass for the expected status 1: ASan
  # and UBSan exit with 99 here (TSan's own status is 66 already).
  set(env ${CONCUR_TEST_ENV})
  list(TRANSFORM env APPEND ":exitcode=99" REGEX "^(ASAN|UBSAN)_OPTIONS=")
  add_test(NAME example_${E_NAME}
    COMMAND ${PROJECT_SOURCE_DIR}/tests/tools/check_output.sh
            ${CMAKE_CURRENT_LIST_DIR}/${E_EXPECT}
            /bin/sh -c "\"$0\" \"$@\"; test $? -eq 1"
            $<TARGET_FILE:${target}> ${E_ARGS})
  set_tests_properties(example_${E_NAME} PROPERTIES TIMEOUT ${t}
    LABELS example ENVIRONMENT "${env}")
endfunction()
