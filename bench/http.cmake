# The HTTP client's benchmark (included by bench/CMakeLists.txt): bench_http,
# W6, the HTTP client workload -- 2,000 GETs, at most 100 in flight, against
# the peers' Go server (20 ms per request) in a process of its own, from
# tasks on one loop and from threads.  bench/run.sh builds the server and
# the peers' clients and runs them through the same harness (peer mode).
if("http" IN_LIST CONCUR_LAYERS)
  concur_bench(bench_http)
endif()
