# The local service (`concur serve`, tools/service): included by
# tests/CMakeLists.txt.  The tests talk to it over plain sockets.
if(TARGET concur_service)
  foreach(t routes proto knobs load)
    concur_test(test_service_${t} service/test_service_${t}.c 120
                LABELS unit service)
    target_link_libraries(test_service_${t} PRIVATE concur_service)
  endforeach()
  # The tests that run the `concur` tool itself: its command line, the
  # service with a failing allocation, and its budgets (memory after a
  # flood is measured in a child `concur serve`).
  concur_test(test_service_cli service/test_service_cli.c 60
              LABELS unit service)
  concur_test(test_service_faults service/test_service_faults.c 120
              LABELS unit service)
  concur_test(test_service_limits service/test_service_limits.c 180
              LABELS unit service)
  foreach(t cli faults limits)
    target_link_libraries(test_service_${t} PRIVATE concur_service)
    target_compile_definitions(test_service_${t} PRIVATE
      CONCUR_TOOL="$<TARGET_FILE:concur_tool>")
    add_dependencies(test_service_${t} concur_tool)
  endforeach()
  # The fault shim the faults test preloads into `concur serve`: not in
  # sanitizer builds, whose own malloc comes first (the test skips there).
  if(CONCUR_SANITIZE STREQUAL "")
    add_library(fail_malloc MODULE service/fail_malloc.c)
    target_link_libraries(fail_malloc PRIVATE concur_flags)
    target_compile_definitions(test_service_faults PRIVATE
      FAIL_MALLOC_SHIM="$<TARGET_FILE:fail_malloc>")
    add_dependencies(test_service_faults fail_malloc)
  endif()
endif()
