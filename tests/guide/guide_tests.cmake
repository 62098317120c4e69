# docs/python.md, the Python -> concur guide: every C snippet in it is a
# complete program, compiled here with the project's flags and run as the
# ctest guide_<name> (label guide), which checks its exit status and, when
# the guide shows a "Prints:" block after it, its whole standard output.
# scripts/guide_snippets.py extracts them at configure time; editing the
# guide reconfigures.  guide_snippets checks that every ```c block of the
# guide is one of the snippets built here (a malformed marker cannot drop a
# snippet silently); guide_snippets_selftest plants such faults.
set(concur_guide ${PROJECT_SOURCE_DIR}/docs/python.md)
set(concur_guide_tool ${PROJECT_SOURCE_DIR}/scripts/guide_snippets.py)
set(concur_guide_dir ${CMAKE_CURRENT_BINARY_DIR}/guide)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${concur_guide} ${concur_guide_tool})
execute_process(
  COMMAND ${Python3_EXECUTABLE} ${concur_guide_tool} extract ${concur_guide}
          ${concur_guide_dir}
  OUTPUT_VARIABLE concur_guide_names
  ERROR_VARIABLE concur_guide_problems
  RESULT_VARIABLE concur_guide_rc)
if(NOT concur_guide_rc EQUAL 0)
  message(FATAL_ERROR "guide_snippets.py extract failed: ${concur_guide_problems}")
endif()
if(NOT concur_guide_problems STREQUAL "")
  # The build goes on; the test guide_snippets fails on the same problems.
  message(WARNING "docs/python.md: ${concur_guide_problems}")
endif()

list(LENGTH concur_guide_names concur_guide_count)
foreach(name IN LISTS concur_guide_names)
  add_executable(guide_${name} ${concur_guide_dir}/${name}.c)
  target_link_libraries(guide_${name} PRIVATE concur_static concur_flags)
  set_target_properties(guide_${name} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${concur_guide_dir})
  if(EXISTS ${concur_guide_dir}/${name}.expect)
    set(expect ${concur_guide_dir}/${name}.expect)
  else()
    set(expect -)
  endif()
  add_test(NAME guide_${name}
    COMMAND ${Python3_EXECUTABLE} ${concur_guide_tool} run ${expect}
            $<TARGET_FILE:guide_${name}>)
  math(EXPR t "60 * ${concur_timeout_scale}")
  set_tests_properties(guide_${name} PROPERTIES TIMEOUT ${t} LABELS guide
    ENVIRONMENT "${CONCUR_TEST_ENV}")
endforeach()

add_test(NAME guide_snippets
  COMMAND ${Python3_EXECUTABLE} ${concur_guide_tool} check ${concur_guide}
          ${concur_guide_count})
add_test(NAME guide_snippets_selftest
  COMMAND ${Python3_EXECUTABLE} ${concur_guide_tool} --self-test)
set_tests_properties(guide_snippets guide_snippets_selftest PROPERTIES
  TIMEOUT 60 LABELS "guide;repo")
