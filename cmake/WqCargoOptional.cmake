# WqCargoOptional.cmake - runs one cargo build whose failure must not fail
# the CMake build (the `wq` CLI, which may still be a stub), then copies the
# binary it made. Run as `cmake -P` with:
#   CARGO, MANIFEST, TARGET_DIR, PROFILE_ARGS (;-list), PACKAGE, BIN,
#   PROFILE_DIR, DEST (file to copy the binary to), STAMP
# A failure prints a warning and leaves no stamp, so the next build retries.
set(args build --manifest-path "${MANIFEST}" --package "${PACKAGE}" --bin "${BIN}" ${PROFILE_ARGS})
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env "CARGO_TARGET_DIR=${TARGET_DIR}" "${CARGO}" ${args}
  RESULT_VARIABLE rc)
set(built "${TARGET_DIR}/${PROFILE_DIR}/${BIN}")
if(NOT rc EQUAL 0 OR NOT EXISTS "${built}")
  message(WARNING "wq: `cargo build --package ${PACKAGE}` failed (${rc}); "
                  "the ${BIN} binary is not built or installed this time.")
  file(REMOVE "${DEST}" "${STAMP}")
  return()
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${built}" "${DEST}")
file(TOUCH "${STAMP}")
