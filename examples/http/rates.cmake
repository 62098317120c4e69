# The exchange-rate examples of Expert Python Programming, ch. 6: the same
# five requests synchronously, on threads, on a hand-made pool with one and
# two queues, with errors, throttled, on a process pool and as coroutines
# (with and without a thread pool for the blocking client).  Each talks to
# the local service in-process (20-50 ms per answer), whose rates are fixed,
# so the matrix is checked exactly; times are printed, never checked.
include(${CMAKE_CURRENT_LIST_DIR}/net_example.cmake)
# cJSON: the `cjson` target of the local service's fragment, or Debian's.
if(NOT TARGET cjson)
  find_package(cJSON CONFIG REQUIRED)
endif()

add_library(ex_rates_common STATIC
  ${CMAKE_CURRENT_LIST_DIR}/rates_common.c
  ${CMAKE_CURRENT_LIST_DIR}/rates_queues.c)
target_link_libraries(ex_rates_common PUBLIC ex_net_example cjson
  PRIVATE concur_flags)

foreach(name rates_sync rates_threads rates_pool rates_two_queues
             rates_throttle rates_processes rates_async rates_async_pool)
  concur_net_example(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c
    LIBS ex_rates_common)
endforeach()
# multiprocessing.dummy's point: the same program on a thread or a process
# pool, chosen by a flag; both runs print the same matrix.
concur_net_example(pool_swap ${CMAKE_CURRENT_LIST_DIR}/pool_swap.c
  LIBS ex_rates_common)
concur_net_example(rates_errors ${CMAKE_CURRENT_LIST_DIR}/rates_errors.c
  LIBS ex_rates_common)

# The matrix in the order of the bases (sync, process pool, coroutines).
concur_example_test(rates_sync 60 EXPECT rates_ordered.expect)
concur_example_test(rates_processes 90 EXPECT rates_ordered.expect)
concur_example_test(rates_async 60 EXPECT rates_ordered.expect)
concur_example_test(rates_async_pool 60 EXPECT rates_ordered.expect)
concur_example_test(pool_swap 60 NAME pool_swap_threads
  EXPECT pool_swap.expect ARGS --threads)
concur_example_test(pool_swap 90 NAME pool_swap_processes
  EXPECT pool_swap.expect ARGS --processes)
# The matrix in the order the answers came (threads and the queues).
concur_example_test(rates_threads 60 EXPECT rates_any_order.expect)
concur_example_test(rates_pool 60 EXPECT rates_any_order.expect)
concur_example_test(rates_two_queues 60 EXPECT rates_any_order.expect)
# Ten requests a second: the five take about 0.5 s.
concur_example_test(rates_throttle 60)
# Every answer a 500: the first error comes back to main, which re-raises it.
concur_net_example_test_fails(rates_errors 60 ARGS --error-rate 1)
