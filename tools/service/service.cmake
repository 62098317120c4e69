# The local service (`concur serve`): a static library the `concur` tool,
# the network examples and the tests link.  Included by tools/CMakeLists.txt.
# Needs cJSON (libcjson-dev) and a request parser, one of (svc_parse.h):
#   llhttp       Node's parser: a system library (Debian 13's
#                libllhttp-dev: its CMake config, pkg-config libllhttp, or
#                libllhttp + llhttp.h), else the C sources Debian 12's
#                node-llhttp ships (CONCUR_LLHTTP_SOURCE_DIR), built here
#                into a small static library of their own;
#   http-parser  Node's older parser (libhttp-parser-dev), archived since
#                2020: the fallback.
# CONCUR_HTTP_PARSER=auto takes the first found in that order; llhttp or
# http-parser insists on one.  The service is built once per parser found
# (concur_service_llhttp, concur_service_http_parser: the tests run on
# each); concur_service is the chosen one's.
set(CONCUR_HTTP_PARSER auto CACHE STRING
  "request parser of concur serve: auto, llhttp or http-parser")
set_property(CACHE CONCUR_HTTP_PARSER PROPERTY STRINGS auto llhttp http-parser)
if(NOT CONCUR_HTTP_PARSER MATCHES "^(auto|llhttp|http-parser)$")
  message(FATAL_ERROR "CONCUR_HTTP_PARSER must be auto, llhttp or http-parser")
endif()
set(CONCUR_LLHTTP_SOURCE_DIR /usr/share/llhttp CACHE PATH
  "llhttp's C sources (llhttp.c, api.c, http.c), used without a system llhttp")
set(CONCUR_LLHTTP_INCLUDE_DIR /usr/share/include/llhttp CACHE PATH
  "the folder of the llhttp.h that goes with CONCUR_LLHTTP_SOURCE_DIR")

