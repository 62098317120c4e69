# The MPI executor (src/mpi/, libconcur_mpi): included by tests/CMakeLists.txt.
# Its tests run under mpirun (rank 0 submits, ranks 1..N-1 serve), so they
# are built only when CMake found MPI; otherwise one test says so and is
# reported as skipped.
if(CONCUR_HAVE_MPI)
  # CONCUR_MPI_TEST_ENV (CMakeLists.txt): root, oversubscription, ASan.
  set(concur_mpi_env ${CONCUR_MPI_TEST_ENV})
  set(concur_mpi_env_strict ${CONCUR_MPI_TEST_ENV})
  list(REMOVE_ITEM concur_mpi_env_strict OMPI_MCA_rmaps_base_oversubscribe=1)
  list(APPEND concur_mpi_env_strict OMPI_MCA_rmaps_base_oversubscribe=0)
  add_executable(test_mpi_pool mpi/test_mpi_pool.c)
  target_include_directories(test_mpi_pool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(test_mpi_pool PRIVATE concur_mpi_static concur_flags
                        PkgConfig::CMOCKA m)
  math(EXPR t "180 * ${concur_timeout_scale}")
  add_test(NAME test_mpi_pool COMMAND ${CONCUR_MPIEXEC} -n 3 --oversubscribe
           $<TARGET_FILE:test_mpi_pool>)
  # A worker rank that reports another build: rank 0 names it and stops.
  add_test(NAME test_mpi_build_check COMMAND ${CONCUR_MPIEXEC} -n 3
           --oversubscribe -x CONCUR_MPI_TEST_BUILD_ID_RANK=2
           $<TARGET_FILE:test_mpi_pool> --mismatch)
  # Without mpirun: the pool spawns its workers; asked for more than the
  # machine's slots (no oversubscription), it fails with MPI's reason.
  add_test(NAME test_mpi_singleton COMMAND test_mpi_pool --singleton)
  add_test(NAME test_mpi_spawn_fails
           COMMAND test_mpi_pool --singleton --too-many)
  set_tests_properties(test_mpi_pool test_mpi_build_check test_mpi_singleton
    PROPERTIES TIMEOUT ${t} LABELS "unit;mpi" ENVIRONMENT "${concur_mpi_env}"
    RUN_SERIAL TRUE)
  # The same tests with the ranks on two "hosts" (network namespaces
  # joined by a veth pair, TCP between them; scripts/mpi_netns.sh, which
  # falls back to the loopback where namespaces cannot be made).
  add_test(NAME test_mpi_pool_two_hosts
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/mpi_netns.sh -n 3
            $<TARGET_FILE:test_mpi_pool>)
  set_tests_properties(test_mpi_pool_two_hosts PROPERTIES TIMEOUT ${t}
    LABELS "unit;mpi" ENVIRONMENT "${concur_mpi_env}" RUN_SERIAL TRUE
    PASS_REGULAR_EXPRESSION "PASSED  \\] [0-9]+ test"
    FAIL_REGULAR_EXPRESSION "FAILED")
  set_tests_properties(test_mpi_spawn_fails PROPERTIES TIMEOUT ${t}
    LABELS "unit;mpi" RUN_SERIAL TRUE ENVIRONMENT "${concur_mpi_env_strict}")
  # libconcur_mpi exports its three cc_mpi_* functions and nothing else.
  add_test(NAME symbols_hidden_mpi
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/repo/check_symbols.sh
            $<TARGET_FILE:concur_mpi> 3)
  set_tests_properties(symbols_hidden_mpi PROPERTIES TIMEOUT 30 LABELS repo)
else()
  add_test(NAME test_mpi_pool COMMAND ${CMAKE_COMMAND} -E echo
           "test_mpi_pool skipped: CMake found no MPI (libconcur_mpi is not built)")
  set_tests_properties(test_mpi_pool PROPERTIES LABELS "unit;mpi"
    SKIP_REGULAR_EXPRESSION "skipped")
endif()
