# The local service (`concur serve`): a static library the `concur` tool,
# the network examples and the tests link.  Included by tools/CMakeLists.txt.
# Needs Node's http-parser (libhttp-parser-dev) and cJSON (libcjson-dev).
find_library(HTTP_PARSER_LIB http_parser REQUIRED)
find_path(HTTP_PARSER_INCLUDE http_parser.h REQUIRED)
find_library(CJSON_LIB cjson REQUIRED)
find_path(CJSON_INCLUDE cjson/cJSON.h REQUIRED)
if(NOT TARGET http_parser)
  add_library(http_parser UNKNOWN IMPORTED GLOBAL)
  set_target_properties(http_parser PROPERTIES IMPORTED_LOCATION ${HTTP_PARSER_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${HTTP_PARSER_INCLUDE})
endif()
if(NOT TARGET cjson)
  add_library(cjson UNKNOWN IMPORTED GLOBAL)
  set_target_properties(cjson PROPERTIES IMPORTED_LOCATION ${CJSON_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${CJSON_INCLUDE})
endif()

file(GLOB concur_service_sources CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/*.c)
add_library(concur_service STATIC ${concur_service_sources})
target_include_directories(concur_service PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(concur_service
  PUBLIC concur_static http_parser cjson m
  PRIVATE concur_flags)
