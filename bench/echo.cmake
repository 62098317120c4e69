# The streams benchmark (included by bench/CMakeLists.txt): bench_echo, W5,
# the TCP echo workload -- concur's TCP echo server, as tasks and as
# threads, under the peers' own load client (w5_echo_client, a copy of
# their client.c in peers/w5_echo/), the server in a process of its own.
# bench/run.sh measures the peers' servers with the same harness.
if("net" IN_LIST CONCUR_LAYERS)
  concur_bench(bench_echo)
  # The client is the peers' code, built as their harness builds it (plain
  # -O2, without our warning flags).
  add_executable(w5_echo_client ${CMAKE_CURRENT_SOURCE_DIR}/peers/w5_echo/client.c)
  target_compile_definitions(w5_echo_client PRIVATE _GNU_SOURCE)
  target_compile_options(w5_echo_client PRIVATE -O2)
  set_target_properties(w5_echo_client PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
  add_dependencies(bench_echo w5_echo_client)
endif()
