# tests/docs: the reference and the man pages are complete and well formed
# (when they are built: cmake/docs.cmake, CONCUR_DOCS).
if(TARGET docs)
  add_test(NAME docs_man_pages
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/check_man_pages.sh
            ${PROJECT_BINARY_DIR}/docs $<TARGET_FILE:concur>
            ${PROJECT_SOURCE_DIR}/include)
  set_tests_properties(docs_man_pages PROPERTIES TIMEOUT 120 LABELS repo)
  if(TARGET concur_tool)
    add_test(NAME docs_concur1
      COMMAND ${CMAKE_CURRENT_LIST_DIR}/check_concur1.sh
              ${PROJECT_BINARY_DIR}/docs/man/man1/concur.1
              $<TARGET_FILE:concur_tool>)
    set_tests_properties(docs_concur1 PROPERTIES TIMEOUT 60 LABELS repo)
  endif()
endif()
