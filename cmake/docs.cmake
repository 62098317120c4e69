# docs.cmake - the reference: HTML and man pages, made by Doxygen from the
# public headers' comments (docs/reference/Doxyfile.in, through
# scripts/doc_filter.py), plus the hand-written concur(1) of the tool.
#
# Target `docs` (part of ALL when CONCUR_DOCS is on):
#   <build>/docs/html/index.html     the HTML reference
#   <build>/docs/man/man3/*.3        concur(3), concur-<layer>(3), a link per
#                                    function (cmake/man_pages.cmake)
#   <build>/docs/man/man1/concur.1   the tool's page (docs/man/concur.1.in)
# Installed to <mandir>/man1, <mandir>/man3 and <docdir>/html.
#
# CONCUR_DOCS=AUTO (default) builds them when Doxygen and Python are there
# and says so when they are not; ON requires them; OFF skips them.
set(CONCUR_DOCS AUTO CACHE STRING "build the HTML reference and man pages: AUTO, ON or OFF")
set_property(CACHE CONCUR_DOCS PROPERTY STRINGS AUTO ON OFF)

if(CONCUR_DOCS)
  find_package(Doxygen)
  find_package(Python3 COMPONENTS Interpreter)
  if(NOT DOXYGEN_FOUND OR NOT Python3_Interpreter_FOUND)
    if(CONCUR_DOCS STREQUAL "AUTO")
      message(STATUS "concur: no Doxygen or Python: the reference and man "
                     "pages are not built (apt-get install doxygen python3)")
      set(concur_docs_build OFF)
    else()
      message(FATAL_ERROR "CONCUR_DOCS=ON needs Doxygen and Python 3")
    endif()
  else()
    set(concur_docs_build ON)
  endif()
else()
  set(concur_docs_build OFF)
endif()

if(concur_docs_build)
  set(CONCUR_DOCS_OUT ${PROJECT_BINARY_DIR}/docs)
  configure_file(${PROJECT_SOURCE_DIR}/docs/reference/Doxyfile.in
                 ${CONCUR_DOCS_OUT}/Doxyfile @ONLY)
  configure_file(${PROJECT_SOURCE_DIR}/docs/man/concur.1.in
                 ${CONCUR_DOCS_OUT}/man/man1/concur.1 @ONLY)
  file(GLOB concur_public_headers CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/include/concur.h
       ${PROJECT_SOURCE_DIR}/include/concur/*.h)
  add_custom_command(
    OUTPUT ${CONCUR_DOCS_OUT}/docs.stamp
    COMMAND ${CMAKE_COMMAND} -E remove_directory ${CONCUR_DOCS_OUT}/html
    COMMAND ${CMAKE_COMMAND} -E remove_directory ${CONCUR_DOCS_OUT}/man-doxygen
    COMMAND ${DOXYGEN_EXECUTABLE} ${CONCUR_DOCS_OUT}/Doxyfile
    COMMAND ${CMAKE_COMMAND} -DIN=${CONCUR_DOCS_OUT}/man-doxygen/man3
            -DOUT=${CONCUR_DOCS_OUT}/man/man3
            -P ${PROJECT_SOURCE_DIR}/cmake/man_pages.cmake
    COMMAND ${CMAKE_COMMAND} -E touch ${CONCUR_DOCS_OUT}/docs.stamp
    DEPENDS ${concur_public_headers}
            ${PROJECT_SOURCE_DIR}/scripts/doc_filter.py
            ${PROJECT_SOURCE_DIR}/docs/reference/mainpage.dox
            ${PROJECT_SOURCE_DIR}/docs/reference/Doxyfile.in
            ${PROJECT_SOURCE_DIR}/cmake/man_pages.cmake
    COMMENT "Doxygen: the HTML reference and the man pages"
    VERBATIM)
  add_custom_target(docs ALL DEPENDS ${CONCUR_DOCS_OUT}/docs.stamp)
  install(DIRECTORY ${CONCUR_DOCS_OUT}/man/man3
          DESTINATION ${CMAKE_INSTALL_MANDIR})
  if(CONCUR_TOOLS)
    install(FILES ${CONCUR_DOCS_OUT}/man/man1/concur.1
            DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  endif()
  install(DIRECTORY ${CONCUR_DOCS_OUT}/html DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()
