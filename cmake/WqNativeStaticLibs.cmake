# WqNativeStaticLibs.cmake - the system libraries a Rust static library needs.
#
#   wq_native_static_libs(<rustc> <out-var>)
#
# Asks rustc itself (`rustc --print native-static-libs`) instead of keeping a
# hand-typed list: it builds an empty staticlib with the same compiler and
# target and turns "-lgcc_s -lutil ..." into a CMake list "gcc_s;util;...".
# The real library's list is also written at build time next to the cargo
# output (native-static-libs.txt) and a test checks it needs nothing more.
function(wq_native_static_libs rustc out_var)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/native-static-libs-probe")
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/probe.rs" "// empty: only the standard library's needs are printed\n")
  execute_process(
    COMMAND "${rustc}" --crate-type staticlib --crate-name wq_probe --edition 2021
            --print native-static-libs -o "${dir}/libwq_probe.a" "${dir}/probe.rs"
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "wq: `rustc --print native-static-libs` failed (${rc}):\n${err}")
  endif()
  if(NOT "${out}\n${err}" MATCHES "native-static-libs: ([^\n]*)")
    message(FATAL_ERROR "wq: rustc printed no native-static-libs line:\n${out}\n${err}")
  endif()
  string(STRIP "${CMAKE_MATCH_1}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(libs "")
  foreach(flag IN LISTS flags)
    if(flag MATCHES "^-l(.+)$")
      list(APPEND libs "${CMAKE_MATCH_1}")
    elseif(NOT flag STREQUAL "")
      list(APPEND libs "${flag}")
    endif()
  endforeach()
  set(${out_var} "${libs}" PARENT_SCOPE)
endfunction()
