# The process pool (src/process/pool*.c, fnref.c, wire.c, errcodec.c):
# included by tests/CMakeLists.txt.  Workers are fresh runs of the test
# executable itself, so every test here also exercises the start-up hook.
concur_test(test_process_pool process/test_process_pool.c 240
            LABELS unit stress process)
concur_test(test_pool_failures process/test_pool_failures.c 180
            LABELS unit stress process)
# (it writes bogus frames with the wire format of src/process/wire.h)
target_include_directories(test_pool_failures PRIVATE ${PROJECT_SOURCE_DIR}/src)

# test_fnref: task functions of the program, of a linked shared library
# and of one dlopen'ed at run time; pointers that are no task function.
add_library(pool_testlib SHARED process/pool_testlib.c)
add_library(pool_dynlib SHARED process/pool_testlib.c)
foreach(lib pool_testlib pool_dynlib)
  target_link_libraries(${lib} PRIVATE concur_flags)
endforeach()
target_compile_definitions(pool_dynlib PRIVATE POOL_DYNLIB_BUILD=1)
concur_test(test_fnref process/test_fnref.c 60 LABELS unit process)
target_link_libraries(test_fnref PRIVATE pool_testlib ${CMAKE_DL_LIBS})
target_include_directories(test_fnref PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(test_fnref PRIVATE
  POOL_DYNLIB="$<TARGET_FILE:pool_dynlib>")
add_dependencies(test_fnref pool_dynlib)

# test_pool_wire: the messages and the error chains on their own.
concur_test(test_pool_wire process/test_pool_wire.c 30 LABELS unit process)
target_include_directories(test_pool_wire PRIVATE ${PROJECT_SOURCE_DIR}/src)
