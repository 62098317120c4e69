# The subprocess layer (cc_popen, communicate, cc_subprocess_run):
# included by tests/CMakeLists.txt.  Every test checks in its teardown
# that no descriptor leaked and no child is left (tests/subprocess/
# sp_util.h).  The children are runs of child_helper, a small program
# built here without sanitizers (it is the program under test's peer,
# not part of it, and must not print sanitizer noise into its output).
add_executable(child_helper subprocess/child_helper.c)
target_include_directories(child_helper PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_options(child_helper PRIVATE -Wall -Wextra -Werror)
target_compile_definitions(child_helper PRIVATE _GNU_SOURCE)

# concur_subprocess_test(<area> <timeout> <labels...>): the test
# test_subprocess_<area> from subprocess/test_<area>.c (so that
# `ctest -R subprocess` selects the layer's tests, as `-L subprocess`).
function(concur_subprocess_test area timeout)
  set(t test_subprocess_${area})
  concur_test(${t} subprocess/test_${area}.c ${timeout}
              LABELS subprocess ${ARGN})
  target_compile_definitions(${t} PRIVATE
    CHILD_HELPER="$<TARGET_FILE:child_helper>")
  add_dependencies(${t} child_helper)
endfunction()

foreach(area spawn popen communicate run)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/subprocess/test_${area}.c)
    concur_subprocess_test(${area} 60 unit)
  endif()
endforeach()
# It measures the loop's lateness: alone on the CPUs.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/subprocess/test_communicate_loop.c)
  concur_subprocess_test(communicate_loop 60 unit aio)
  set_tests_properties(test_subprocess_communicate_loop PROPERTIES
    RUN_SERIAL TRUE)
endif()
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/subprocess/test_spawn_stress.c)
  concur_subprocess_test(spawn_stress 120 stress)
endif()
