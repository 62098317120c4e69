# The local service (`concur serve`, tools/service): included by
# tests/CMakeLists.txt.  The tests talk to it over plain sockets.
if(TARGET concur_service)
  foreach(t routes proto knobs load)
    concur_test(test_service_${t} service/test_service_${t}.c 120
                LABELS unit service)
    target_link_libraries(test_service_${t} PRIVATE concur_service)
  endforeach()
  concur_test(test_service_cli service/test_service_cli.c 60
              LABELS unit service)
  target_link_libraries(test_service_cli PRIVATE concur_service)
  target_compile_definitions(test_service_cli PRIVATE
    CONCUR_TOOL="$<TARGET_FILE:concur_tool>")
  add_dependencies(test_service_cli concur_tool)
endif()
