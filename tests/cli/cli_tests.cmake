# tests/cli: the `concur` command, its fetch and tour, run as programs
# (included by tests/CMakeLists.txt): fetch against a service each case
# starts with its knobs; a quick tour; and the full quick tour's table
# checked line by line.  (`concur serve` has its own, tests/service/.)
if(TARGET concur_tool AND TARGET concur_service)
  foreach(t test_cli test_fetch test_tour)
    concur_test(${t} cli/${t}.c 180 LABELS cli)
    target_link_libraries(${t} PRIVATE concur_service)
    target_compile_definitions(${t} PRIVATE
      CONCUR_TOOL="$<TARGET_FILE:concur_tool>"
      CONCUR_README="${PROJECT_SOURCE_DIR}/README.md")
    add_dependencies(${t} concur_tool)
  endforeach()
  # The whole quick tour: every scenario, every model, right answers.
  add_test(NAME cli_tour_quick
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/repo/check_output.sh
            ${CMAKE_CURRENT_SOURCE_DIR}/cli/tour_quick.expect
            $<TARGET_FILE:concur_tool> tour --quick)
  set_tests_properties(cli_tour_quick PROPERTIES TIMEOUT 400 LABELS cli
    ENVIRONMENT "${CONCUR_TEST_ENV}")
  # With the MPI executor the tour runs its MPI ranks model under mpirun:
  # the tour tests then run with the MPI tests' environment (root allowed,
  # the sanitizers' suppressions for OpenMPI itself), and test_tour checks
  # that model's rows.
  if(TARGET concur_mpi_static)
    target_compile_definitions(test_tour PRIVATE CONCUR_TEST_MPI=1)
    set_tests_properties(test_tour cli_tour_quick PROPERTIES
      ENVIRONMENT "${CONCUR_MPI_TEST_ENV}")
  endif()
endif()
