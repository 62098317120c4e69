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

# concur_net_example_test_fails(<target> <timeout> [ARGS ...]): the test
#   example_<target> for a run that must end with status 1 (an error
#   re-raised in main, as Python's uncaught exception ends a program),
#   through exits_1.sh; its output is checked against <target>.expect.  A
#   sanitizer's report must not pass for that status: ASan and UBSan exit
#   with 99 there (TSan's own status is 66 already).
if(NOT TARGET ex_exits_1)
  add_executable(ex_exits_1 IMPORTED)
  set_target_properties(ex_exits_1 PROPERTIES
    IMPORTED_LOCATION ${CMAKE_CURRENT_LIST_DIR}/exits_1.sh)
endif()
function(concur_net_example_test_fails target timeout)
  cmake_parse_arguments(E "" "" "ARGS" ${ARGN})
  concur_example_test(ex_exits_1 ${timeout} NAME ${target}
    EXPECT ${target}.expect ARGS $<TARGET_FILE:${target}> ${E_ARGS})
  if(TEST example_${target})
    set(env ${CONCUR_TEST_ENV})
    list(TRANSFORM env APPEND ":exitcode=99" REGEX "^(ASAN|UBSAN)_OPTIONS=")
    set_tests_properties(example_${target} PROPERTIES ENVIRONMENT "${env}")
  endif()
endfunction()
