# The `concur` command-line tool: every tools/concur/*.c is part of it
# (main.c dispatches to the commands declared in commands.h).  Included by
# tools/CMakeLists.txt.  The program is built as ${PROJECT_BINARY_DIR}/bin/concur.
file(GLOB concur_tool_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
add_executable(concur_tool ${concur_tool_sources})
set_target_properties(concur_tool PROPERTIES OUTPUT_NAME concur
  RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
target_include_directories(concur_tool PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(concur_tool PRIVATE concur_service concur_static
  concur_flags)
# With the MPI executor (CMake found MPI), the tour's "MPI ranks" model
# (tour_mpi.c) is built in; the command then needs MPI's libraries to run.
if(TARGET concur_mpi_static)
  target_compile_definitions(concur_tool PRIVATE CONCUR_TOUR_MPI=1)
  target_link_libraries(concur_tool PRIVATE concur_mpi_static)
endif()
# `make install` puts the command in <prefix>/bin.
install(TARGETS concur_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# For the tests that run the command (tests/service/): the same program
# over each other request parser found (service.cmake), never installed:
# bin/concur-http-parser, bin/concur-llhttp.  concur_tool_<parser> names
# each one's target, the chosen parser's being concur_tool itself.
foreach(p ${CONCUR_SERVICE_PARSERS})
  string(REPLACE "-" "_" id ${p})
  if(p STREQUAL CONCUR_SERVICE_PARSER)
    set(CONCUR_TOOL_${id} concur_tool CACHE INTERNAL "")
  elseif(CONCUR_TESTS)
    add_executable(concur_tool_${id} ${concur_tool_sources})
    set_target_properties(concur_tool_${id} PROPERTIES OUTPUT_NAME concur-${p}
      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
    target_include_directories(concur_tool_${id} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_link_libraries(concur_tool_${id} PRIVATE concur_service_${id}
      concur_static concur_flags)
    if(TARGET concur_mpi_static)
      target_compile_definitions(concur_tool_${id} PRIVATE CONCUR_TOUR_MPI=1)
      target_link_libraries(concur_tool_${id} PRIVATE concur_mpi_static)
    endif()
    set(CONCUR_TOOL_${id} concur_tool_${id} CACHE INTERNAL "")
  endif()
endforeach()
