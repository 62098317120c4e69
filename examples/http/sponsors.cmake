# The sponsors checker of the blog post "Concurrent Programming" (Python):
# 64 pages fetched sequentially, on threads, on processes sharing a dict,
# on threads sharing a locked dict or a queue, on a thread pool, on a
# process pool and as coroutines.  The local service serves the pages in
# process (20-50 ms per answer; two answer 403 and a fixed set mention
# Python), so each report is checked line by line.
include(${CMAKE_CURRENT_LIST_DIR}/net_example.cmake)

add_library(ex_sponsors_common STATIC
  ${CMAKE_CURRENT_LIST_DIR}/sponsors_common.c)
target_link_libraries(ex_sponsors_common PUBLIC ex_net_example
  PRIVATE concur_flags)

foreach(name sponsors_sequential sponsors_threads sponsors_processes
             sponsors_lock sponsors_queue sponsors_thread_pool
             sponsors_process_pool sponsors_async)
  concur_net_example(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c
    LIBS ex_sponsors_common)
endforeach()

concur_example_test(sponsors_sequential 90)
concur_example_test(sponsors_threads 60)
concur_example_test(sponsors_processes 90)
concur_example_test(sponsors_lock 60)
concur_example_test(sponsors_queue 60)
concur_example_test(sponsors_thread_pool 60)
concur_example_test(sponsors_process_pool 120)
concur_example_test(sponsors_async 60)