find_library(CJSON_LIB cjson REQUIRED)
find_path(CJSON_INCLUDE cjson/cJSON.h REQUIRED)
if(NOT TARGET cjson)
  add_library(cjson UNKNOWN IMPORTED GLOBAL)
  set_target_properties(cjson PROPERTIES IMPORTED_LOCATION ${CJSON_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${CJSON_INCLUDE})
endif()

# llhttp: the first of a system library and the packaged sources.
set(concur_llhttp "")   # how it was found, for the summary
if(NOT TARGET concur_llhttp)
  find_package(llhttp CONFIG QUIET)
  foreach(t llhttp::llhttp llhttp::llhttp_shared llhttp::llhttp_static)
    if(NOT concur_llhttp AND TARGET ${t})
      add_library(concur_llhttp INTERFACE)
      target_link_libraries(concur_llhttp INTERFACE ${t})
      set(concur_llhttp "system library (CMake config ${t})")
    endif()
  endforeach()
  if(NOT concur_llhttp)
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(LLHTTP QUIET IMPORTED_TARGET libllhttp)
    endif()
    if(LLHTTP_FOUND)
      add_library(concur_llhttp INTERFACE)
      target_link_libraries(concur_llhttp INTERFACE PkgConfig::LLHTTP)
      set(concur_llhttp "system library (pkg-config libllhttp ${LLHTTP_VERSION})")
    endif()
  endif()
  if(NOT concur_llhttp)
    find_library(LLHTTP_LIB llhttp)
    find_path(LLHTTP_INCLUDE llhttp.h)
    if(LLHTTP_LIB AND LLHTTP_INCLUDE)
      add_library(concur_llhttp INTERFACE)
      target_link_libraries(concur_llhttp INTERFACE ${LLHTTP_LIB})
      target_include_directories(concur_llhttp INTERFACE ${LLHTTP_INCLUDE})
      set(concur_llhttp "system library (${LLHTTP_LIB})")
    endif()
  endif()
  if(NOT concur_llhttp)
    set(s ${CONCUR_LLHTTP_SOURCE_DIR})
    if(EXISTS ${s}/llhttp.c AND EXISTS ${s}/api.c AND EXISTS ${s}/http.c
       AND EXISTS ${CONCUR_LLHTTP_INCLUDE_DIR}/llhttp.h)
      # Someone else's generated C: none of our warnings or -Werror (it
      # does not link concur_flags); position-independent, so that it may
      # go into a shared object too.  The sanitizer builds still
      # instrument it (their flags are added below).
      add_library(concur_llhttp STATIC ${s}/llhttp.c ${s}/api.c ${s}/http.c)
      target_include_directories(concur_llhttp SYSTEM PUBLIC
        ${CONCUR_LLHTTP_INCLUDE_DIR})
      target_compile_options(concur_llhttp PRIVATE -w)
      set_target_properties(concur_llhttp PROPERTIES
        POSITION_INDEPENDENT_CODE ON C_CLANG_TIDY "")
      if(NOT CONCUR_SANITIZE STREQUAL "")
        get_target_property(san concur_flags INTERFACE_COMPILE_OPTIONS)
        list(FILTER san INCLUDE REGEX "^-f(sanitize|no-sanitize|no-omit)")
        target_compile_options(concur_llhttp PRIVATE ${san})
      endif()
      set(concur_llhttp "sources in ${s}")
    endif()
  endif()
endif()

# http-parser: the system library.
find_library(HTTP_PARSER_LIB http_parser)
find_path(HTTP_PARSER_INCLUDE http_parser.h)
if(HTTP_PARSER_LIB AND HTTP_PARSER_INCLUDE AND NOT TARGET http_parser)
  add_library(http_parser UNKNOWN IMPORTED GLOBAL)
  set_target_properties(http_parser PROPERTIES IMPORTED_LOCATION ${HTTP_PARSER_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${HTTP_PARSER_INCLUDE})
endif()

# The parsers found (in the order auto prefers), and the one chosen.
set(CONCUR_SERVICE_PARSERS "")
if(TARGET concur_llhttp)
  list(APPEND CONCUR_SERVICE_PARSERS llhttp)
endif()
if(TARGET http_parser)
  list(APPEND CONCUR_SERVICE_PARSERS http-parser)
endif()
if(CONCUR_HTTP_PARSER STREQUAL "auto")
  if(NOT CONCUR_SERVICE_PARSERS)
    message(FATAL_ERROR "concur serve needs llhttp (Debian 12: node-llhttp; "
      "Debian 13: libllhttp-dev) or http-parser (libhttp-parser-dev)")
  endif()
  list(GET CONCUR_SERVICE_PARSERS 0 concur_service_parser)
elseif(CONCUR_HTTP_PARSER IN_LIST CONCUR_SERVICE_PARSERS)
  set(concur_service_parser ${CONCUR_HTTP_PARSER})
else()
  message(FATAL_ERROR "CONCUR_HTTP_PARSER=${CONCUR_HTTP_PARSER}, but it was "
    "not found (llhttp: a system libllhttp or CONCUR_LLHTTP_SOURCE_DIR; "
    "http-parser: libhttp-parser-dev)")
endif()
if(concur_llhttp)
  message(STATUS "concur serve: llhttp found: ${concur_llhttp}")
else()
  message(STATUS "concur serve: llhttp not found")
endif()
if(TARGET http_parser)
  message(STATUS "concur serve: http-parser found: ${HTTP_PARSER_LIB}")
else()
  message(STATUS "concur serve: http-parser not found")
endif()
message(STATUS "concur serve: request parser ${concur_service_parser} "
  "(CONCUR_HTTP_PARSER=${CONCUR_HTTP_PARSER})")

# Everything but the parser's file, compiled once; then one library per
# parser found.
file(GLOB concur_service_sources CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(FILTER concur_service_sources EXCLUDE REGEX "/parse_[^/]*\\.c$")
add_library(concur_service_common OBJECT ${concur_service_sources})
target_include_directories(concur_service_common PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(concur_service_common
  PUBLIC concur_static cjson m
  PRIVATE concur_flags)
foreach(p ${CONCUR_SERVICE_PARSERS})
  string(REPLACE "-" "_" id ${p})   # http-parser -> http_parser
  add_library(concur_service_${id} STATIC
    $<TARGET_OBJECTS:concur_service_common>
    ${CMAKE_CURRENT_LIST_DIR}/parse_${id}.c)
  target_include_directories(concur_service_${id} PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(concur_service_${id}
    PUBLIC concur_static cjson m
    PRIVATE concur_flags)
  if(p STREQUAL "llhttp")
    target_link_libraries(concur_service_${id} PUBLIC concur_llhttp)
  else()
    target_link_libraries(concur_service_${id} PUBLIC http_parser)
  endif()
endforeach()
string(REPLACE "-" "_" id ${concur_service_parser})
add_library(concur_service ALIAS concur_service_${id})
# For tools/concur and tests/service (other directories' scopes).
set(CONCUR_SERVICE_PARSERS "${CONCUR_SERVICE_PARSERS}" CACHE INTERNAL
  "the request parsers concur serve was built with")
set(CONCUR_SERVICE_PARSER ${concur_service_parser} CACHE INTERNAL
  "the one concur_service (and the concur command) uses")
