# man_pages.cmake - turns Doxygen's man3 output into concur's man pages.
#
#   cmake -DIN=<doxygen man3 dir> -DOUT=<man3 dir to fill> -P man_pages.cmake
#
# Doxygen names a header's page after the file ("queue.h.3", title
# "concur/queue.h") and writes a one-line link page (".so man3/queue.h.3")
# for every documented name, struct members included ("timeout.3").  What
# is installed instead:
#   concur.3              the umbrella header concur.h: the overview
#   concur-<layer>.3      one page per header: concur-queue.3, concur-aio.3...
#   cc_<name>.3           a page per option/result struct (cc_pool_opts.3)
#   cc_*.3, CC_*.3        links for every public function, type, macro and
#                         enum value, to the page that documents it
# Link pages of struct members and anonymous enums ("@0.3") are dropped:
# names such as timeout(3) or body(3) would shadow other packages' pages.
# Fails (FATAL_ERROR) when a header page is missing, so a broken Doxygen run
# cannot install an incomplete set.
if(NOT IN OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DIN=<dir> -DOUT=<dir> -P man_pages.cmake")
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})

# The page a Doxygen page name maps to ("" for pages not installed).
function(page_name doxy result)
  if(doxy STREQUAL "concur.h.3")
    set(${result} "concur.3" PARENT_SCOPE)
  elseif(doxy MATCHES "^([a-z]+)\\.h\\.3$")
    set(${result} "concur-${CMAKE_MATCH_1}.3" PARENT_SCOPE)
  elseif(doxy MATCHES "^(cc|CC)_[A-Za-z0-9_]+\\.3$"
         AND NOT doxy MATCHES "^CC_(API|PRINTF)\\.3$")
    set(${result} "${doxy}" PARENT_SCOPE)
  else()
    set(${result} "" PARENT_SCOPE)
  endif()
endfunction()

file(GLOB pages RELATIVE ${IN} ${IN}/*.3)
set(headers 0)
foreach(p IN LISTS pages)
  page_name(${p} name)
  if(name STREQUAL "")
    continue()
  endif()
  file(READ ${IN}/${p} text)
  if(text MATCHES "^\\.so man3/([^\n]+)\n?$")
    # A link: keep it only when its target is installed too.
    page_name(${CMAKE_MATCH_1} target)
    if(target STREQUAL "" OR NOT p MATCHES "^(cc|CC)_")
      continue()
    endif()
    file(WRITE ${OUT}/${name} ".so man3/${target}\n")
    continue()
  endif()
  if(p MATCHES "\\.h\\.3$")
    math(EXPR headers "${headers} + 1")
    # Title and NAME line: "concur/queue.h" becomes "concur-queue".
    string(REGEX REPLACE "\\.3$" "" title ${name})
    string(REGEX REPLACE "^\\.TH \"[^\"]*\"" ".TH \"${title}\"" text "${text}")
    string(REGEX REPLACE "\n\\.SH NAME\n[^ ]+ " "\n.SH NAME\n${title} " text "${text}")
  endif()
  # Doxygen prints "text" as 'text' and does not guard a line that then
  # starts with the quote, which troff takes for a request: guard it.
  string(REGEX REPLACE "\n'" "\n\\\\&'" text "${text}")
  # A backslash of the text comes out as "\\", which is one backslash in
  # running text but an escape again inside a macro's quoted argument
  # (.RI "... '\\n' ..." reads a number register): "\e" prints one
  # backslash in both.
  string(REPLACE "\\\\" "\\e" text "${text}")
  file(WRITE ${OUT}/${name} "${text}")
endforeach()
if(headers LESS 11)
  message(FATAL_ERROR "man_pages.cmake: only ${headers} header pages in ${IN}")
endif()
