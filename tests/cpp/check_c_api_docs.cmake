# check_c_api_docs.cmake (cmake -P): docs/c-api.md, the C contract users
# read, names everything include/wq.h declares: every wq_* and WQ_* name of
# the header (functions, types, fields' types, constants, version macros)
# must appear in it as a word. Fails listing the names it lacks, so a name
# added to the header without its documentation fails CTest.
# Inputs: HEADER (include/wq.h), DOC (docs/c-api.md).
cmake_minimum_required(VERSION 3.16)
foreach(input HEADER DOC)
  if(NOT EXISTS "${${input}}")
    message(FATAL_ERROR "${input} not found: '${${input}}'")
  endif()
endforeach()
file(READ "${HEADER}" header)
file(READ "${DOC}" doc)

# The include guard is the header's own business.
string(REGEX MATCH "#ifndef ([A-Za-z0-9_]+)" guard "${header}")
set(guard "${CMAKE_MATCH_1}")

string(REGEX MATCHALL "(wq|WQ)_[A-Za-z0-9_]+" names "${header}")
list(REMOVE_DUPLICATES names)
list(REMOVE_ITEM names "${guard}")
list(SORT names)
list(LENGTH names count)
if(count LESS 40)
  message(FATAL_ERROR "only ${count} wq_/WQ_ names found in ${HEADER}: is it the generated header?")
endif()

set(missing "")
foreach(name IN LISTS names)
  if(NOT doc MATCHES "(^|[^A-Za-z0-9_])${name}([^A-Za-z0-9_]|$)")
    list(APPEND missing "${name}")
  endif()
endforeach()
if(missing)
  list(LENGTH missing n)
  string(REPLACE ";" "\n  " missing "${missing}")
  message(FATAL_ERROR "${DOC} does not mention ${n} of the ${count} names of ${HEADER}:\n  ${missing}\n"
                      "Document them there (the C contract users read).")
endif()
message(STATUS "all ${count} wq_/WQ_ names of wq.h are in ${DOC}")
