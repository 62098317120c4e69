# The blog's Pokemon downloads (web/1_sync.py, 2_async_aiohttp.py,
# 3_threaded.py): the first 20 names from the local service in-process
# (100-200 ms per page, about what pokemondb.net took for the blog), or
# from --base-url (net_example.c, shared with every network example).
# The names are checked; the times are printed, never checked.
include(${CMAKE_CURRENT_LIST_DIR}/net_example.cmake)
add_library(ex_pokemon_common STATIC ${CMAKE_CURRENT_LIST_DIR}/pokemon_common.c)
target_link_libraries(ex_pokemon_common PUBLIC ex_net_example concur_static
  PRIVATE concur_flags)

foreach(name pokemon_sync pokemon_threads pokemon_async)
  concur_example(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
  target_link_libraries(${name} PRIVATE ex_pokemon_common)
endforeach()
# one after the other: in order
concur_example_test(pokemon_sync 60)
# threads and tasks: any order of arrival, the same results list
concur_example_test(pokemon_threads 60 EXPECT pokemon_any_order.expect)
concur_example_test(pokemon_async 60 EXPECT pokemon_any_order.expect)
