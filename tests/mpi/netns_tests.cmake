# The MPI environment: tests/mpi/mpi_hello.c run through
# scripts/mpi_netns.sh, with its ranks on two "hosts" (network namespaces
# joined by a veth pair, TCP between them: mpi_netns_hello) and on this
# host over TCP on the loopback (the harness's fallback, forced with
# CC_MPI_NETNS=off: mpi_loopback_hello).  Only where CMake finds MPI; where
# it does not, mpi_netns_hello says why and counts as skipped.
find_package(MPI COMPONENTS C)
if(MPI_C_FOUND)
  add_executable(mpi_hello ${CMAKE_CURRENT_SOURCE_DIR}/mpi/mpi_hello.c)
  target_link_libraries(mpi_hello PRIVATE MPI::MPI_C concur_flags)
  add_test(NAME mpi_netns_hello
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/mpi_netns.sh -n 4 $<TARGET_FILE:mpi_hello>)
  add_test(NAME mpi_loopback_hello
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/mpi_netns.sh -n 3 $<TARGET_FILE:mpi_hello>)
  math(EXPR t "60 * ${concur_timeout_scale}")
  # The summary line: rank 0 got every answer (the exit status says so
  # too; this also catches a harness that ran nothing).
  set_tests_properties(mpi_netns_hello mpi_loopback_hello PROPERTIES
    TIMEOUT ${t} LABELS mpi
    PASS_REGULAR_EXPRESSION "mpi_hello: [0-9]+ ranks on [0-9]+ hosts, every exchange answered")
  set_tests_properties(mpi_netns_hello PROPERTIES
    ENVIRONMENT "${CONCUR_TEST_ENV}")
  set_tests_properties(mpi_loopback_hello PROPERTIES
    ENVIRONMENT "${CONCUR_TEST_ENV};CC_MPI_NETNS=off")
else()
  add_test(NAME mpi_netns_hello COMMAND sh -c
    "echo 'mpi_netns_hello: skipped: CMake found no MPI (Debian: openmpi-bin libopenmpi-dev; scripts/install-deps.sh installs them)'; exit 77")
  set_tests_properties(mpi_netns_hello PROPERTIES SKIP_RETURN_CODE 77
    TIMEOUT 10 LABELS mpi)
endif()
