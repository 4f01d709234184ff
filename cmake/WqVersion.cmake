# WqVersion.cmake - reads the crate version from Cargo.toml, the one place
# where wq's version is written (wq_version(), WQ_VERSION in wq.h and the
# CMake package version all derive from it).
#
#   wq_read_cargo_version(<Cargo.toml> <out-var>)
#
# Sets <out-var> to "MAJOR.MINOR.PATCH" (a pre-release or build suffix is
# dropped: CMake versions are numeric) and <out-var>_FULL to the version as
# written.
function(wq_read_cargo_version manifest out_var)
  file(READ "${manifest}" text)
  string(FIND "${text}" "[package]" start)
  if(start EQUAL -1)
    message(FATAL_ERROR "wq: no [package] section in ${manifest}")
  endif()
  string(SUBSTRING "${text}" ${start} -1 text)
  string(LENGTH "[package]" header_len)
  string(SUBSTRING "${text}" ${header_len} -1 text)
  # Only the [package] table: cut at the next table header.
  string(FIND "${text}" "\n[" next)
  if(NOT next EQUAL -1)
    string(SUBSTRING "${text}" 0 ${next} text)
  endif()
  if(NOT text MATCHES "\nversion[ \t]*=[ \t]*\"(([0-9]+)\\.([0-9]+)\\.([0-9]+)[^\"]*)\"")
    message(FATAL_ERROR "wq: no literal version = \"X.Y.Z\" in [package] of ${manifest}")
  endif()
  set(${out_var} "${CMAKE_MATCH_2}.${CMAKE_MATCH_3}.${CMAKE_MATCH_4}" PARENT_SCOPE)
  set(${out_var}_FULL "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()
