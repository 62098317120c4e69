# The course notes' download_site over 160 URLs ([jython, dice] * 80): a
# thread pool of 5 with a session per thread, coroutines gathered, and a
# process pool with an initializer.  Each runs against the local service
# in-process (10-30 ms per page) or --base-url, prints an indicator per
# page and "Downloaded 160 in ... seconds".
add_library(ex_download_site_common STATIC
  ${CMAKE_CURRENT_LIST_DIR}/download_site_common.c)
target_link_libraries(ex_download_site_common PUBLIC ex_pokemon_common
  PRIVATE concur_flags)

foreach(name download_site_threads download_site_async download_site_processes)
  concur_example(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
  target_link_libraries(${name} PRIVATE ex_download_site_common)
  concur_example_test(${name} 90)
endforeach()
