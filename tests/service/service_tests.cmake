# The local service (`concur serve`, tools/service): included by
# tests/CMakeLists.txt.  The tests talk to it over plain sockets.  Each
# runs once per request parser the service was built with (service.cmake:
# llhttp, http-parser), as test_service_<name>_llhttp and
# test_service_<name>_http_parser: the same requests, the same answers
# expected.  A parser not found at configure time has no tests.
if(TARGET concur_service)
  foreach(p llhttp http-parser)
    if(NOT p IN_LIST CONCUR_SERVICE_PARSERS)
      message(STATUS "concur serve: no service tests on ${p} (not found)")
    endif()
  endforeach()
  foreach(p ${CONCUR_SERVICE_PARSERS})
    string(REPLACE "-" "_" id ${p})
    set(lib concur_service_${id})
    set(tool ${CONCUR_TOOL_${id}})
    foreach(t routes proto knobs load)
      concur_test(test_service_${t}_${id} service/test_service_${t}.c 120
                  LABELS unit service)
      target_link_libraries(test_service_${t}_${id} PRIVATE ${lib})
    endforeach()
    # The tests that run the `concur` tool itself (built over the same
    # parser): its command line, the service with a failing allocation,
    # and its budgets (memory after a flood is measured in a child
    # `concur serve`).
    concur_test(test_service_cli_${id} service/test_service_cli.c 60
                LABELS unit service)
    concur_test(test_service_faults_${id} service/test_service_faults.c 120
                LABELS unit service)
    concur_test(test_service_limits_${id} service/test_service_limits.c 180
                LABELS unit service)
    foreach(t cli faults limits)
      target_link_libraries(test_service_${t}_${id} PRIVATE ${lib})
      target_compile_definitions(test_service_${t}_${id} PRIVATE
        CONCUR_TOOL="$<TARGET_FILE:${tool}>")
      add_dependencies(test_service_${t}_${id} ${tool})
    endforeach()
    # The fault shim the faults test preloads into `concur serve`: not in
    # sanitizer builds, whose own malloc comes first (the test skips there).
    if(CONCUR_SANITIZE STREQUAL "")
      if(NOT TARGET fail_malloc)
        add_library(fail_malloc MODULE service/fail_malloc.c)
        target_link_libraries(fail_malloc PRIVATE concur_flags)
      endif()
      target_compile_definitions(test_service_faults_${id} PRIVATE
        FAIL_MALLOC_SHIM="$<TARGET_FILE:fail_malloc>")
      add_dependencies(test_service_faults_${id} fail_malloc)
    endif()
  endforeach()
  # The target splitter both parsers share, against http-parser's own.
  if(TARGET http_parser)
    concur_test(test_service_target service/test_service_target.c 60
                LABELS unit service)
    target_link_libraries(test_service_target PRIVATE
      concur_service_http_parser)
  endif()
endif()
