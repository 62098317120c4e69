# The MPI executor (src/mpi/, libconcur_mpi): included by tests/CMakeLists.txt.
# Its tests run under mpirun (rank 0 submits, ranks 1..N-1 serve), so they
# are built only when CMake found MPI; otherwise one test says so and is
# reported as skipped.
if(CONCUR_HAVE_MPI)
  # As root (containers, CI) OpenMPI's mpirun refuses to run without these.
  set(concur_mpi_env ${CONCUR_TEST_ENV} OMPI_ALLOW_RUN_AS_ROOT=1
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1)
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
  # Without mpirun: one rank, no workers.
  add_test(NAME test_mpi_singleton COMMAND test_mpi_pool --singleton)
  set_tests_properties(test_mpi_pool test_mpi_build_check test_mpi_singleton
    PROPERTIES TIMEOUT ${t} LABELS "unit;mpi" ENVIRONMENT "${concur_mpi_env}"
    RUN_SERIAL TRUE)
else()
  add_test(NAME test_mpi_pool COMMAND ${CMAKE_COMMAND} -E echo
           "test_mpi_pool skipped: CMake found no MPI (libconcur_mpi is not built)")
  set_tests_properties(test_mpi_pool PROPERTIES LABELS "unit;mpi"
    SKIP_REGULAR_EXPRESSION "skipped")
endif()
